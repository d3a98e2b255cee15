/* SPDX-License-Identifier: MIT */
/*
 * The archive's entry points: exports (the store read in one go, the file
 * written beside its place and renamed), reads (the format told from the
 * content) and what both formats' readers share. The formats are in
 * archive_msgpack.c and archive_csv.c, the import in archive_import.c.
 */
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_internal.h"
#include "pw/error.h"

#define READ_BUF   (64 * 1024) /* much more than one record or line; grows for plans */
#define PLAN_MAX   PW_ARCHIVE_PLAN_MAX
#define WINDOW_MAX PW__ARCHIVE_WINDOW_MAX
#define UTF8_BOM   PW__ARCHIVE_UTF8_BOM

void pw__archive_seterr(char *err, size_t len, const char *fmt, ...)
{
    if (!err || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

int pw__archive_io_error(void)
{
    return errno ? -errno : -EIO;
}

void pw_archive_info_clear(pw_archive_info_t *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->nplans; i++)
        pw_catalog_destroy(&info->plans[i].cat);
    free(info->plans);
    memset(info, 0, sizeof(*info));
}

const char *pw_archive_format_name(pw_archive_format_t format)
{
    return format == PW_ARCHIVE_CSV ? "csv" : "msgpack";
}

char *pw__archive_path_with(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", path, suffix);
    return p;
}

/* Makes a rename durable: syncs the directory holding path (best effort). */
static void sync_parent(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    const char *name = ".";
    if (slash == dir)
        name = "/";
    else if (slash) {
        *slash = '\0';
        name = dir;
    }
    int fd = open(name, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* A version of the store's plan, copied out of the transaction it was read in. */
struct out_plan {
    uint64_t from;
    int64_t time_ms;
    char *text;
    size_t len;
};

struct export_ctx {
    FILE *f;
    pw_archive_format_t format;
    pw_buf_t buf;
    uint64_t count;
    const volatile sig_atomic_t *stop;
    struct out_plan *plans; /* msgpack: every version, written among the records */
    size_t nplans, next_plan;
};

/* Writes the next plan version. */
static int write_plan(struct export_ctx *x)
{
    const struct out_plan *p = &x->plans[x->next_plan++];
    return pw__archive_mp_plan(x->f, p->text, p->len, p->time_ms);
}

static int export_record(void *ctx, uint64_t logseq, const pw_msg_t *rec)
{
    struct export_ctx *x = ctx;
    if (x->stop && *x->stop)
        return -EINTR;
    int rc = 0;
    if (x->format == PW_ARCHIVE_MSGPACK) {
        /* The first version is in force from the first record on, whatever
         * its from (a store older than recorded plans has records before it). */
        while (rc == 0 && x->next_plan < x->nplans &&
               (x->next_plan == 0 || x->plans[x->next_plan].from <= logseq))
            rc = write_plan(x);
        if (rc == 0)
            rc = pw__archive_mp_record(x->f, rec, &x->buf);
    } else {
        rc = pw__archive_csv_record(x->f, logseq, rec);
    }
    if (rc == 0)
        x->count++;
    return rc;
}

static int copy_plan(void *ctx, const pw_store_plan_t *plan)
{
    struct export_ctx *x = ctx;
    if (plan->len > PLAN_MAX)
        return -EFBIG;
    struct out_plan *v = realloc(x->plans, (x->nplans + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    x->plans = v;
    char *text = malloc(plan->len + 1);
    if (!text)
        return -ENOMEM;
    memcpy(text, plan->text, plan->len);
    v[x->nplans++] = (struct out_plan){plan->from, plan->time_ms, text, plan->len};
    return 0;
}

/*
 * Reads what the export starts from in one transaction: the store's digest,
 * its plan versions (msgpack) and its log head. The export stops at that
 * head, so the plans it carries are those of the records it holds, even
 * while an aggregator restarts with a revised plan and writes on.
 */
static int read_start(pw_store_t *store, struct export_ctx *x, unsigned char digest[32],
                      bool *has_digest, uint64_t *head)
{
    pw_txn_t *txn = NULL;
    int rc = pw_store_begin(store, false, &txn);
    if (rc == 0) {
        rc = pw_store_get_digest(txn, digest);
        *has_digest = rc == 0;
        if (rc == PW_ENOTFOUND)
            rc = 0;
    }
    if (rc == 0 && x->format == PW_ARCHIVE_MSGPACK)
        rc = pw_store_plan_foreach(txn, copy_plan, x);
    if (rc == 0)
        rc = pw_store_log_head(txn, head);
    pw_store_abort(&txn);
    return rc;
}

int pw_archive_export(pw_store_t *store, const pw_replay_filter_t *filter,
                      pw_archive_format_t format, const char *path,
                      const volatile sig_atomic_t *stop, uint64_t *count_out, size_t *plans_out,
                      char *err, size_t errlen)
{
    struct export_ctx x = {.format = format, .stop = stop};
    unsigned char digest[32];
    bool has_digest = false;
    long count_off = 0;
    uint64_t head = 0;
    bool created = false;
    char *tmp = pw__archive_path_with(path, ".tmp");
    int rc = tmp ? read_start(store, &x, digest, &has_digest, &head) : -ENOMEM;
    if (rc == -EFBIG)
        pw__archive_seterr(
            err, errlen,
            "cannot export the store in %s: a version of its plan is larger than an export "
            "carries (%d bytes)",
            pw_store_dir(store), PLAN_MAX);
    else if (rc != 0)
        pw__archive_seterr(err, errlen, "cannot read the store in %s: %s", pw_store_dir(store),
                           pw_strerror(rc));
    if (rc != 0)
        goto out;
    x.f = fopen(tmp, "wb");
    if (!x.f) {
        rc = -errno;
        pw__archive_seterr(err, errlen, "cannot create %s: %s", tmp, pw_strerror(rc));
        goto out;
    }
    created = true;
    if (format == PW_ARCHIVE_MSGPACK)
        rc = pw__archive_mp_header(x.f, has_digest ? digest : NULL, x.nplans, &count_off);
    else
        rc = pw__archive_csv_header(x.f);
    if (rc != 0) {
        pw__archive_seterr(err, errlen, "cannot write %s: %s", tmp, pw_strerror(rc));
        goto out;
    }
    pw_replay_filter_t upto;
    memset(&upto, 0, sizeof(upto));
    if (filter)
        upto = *filter;
    if (!upto.to_seq || upto.to_seq > head)
        upto.to_seq = head;
    if (head > 0) /* a to_seq of 0 would mean no end */
        rc = pw_replay_read(store, &upto, NULL, export_record, &x);
    if (rc == -EINTR) {
        pw__archive_seterr(err, errlen,
                           "interrupted after %" PRIu64 " records; nothing written to %s", x.count,
                           path);
        goto out;
    }
    if (rc != 0) {
        /* The callback fails only on writing (or encoding); the rest is the store. */
        pw__archive_seterr(err, errlen, "%s after %" PRIu64 " records: %s",
                           ferror(x.f) ? "cannot write the export" : "cannot read the store's log",
                           x.count, pw_strerror(rc));
        goto out;
    }
    /* The versions that apply only after the last record exported. */
    while (rc == 0 && x.next_plan < x.nplans)
        rc = write_plan(&x);
    if (rc == 0 && format == PW_ARCHIVE_MSGPACK)
        rc = pw__archive_mp_count(x.f, count_off, x.count);
    errno = 0;
    if (rc == 0 && (fflush(x.f) != 0 || fsync(fileno(x.f)) != 0))
        rc = pw__archive_io_error();
    FILE *f = x.f;
    x.f = NULL;
    errno = 0;
    if (fclose(f) != 0 && rc == 0)
        rc = pw__archive_io_error();
    if (rc != 0) {
        pw__archive_seterr(err, errlen, "cannot write %s: %s", tmp, pw_strerror(rc));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = -errno;
        pw__archive_seterr(err, errlen, "cannot rename %s to %s: %s", tmp, path, pw_strerror(rc));
        goto out;
    }
    sync_parent(path);
    if (count_out)
        *count_out = x.count;
    if (plans_out)
        *plans_out = x.nplans;
out:
    if (x.f)
        fclose(x.f);
    if (rc != 0 && created)
        unlink(tmp);
    for (size_t i = 0; i < x.nplans; i++)
        free(x.plans[i].text);
    free(x.plans);
    pw_buf_free(&x.buf);
    free(tmp);
    return rc;
}

int pw__archive_fill(struct pw__archive_src *s)
{
    if (s->pos > 0) {
        memmove(s->buf, s->buf + s->pos, s->len - s->pos);
        s->base += s->pos;
        s->len -= s->pos;
        s->pos = 0;
    }
    if (s->len == s->cap && s->cap < WINDOW_MAX) {
        /* The window holds the beginning of one object only: a plan map
         * larger than it. pw__archive_map_extent() bounds every object by
         * WINDOW_MAX, and the window grows only once full, so with the bytes
         * in the file. */
        size_t cap = s->cap * 2 < WINDOW_MAX ? s->cap * 2 : WINDOW_MAX;
        unsigned char *buf = realloc(s->buf, cap);
        if (!buf)
            return -ENOMEM;
        s->buf = buf;
        s->cap = cap;
    }
    while (!s->eof && s->len < s->cap) {
        errno = 0;
        size_t n = fread(s->buf + s->len, 1, s->cap - s->len, s->f);
        s->len += n;
        if (n == 0) {
            if (ferror(s->f))
                return pw__archive_io_error();
            s->eof = true;
        }
    }
    return 0;
}

int pw__archive_deliver(const char *where, const pw_catalog_t *cat, bool file_plan,
                        const pw_msg_t *rec, pw_archive_record_fn fn, void *ctx, char *err,
                        size_t errlen)
{
    int rc = cat ? pw_msg_check(rec, cat) : 0;
    if (rc != 0) {
        char ptext[PW_PERIOD_STRMAX];
        pw_period_format(rec->period, ptext);
        /* An unknown id most likely means the wrong catalog; a bad value, a bad file. */
        bool ids = rc == PW_EDISTRICT || rc == PW_EELEMENT || rc == PW_EREPORTER;
        pw__archive_seterr(
            err, errlen, "%s: %s/%s/%s = %.17g does not fit %s: %s%s", where, rec->district,
            rec->element, ptext, rec->value,
            file_plan ? "the file's plan version in force" : "the catalog", pw_strerror(rc),
            ids && !file_plan ? " (exported with another catalog? see --catalog)" : "");
        return PW_EDATA;
    }
    return fn ? fn(ctx, rec) : 0;
}

/* Tells the format from the first bytes: the CSV header line or a msgpack map. */
static int detect(struct pw__archive_src *s, pw_archive_format_t *out, char *err, size_t errlen)
{
    int rc = pw__archive_fill(s);
    if (rc != 0) {
        pw__archive_seterr(err, errlen, "cannot read %s: %s", s->path, pw_strerror(rc));
        return rc;
    }
    const unsigned char *p = s->buf;
    size_t n = s->len;
    if (n >= 3 && memcmp(p, UTF8_BOM, 3) == 0) {
        p += 3;
        n -= 3;
    }
    if (n >= 4 && memcmp(p, "seq,", 4) == 0) {
        *out = PW_ARCHIVE_CSV;
        return 0;
    }
    if (s->len > 0 && ((s->buf[0] >= 0x80 && s->buf[0] <= 0x8f) || s->buf[0] == 0xde)) {
        *out = PW_ARCHIVE_MSGPACK;
        return 0;
    }
    pw__archive_seterr(err, errlen,
                       s->len == 0
                           ? "%s: empty file, not a planwatch export"
                           : "%s: not a planwatch export: it starts with neither a msgpack export "
                             "header nor the CSV header line",
                       s->path);
    return PW_EDATA;
}

int pw_archive_read(const char *path, const pw_catalog_t *cat, pw_archive_record_fn fn, void *ctx,
                    pw_archive_info_t *info_out, char *err, size_t errlen)
{
    pw_archive_info_t info;
    memset(&info, 0, sizeof(info));
    struct pw__archive_src s = {.path = path};
    int rc;
    s.f = fopen(path, "rb");
    if (!s.f) {
        rc = -errno;
        pw__archive_seterr(err, errlen, "cannot open %s: %s", path, pw_strerror(rc));
        return rc;
    }
    s.buf = malloc(READ_BUF);
    s.cap = READ_BUF;
    if (!s.buf) {
        rc = -ENOMEM;
        pw__archive_seterr(err, errlen, "cannot read %s: %s", path, pw_strerror(rc));
    } else if ((rc = detect(&s, &info.format, err, errlen)) == 0) {
        if (info.format == PW_ARCHIVE_MSGPACK)
            rc = pw__archive_mp_read(&s, cat, fn, ctx, &info, err, errlen);
        else
            rc = pw__archive_csv_read(&s, cat, fn, ctx, &info, err, errlen);
    }
    free(s.buf);
    fclose(s.f);
    if (info_out)
        *info_out = info;
    else
        pw_archive_info_clear(&info);
    return rc;
}
