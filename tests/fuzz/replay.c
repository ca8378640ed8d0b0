/* SPDX-License-Identifier: MIT */
/* The replay driver: main() for a harness in builds without libFuzzer. It feeds LLVMFuzzerTestOneInput() every
 * file named on the command line (directories: every file in them, sorted) and prints one TAP line per file.
 * Without arguments it replays the harness's seed corpus, $top_srcdir/tests/fuzz/corpus/TARGET/, where the
 * program is fuzz-TARGET. An invariant a file breaks aborts with the file named on the line before. */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static unsigned n_tests, n_failed;

static int replay_file(const char *path) {
        FILE *f = fopen(path, "re");
        uint8_t *data = NULL;
        size_t size = 0, allocated = 0;

        if (!f) {
                printf("not ok %u - %s: %s\n", ++n_tests, path, strerror(errno));
                n_failed++;
                return -errno;
        }
        for (;;) {
                if (size == allocated) {
                        uint8_t *p = realloc(data, allocated ? allocated * 2 : 4096);
                        if (!p)
                                abort();
                        data = p;
                        allocated = allocated ? allocated * 2 : 4096;
                }
                size_t k = fread(data + size, 1, allocated - size, f);
                if (k == 0)
                        break;
                size += k;
        }
        if (ferror(f)) {
                printf("not ok %u - %s: read error\n", ++n_tests, path);
                n_failed++;
                fclose(f);
                free(data);
                return -EIO;
        }
        fclose(f);
        /* a copy of exactly size bytes, so that ASan sees any read past the input */
        uint8_t *exact = malloc(size ? size : 1);
        if (!exact)
                abort();
        memcpy(exact, data, size);
        free(data);
        printf("# %s (%zu bytes)\n", path, size);
        fflush(stdout);
        (void) LLVMFuzzerTestOneInput(exact, size);
        free(exact);
        printf("ok %u - %s\n", ++n_tests, path);
        fflush(stdout);
        return 0;
}

static int by_name(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void replay_path(const char *path) {
        struct stat st;
        DIR *d;
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;

        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
                (void) replay_file(path);
                return;
        }
        d = opendir(path);
        if (!d) {
                printf("not ok %u - %s: %s\n", ++n_tests, path, strerror(errno));
                n_failed++;
                return;
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                names = realloc(names, (n + 1) * sizeof(char *));
                if (!names || asprintf(&names[n], "%s/%s", path, de->d_name) < 0)
                        abort();
                n++;
        }
        closedir(d);
        qsort(names, n, sizeof(char *), by_name);
        for (size_t i = 0; i < n; i++) {
                (void) replay_file(names[i]);
                free(names[i]);
        }
        free(names);
}

int main(int argc, char *argv[]) {
        if (argc > 1)
                for (int i = 1; i < argc; i++)
                        replay_path(argv[i]);
        else {
                const char *srcdir = getenv("top_srcdir") ?: ".";
                const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
                char dir[PATH_MAX];

                if (strncmp(prog, "fuzz-", 5) != 0) {
                        printf("Bail out! cannot tell the target from the program name %s\n", prog);
                        return 1;
                }
                snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", srcdir, prog + 5);
                replay_path(dir);
                /* an empty corpus would make this test pass without testing anything */
                if (n_tests == 0) {
                        printf("not ok 1 - no seed files in %s\n", dir);
                        n_tests = n_failed = 1;
                }
        }
        printf("1..%u\n", n_tests);
        return n_failed ? 1 : 0;
}
