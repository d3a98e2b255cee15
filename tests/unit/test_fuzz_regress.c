/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

/*
 * Replays the fuzzers' inputs through the very functions libFuzzer runs
 * (fuzz/harness.h), in the normal gcc builds, ASan included: every seed of
 * fuzz/corpus/<harness>/ and every input that once crashed, kept in
 * fuzz/regress/<harness>/. A harness aborts when an invariant breaks, which
 * fails the test; ASan reports fail it through ctest.
 */

typedef int (*harness_fn)(const uint8_t *data, size_t size);

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(not(zero(ptr, f)), "%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    cr_assert(not(zero(ptr, buf)));
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert(not(zero(ptr, buf)));
        }
    }
    cr_assert(eq(int, ferror(f), 0), "%s: read error", path);
    fclose(f);
    *len = n;
    return buf;
}

/* Feeds every file of fuzz/<kind>/<name>/ to fn; returns how many (0 if no such folder). */
static size_t replay(const char *kind, const char *name, harness_fn fn)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fuzz/%s/%s", PW_SOURCE_DIR, kind, name);
    DIR *d = opendir(dir);
    if (d == NULL) {
        cr_assert(eq(int, errno, ENOENT), "%s: %s", dir, strerror(errno));
        return 0;
    }
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        unsigned char *data = read_all(path, &len);
        /* Named on stderr first, so a crash says which input it was. */
        fprintf(stderr, "replay %s\n", path);
        cr_assert(eq(int, fn(data, len), 0), "%s", path);
        free(data);
        count++;
    }
    closedir(d);
    return count;
}

static void replay_all(const char *name, harness_fn fn)
{
    size_t seeds = replay("corpus", name, fn);
    replay("regress", name, fn);
    /* The seed corpus is what CI fuzzes from; an empty one would make this test vacuous. */
    cr_assert(gt(sz, seeds, 0), "fuzz/corpus/%s is empty", name);
}

TestSuite(fuzz_regress, .timeout = 60.0);

Test(fuzz_regress, msg_inputs_decode_or_fail_cleanly)
{
    replay_all("msg", pw_fuzz_msg);
}

Test(fuzz_regress, bureau_inputs_decode_or_fail_cleanly)
{
    replay_all("bureau", pw_fuzz_bureau);
}

Test(fuzz_regress, catalog_inputs_parse_or_fail_cleanly)
{
    replay_all("catalog", pw_fuzz_catalog);
}

Test(fuzz_regress, datafile_inputs_parse_or_fail_cleanly)
{
    replay_all("datafile", pw_fuzz_datafile);
}

Test(fuzz_regress, archive_inputs_read_or_fail_cleanly)
{
    replay_all("archive", pw_fuzz_archive);
}
