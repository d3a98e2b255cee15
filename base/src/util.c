/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE /* getrandom */
#define _XOPEN_SOURCE 700 /* nftw */
#include "pw/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t pw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pw_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pw_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t pw_random_u64(void)
{
    uint64_t v = 0;
    while (v == 0) {
        if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
            /* The kernel always has entropy after boot; fall back on time
             * and pid so an epoch is still unlikely to repeat. */
            v = (uint64_t)pw_now_ms() * 6364136223846793005u ^ (uint64_t)getpid();
        }
    }
    return v;
}

int pw_mkdir_p(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : -errno;
}

int pw_rm_rf(const char *path)
{
    int rc = nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc == 0 ? 0 : (errno ? -errno : rc);
}

int pw_parse_time(const char *text, int64_t *ms_out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *rest = strptime(text, "%Y-%m-%d", &tm);
    if (rest && (*rest == 'T' || *rest == ' ')) {
        rest = strptime(rest + 1, "%H:%M", &tm);
        if (rest && *rest == ':')
            rest = strptime(rest + 1, "%S", &tm);
        if (rest && *rest == 'Z')
            rest++;
    }
    if (!rest || *rest)
        return -EINVAL;
    *ms_out = (int64_t)timegm(&tm) * 1000;
    return 0;
}

void pw_format_time(int64_t ms, char buf[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void pw_secure_zero(void *p, size_t n)
{
    /* Through a volatile pointer: a plain memset of memory about to die may
     * be optimised away, leaving a key in freed memory or on the stack. */
    volatile unsigned char *b = p;
    while (n--)
        *b++ = 0;
}

#define HUGE_PAGE ((size_t)2 << 20)

void *pw_big_calloc(size_t n, size_t size, size_t *len_out)
{
    *len_out = 0;
    if (size != 0 && n > (SIZE_MAX - HUGE_PAGE) / size) {
        errno = ENOMEM;
        return NULL;
    }
    /* Whole huge pages: the kernel backs only aligned 2 MiB ranges with them. */
    size_t len = (n * size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    if (len == 0)
        len = HUGE_PAGE;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Advice only: without huge pages the memory is the same, just in 4 KiB pages. */
    madvise(p, len, MADV_HUGEPAGE);
    *len_out = len;
    return p;
}

void pw_big_free(void *p, size_t len)
{
    if (p)
        munmap(p, len);
}
