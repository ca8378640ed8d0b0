/* SPDX-License-Identifier: MIT */
#pragma once

/* Flatcar (and CoreOS Container Linux): update.conf, the file ballast owns there. Pure: paths and text in, text
 * out (updates_update_conf_path() only looks at the root it is given). */

#include <stdbool.h>

/* ---- Flatcar: update.conf ---- */

/* The file ballast owns: /etc/flatcar/update.conf, preferred; when /etc/flatcar is not a directory, the target
 * of an /etc/coreos symlink, or a real /etc/coreos directory (Container Linux); when neither exists,
 * /etc/flatcar/update.conf (to be created). Symlinks are followed one level, inside root, and may not contain
 * "..". *ret is the path under root (root NULL or "/" for the host). -ENOTDIR when a candidate is neither a
 * directory nor a symlink to one, -ELOOP for a symlink ballast will not follow. */
int updates_update_conf_path(const char *root, char **ret);

/* Renders update.conf from its current text (NULL or "" when there is none): GROUP=group (NULL: leave GROUP as
 * it is), SERVER=server (NULL: leave SERVER as it is) and REBOOT_STRATEGY=off, so that locksmithd never
 * reboots on its own. Lines with those keys are replaced where they are (every occurrence, indentation kept,
 * value written unquoted: both need no quoting and every update.conf reader takes unquoted values); missing
 * keys are appended after a one-line comment; every other line, comment and blank line stays byte for byte.
 * Idempotent: rendering the result again gives the same text and *ret_changed = false.
 * -EINVAL when the group (letters, digits, '.', '_', '-'; a UUID fits) or the server (an http:// or https://
 * URL of characters that need no shell quoting) is refused, or when a line of the old text is not a
 * KEY=value assignment, a comment or blank (ballast does not rewrite a file it does not understand). */
int updates_render_update_conf(const char *old_text, const char *group, const char *server, char **ret_new_text,
                               bool *ret_changed, char **ret_error);

/* The value of the last KEY= line (shell semantics), unquoted. -ENOENT when the key is not set, -EINVAL when
 * the text does not parse. */
int updates_parse_update_conf(const char *text, const char *key, char **ret_value, char **ret_error);
