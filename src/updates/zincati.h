/* SPDX-License-Identifier: MIT */
#pragma once

/* Fedora CoreOS: the Zincati drop-in ballast owns, and the id Zincati uses for FleetLock. Pure. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Fedora CoreOS: a Zincati drop-in ---- */

#define UPDATES_ZINCATI_DROPIN "/etc/zincati/config.d/90-ballast.toml"

/* The TOML text of UPDATES_ZINCATI_DROPIN: [identity] group (omitted when NULL), [updates] enabled and, when
 * enabled, strategy = "fleet_lock" with [updates.fleet_lock] base_url (mandatory then): Zincati asks
 * ballastd's FleetLock endpoint before it finalizes, so ballast's window, lock and drain decide.
 *
 * What ballast can and cannot pin on Fedora CoreOS: Zincati has no stream key. The stream is the one the booted
 * deployment was built for (its "fedora-coreos.stream" commit metadata); changing it is an `rpm-ostree rebase`,
 * not configuration, and [cincinnati] base_url only says where the update graph comes from. So the stream
 * given here is only recorded in a comment. ballast pins by refusing: its FleetLock endpoint denies
 * finalization when the staged deployment (from rpm-ostree) has another stream or a version above max_version,
 * which keeps the node on its version; Zincati retries and the status says why. A hard pin would need a
 * Cincinnati proxy that filters the graph (not done). Strings are validated (group: FleetLock's
 * ^[a-zA-Z0-9.-]+$; stream: lowercase letters, digits, '.', '_', '-'; base_url: http(s) URL) and TOML-escaped. */
int updates_render_zincati_dropin(const char *stream, bool enabled, const char *fleet_lock_base_url,
                                  const char *group, char **ret);

/* A TOML basic string, quotes included, with '"', '\\' and control characters escaped. */
char *updates_toml_quote(const char *s);

/* ---- Fedora CoreOS: the stream a deployment follows ---- */

/* The stream of a deployment from what rpm-ostree says of it: its "origin" refspec, "fedora:fedora/x86_64/coreos/
 * stable" (REMOTE:fedora/ARCH/coreos/STREAM, the remote optional), or, on hosts that boot container images, its
 * "container-image-reference", "ostree-remote-registry:fedora:quay.io/fedora/fedora-coreos:stable" (the image
 * tag). A reference without a stream (a digest, a checksum, another layout) is -EINVAL; so is a stream that is
 * not lowercase letters, digits, '.', '_', '-'. */
int updates_fcos_stream_from_origin(const char *origin, char **ret);

/* ---- Zincati's node id ---- */

/* The id Zincati uses for FleetLock, so that ballast and Zincati nodes share one lock server: systemd's
 * app-specific machine ID (sd_id128_get_machine_app_specific()) for the app ID below, as 32 lowercase hex
 * digits. */
#define UPDATES_ZINCATI_APP_ID "de35106b6ec24688b63afddaa156679b"

/* This machine's id for Zincati. For the host (root NULL or "/"): libsystemd's
 * sd_id128_get_machine_app_specific(), which is what Zincati itself calls. Under another root (ballastd --root, a
 * test's fake root with its own etc/machine-id, which libsystemd cannot be pointed at): that file through
 * updates_zincati_node_id(), the same derivation. -EINVAL when the file holds no machine id; the read's errno
 * when it cannot be read. */
int updates_zincati_machine_node_id(const char *root, char ret[static 33]);

/* The derivation for a given machine id (32 hex digits, without the newline): systemd's, by hand, since
 * libsystemd only derives from the host's own /etc/machine-id. The fallback for another root. */
int updates_zincati_node_id(const char *machine_id, char ret[static 33]);

/* SHA-256 and HMAC-SHA256 (RFC 2104), for the fallback above; exposed for their tests. */
void updates_sha256(const void *data, size_t n, uint8_t ret[static 32]);
void updates_hmac_sha256(const void *key, size_t key_size, const void *data, size_t n, uint8_t ret[static 32]);
