/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "harness.h"
#include "pw/error.h"

/* pw_archive_read() reads a path: every input goes to the one file of this process. */
static char path[96];

static void remove_file(void)
{
    unlink(path);
}

static const char *input_file(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%.40s/pw-fuzz-archive-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0) {
            perror("fuzz_archive: mkstemp");
            abort();
        }
        close(fd);
        atexit(remove_file);
    }
    FILE *f = fopen(path, "wb");
    PW_FUZZ_CHECK(f != NULL);
    PW_FUZZ_CHECK(fwrite(data, 1, size, f) == size);
    PW_FUZZ_CHECK(fclose(f) == 0);
    return path;
}

static int count(void *ctx, const pw_msg_t *rec)
{
    PW_FUZZ_CHECK(rec->type == PW_MSG_RECORD);
    ++*(uint64_t *)ctx;
    return 0;
}

static void check_read(const char *file, const pw_catalog_t *cat)
{
    pw_archive_info_t info;
    uint64_t n = 0;
    char err[8192] = "";
    int rc = pw_archive_read(file, cat, count, &n, &info, err, sizeof err);
    if (rc != 0) {
        PW_FUZZ_CHECK(rc == PW_EDATA || rc == PW_EINCOMPAT || rc == -ENOMEM);
        PW_FUZZ_CHECK(rc != PW_EINCOMPAT || cat != NULL);
        /* Every complaint about the file names it first: "file: ..." or "file:line: ...". */
        PW_FUZZ_CHECK(rc == -ENOMEM || strncmp(err, file, strlen(file)) == 0);
        pw_archive_info_clear(&info);
        return;
    }
    PW_FUZZ_CHECK(info.records == n);
    if (info.format == PW_ARCHIVE_CSV)
        PW_FUZZ_CHECK(info.version == 0 && info.nplans == 0 && !info.has_digest);
    else
        PW_FUZZ_CHECK(info.version >= 1 && info.version <= PW_ARCHIVE_VERSION);
    PW_FUZZ_CHECK(info.version != 1 || info.nplans == 0);
    /* The plans come in file order, the first before any record. */
    for (size_t i = 0; i < info.nplans; i++) {
        const pw_archive_plan_t *p = &info.plans[i];
        PW_FUZZ_CHECK(p->cat != NULL && p->cat->text_len <= PW_ARCHIVE_PLAN_MAX);
        PW_FUZZ_CHECK(p->time_ms >= 0 && p->before <= n);
        PW_FUZZ_CHECK(i == 0 ? p->before == 0 : p->before >= info.plans[i - 1].before);
    }
    const pw_archive_plan_t *last = info.nplans ? &info.plans[info.nplans - 1] : NULL;
    PW_FUZZ_CHECK(!last || !info.has_digest || memcmp(last->cat->digest, info.digest, 32) == 0);
    pw_archive_info_clear(&info);
    PW_FUZZ_CHECK(info.plans == NULL && info.nplans == 0);
}

int pw_fuzz_archive(const uint8_t *data, size_t size)
{
    const char *file = input_file(data, size);
    check_read(file, NULL);
    check_read(file, pw_fuzz_wuhan());
    return 0;
}
