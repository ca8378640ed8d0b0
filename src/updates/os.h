/* SPDX-License-Identifier: MIT */
#pragma once

/* The OS ballast runs on, from os-release(5), and the shell-style KEY=value lines that os-release and Flatcar's
 * update.conf are made of. Pure: text in, values out. The rule of src/updates everywhere: on doubt, no
 * reboot; parsers refuse what they do not understand (-EINVAL and, where a char **ret_error is offered, a
 * sentence that says what and where; the caller frees it). */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

/* ---- the OS ---- */

typedef enum OsKind {
        OS_OTHER,               /* unmanaged: ballast reports and touches nothing */
        OS_FLATCAR,             /* ID=flatcar */
        OS_CONTAINER_LINUX,     /* ID=coreos: CoreOS Container Linux, Flatcar's predecessor (same update.conf) */
        OS_FEDORA_COREOS,       /* ID=fedora and VARIANT_ID=coreos */
} OsKind;

typedef struct OsInfo {
        OsKind kind;
        char *id;               /* ID=, "linux" when missing (os-release(5)) */
        char *variant_id;       /* VARIANT_ID= or NULL */
        char *version_id;       /* VERSION_ID= or NULL: "3815.2.0" on Flatcar, "39" on Fedora CoreOS */
        /* The build version update policy compares with max_version: VERSION_ID on Flatcar and Container
         * Linux, OSTREE_VERSION ("39.20240210.3.0") on Fedora CoreOS. NULL when unknown. Neither os-release
         * names the channel or stream: Flatcar's is GROUP= in update.conf (updates_parse_update_conf()),
         * Fedora CoreOS's is the booted deployment's "fedora-coreos.stream" metadata (rpm-ostree). */
        char *version;
        char *pretty_name;      /* PRETTY_NAME= or NULL */
} OsInfo;

/* Reads os-release text (/etc/os-release, else /usr/lib/os-release). Shell-style KEY=value lines, values
 * unquoted, "double-quoted" (with \" \\ \$ \` escapes) or 'single-quoted', '#' comments. A line that is none of
 * these is refused (-EINVAL), so is a control character in a value. */
int updates_detect_os(const char *os_release_text, OsInfo *ret, char **ret_error);
void updates_os_info_done(OsInfo *info);
const char *updates_os_kind_to_string(OsKind k); /* "flatcar", "container-linux", "fedora-coreos", "other" */

/* Dotted numeric versions ("3815.2.0", "39.20240210.3.0"); missing components count as 0 ("3815.2" ==
 * "3815.2.0"). *ret is <0, 0 or >0. Anything but digits and single dots is -EINVAL. */
int updates_version_compare(const char *a, const char *b, int *ret);

/* ---- shell-style KEY=value lines (os-release, update.conf) ---- */

/* Parses one line, without its newline. Returns 1 and the key (and value, unquoted) of an assignment, 0 for a
 * blank or comment line, -EINVAL with *ret_why for anything else. Stricter than a shell where the shell would
 * do more than assign a literal: expansions, command separators and concatenated quotes are refused. */
int updates_parse_env_line(const char *line, size_t len, char **ret_key, char **ret_value, const char **ret_why);

/* Calls f for every line of text, with its 1-based number; stops at the first negative return. */
typedef int (*UpdatesLineFunc)(const char *line, size_t len, unsigned no, void *userdata);
int updates_for_each_line(const char *text, UpdatesLineFunc f, void *userdata);
