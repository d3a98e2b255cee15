/* SPDX-License-Identifier: MIT */
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "pw/error.h"
#include "pw/util.h"
#include "rebuild.h"

#define CSV_HEADER     "seq,district,epoch,record_seq,element,period,value,observed_ms,received_ms,kind"
#define CSV_FIELDS     10
#define LINE_MAX_BYTES 1024        /* no valid line comes near this */
#define READ_BUF       (64 * 1024) /* much more than one record or line; grows for plans */
#define MAP_MAX        16          /* entries in any map of an export */
#define OBJ_MAX        PW_MSG_MAXSIZE
#define PLAN_MAX       PW_ARCHIVE_PLAN_MAX
#define STR32_HDR      5                        /* a str 32's header: 0xdb and 4 bytes of length */
#define WINDOW_MAX     (PLAN_MAX + 2 * OBJ_MAX) /* a plan map is at most this */
#define UTF8_BOM       "\xEF\xBB\xBF"
#define WHERE_MAX      4400 /* a path and a position in it */

static const char *const kind_names[] = {"new", "revision", "same"};

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t len, const char *fmt,
                                                         ...)
{
    if (!err || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static int io_error(void)
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

static void hex_digest(const unsigned char digest[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* "path" + suffix, on the heap. */
static char *path_with(const char *path, const char *suffix)
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

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    int e = msgpack_pack_str(pk, n);
    return e == 0 ? msgpack_pack_str_body(pk, s, n) : e;
}

/* Writes what sb holds to f. */
static int write_packed(FILE *f, const msgpack_sbuffer *sb)
{
    errno = 0;
    return fwrite(sb->data, 1, sb->size, f) == sb->size ? 0 : io_error();
}

/* Writes the next plan version: {"plan": text, "time": ms}. */
static int write_plan(struct export_ctx *x)
{
    const struct out_plan *p = &x->plans[x->next_plan++];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int e = msgpack_pack_map(&pk, 2);
    if (e == 0)
        e = pack_cstr(&pk, "plan");
    if (e == 0)
        e = msgpack_pack_str(&pk, p->len);
    if (e == 0)
        e = msgpack_pack_str_body(&pk, p->text, p->len);
    if (e == 0)
        e = pack_cstr(&pk, "time");
    if (e == 0)
        e = msgpack_pack_int64(&pk, p->time_ms);
    int rc = e != 0 ? -ENOMEM : write_packed(x->f, &sb);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int export_record(void *ctx, uint64_t logseq, const pw_msg_t *rec)
{
    struct export_ctx *x = ctx;
    if (x->stop && *x->stop)
        return -EINTR;
    errno = 0;
    if (x->format == PW_ARCHIVE_MSGPACK) {
        /* The first version is in force from the first record on, whatever
         * its from (a store older than recorded plans has records before it). */
        int rc = 0;
        while (rc == 0 && x->next_plan < x->nplans &&
               (x->next_plan == 0 || x->plans[x->next_plan].from <= logseq))
            rc = write_plan(x);
        if (rc == 0)
            rc = pw_msg_encode(rec, &x->buf);
        if (rc != 0)
            return rc;
        if (fwrite(x->buf.data, 1, x->buf.len, x->f) != x->buf.len)
            return io_error();
    } else {
        char ptext[PW_PERIOD_STRMAX];
        pw_period_format(rec->period, ptext);
        const char *kind = (unsigned)rec->kind <= PW_RECORD_SAME ? kind_names[rec->kind] : "?";
        if (fprintf(x->f,
                    "%" PRIu64 ",%s,%" PRIu64 ",%" PRIu64 ",%s,%s,%.17g,%" PRId64 ",%" PRId64
                    ",%s\n",
                    logseq, rec->district, rec->epoch, rec->seq, rec->element, ptext, rec->value,
                    rec->observed_ms, rec->received_ms, kind) < 0)
            return io_error();
    }
    x->count++;
    return 0;
}

/*
 * Writes the msgpack header with a placeholder count, packed as a uint64
 * (0xcf) whatever its value, so the real count can be written over it at the
 * end; *count_off gets the offset of its 8 bytes.
 */
static int write_header(FILE *f, const unsigned char *digest, size_t nplans, long *count_off)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int e = msgpack_pack_map(&pk, 4);
    if (e == 0)
        e = pack_cstr(&pk, "planwatch_export");
    if (e == 0)
        e = msgpack_pack_uint64(&pk, PW_ARCHIVE_VERSION);
    if (e == 0)
        e = pack_cstr(&pk, "records");
    *count_off = (long)sb.size + 1;
    if (e == 0)
        e = msgpack_pack_fix_uint64(&pk, 0);
    if (e == 0)
        e = pack_cstr(&pk, "catalog");
    if (e == 0 && digest) {
        char hex[65];
        hex_digest(digest, hex);
        e = pack_cstr(&pk, hex);
    } else if (e == 0) {
        e = msgpack_pack_nil(&pk);
    }
    if (e == 0)
        e = pack_cstr(&pk, "plans");
    if (e == 0)
        e = msgpack_pack_uint64(&pk, nplans);
    int rc = e != 0 ? -ENOMEM : write_packed(f, &sb);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int patch_count(FILE *f, long off, uint64_t count)
{
    unsigned char be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)(count >> (56 - 8 * i));
    errno = 0;
    if (fflush(f) != 0 || fseek(f, off, SEEK_SET) != 0 || fwrite(be, 1, 8, f) != 8 ||
        fflush(f) != 0)
        return io_error();
    return 0;
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
    char *tmp = path_with(path, ".tmp");
    int rc = tmp ? read_start(store, &x, digest, &has_digest, &head) : -ENOMEM;
    if (rc == -EFBIG)
        seterr(err, errlen,
               "cannot export the store in %s: a version of its plan is larger than an export "
               "carries (%d bytes)",
               pw_store_dir(store), PLAN_MAX);
    else if (rc != 0)
        seterr(err, errlen, "cannot read the store in %s: %s", pw_store_dir(store),
               pw_strerror(rc));
    if (rc != 0)
        goto out;
    x.f = fopen(tmp, "wb");
    if (!x.f) {
        rc = -errno;
        seterr(err, errlen, "cannot create %s: %s", tmp, pw_strerror(rc));
        goto out;
    }
    created = true;
    errno = 0;
    if (format == PW_ARCHIVE_MSGPACK)
        rc = write_header(x.f, has_digest ? digest : NULL, x.nplans, &count_off);
    else if (fputs(CSV_HEADER "\n", x.f) == EOF)
        rc = io_error();
    if (rc != 0) {
        seterr(err, errlen, "cannot write %s: %s", tmp, pw_strerror(rc));
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
        seterr(err, errlen, "interrupted after %" PRIu64 " records; nothing written to %s", x.count,
               path);
        goto out;
    }
    if (rc != 0) {
        /* The callback fails only on writing (or encoding); the rest is the store. */
        seterr(err, errlen, "%s after %" PRIu64 " records: %s",
               ferror(x.f) ? "cannot write the export" : "cannot read the store's log", x.count,
               pw_strerror(rc));
        goto out;
    }
    /* The versions that apply only after the last record exported. */
    while (rc == 0 && x.next_plan < x.nplans)
        rc = write_plan(&x);
    if (rc == 0 && format == PW_ARCHIVE_MSGPACK)
        rc = patch_count(x.f, count_off, x.count);
    errno = 0;
    if (rc == 0 && (fflush(x.f) != 0 || fsync(fileno(x.f)) != 0))
        rc = io_error();
    FILE *f = x.f;
    x.f = NULL;
    errno = 0;
    if (fclose(f) != 0 && rc == 0)
        rc = io_error();
    if (rc != 0) {
        seterr(err, errlen, "cannot write %s: %s", tmp, pw_strerror(rc));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = -errno;
        seterr(err, errlen, "cannot rename %s to %s: %s", tmp, path, pw_strerror(rc));
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

/* A file read through a window that always holds at least one whole object or line. */
struct src {
    FILE *f;
    const char *path;
    unsigned char *buf;
    size_t pos, len, cap; /* unread bytes are buf[pos..len), of cap */
    uint64_t base;        /* file offset of buf[0] */
    bool eof;
};

static int src_fill(struct src *s)
{
    if (s->pos > 0) {
        memmove(s->buf, s->buf + s->pos, s->len - s->pos);
        s->base += s->pos;
        s->len -= s->pos;
        s->pos = 0;
    }
    if (s->len == s->cap && s->cap < WINDOW_MAX) {
        /* The window holds the beginning of one object only: a plan map
         * larger than it. object_extent() bounds every object by WINDOW_MAX,
         * and the window grows only once full, so with the bytes in the file. */
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
                return io_error();
            s->eof = true;
        }
    }
    return 0;
}

/*
 * The extent of one msgpack scalar of the kinds an export holds: nil, bool,
 * integers, floats and strings up to str 16, or str 32 when big (a plan's
 * text; keys: strings only), within budget bytes. 1 with *n_out set, 0 when
 * avail holds only its beginning, PW_EDATA for anything else.
 */
static int scalar_extent(const unsigned char *p, size_t avail, bool key, bool big, size_t budget,
                         size_t *n_out)
{
    if (avail == 0)
        return 0;
    unsigned b = p[0];
    size_t hdr = 1, body;
    if (b >= 0xa0 && b <= 0xbf) {
        body = b & 0x1f;
    } else if (b == 0xd9 || b == 0xda) {
        hdr = b == 0xd9 ? 2 : 3;
        if (avail < hdr)
            return 0;
        body = b == 0xd9 ? p[1] : ((size_t)p[1] << 8 | p[2]);
    } else if (b == 0xdb && big) {
        hdr = STR32_HDR;
        if (avail < hdr)
            return 0;
        body = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    } else if (key) {
        return PW_EDATA;
    } else if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        body = 0;
    } else if (b == 0xcc || b == 0xd0) {
        body = 1;
    } else if (b == 0xcd || b == 0xd1) {
        body = 2;
    } else if (b == 0xce || b == 0xd2 || b == 0xca) {
        body = 4;
    } else if (b == 0xcf || b == 0xd3 || b == 0xcb) {
        body = 8;
    } else {
        return PW_EDATA; /* arrays, maps, bin, ext, str 32, 0xc1 */
    }
    if (hdr + body > budget)
        return PW_EDATA;
    if (avail < hdr + body)
        return 0;
    *n_out = hdr + body;
    return 1;
}

/* Whether the key at p (a string, n bytes with its header) is "plan". */
static bool is_plan_key(const unsigned char *p, size_t n)
{
    size_t hdr = p[0] == 0xd9 ? 2 : p[0] == 0xda ? 3 : 1;
    return n == hdr + 4 && memcmp(p + hdr, "plan", 4) == 0;
}

/*
 * The extent of the next object: a map of at most MAP_MAX scalar entries, at
 * most OBJ_MAX bytes in all, but for the value of a "plan" key (a plan map's
 * text), which may take PLAN_MAX bytes more. 1 with *n_out set, 0 when avail
 * holds only its beginning, PW_EDATA for anything else; *plan_out says
 * whether a "plan" key was seen (also when the map is not all there). Every
 * length is checked against the bytes present before it is used, so msgpack-c
 * is only ever given objects whose declared counts are small and whose bytes
 * are all there.
 */
static int object_extent(const unsigned char *p, size_t avail, size_t *n_out, bool *plan_out)
{
    *plan_out = false;
    if (avail == 0)
        return 0;
    size_t count, pos;
    if (p[0] >= 0x80 && p[0] <= 0x8f) {
        count = p[0] & 0x0f;
        pos = 1;
    } else if (p[0] == 0xde) {
        if (avail < 3)
            return 0;
        count = (size_t)p[1] << 8 | p[2];
        pos = 3;
    } else {
        return PW_EDATA;
    }
    if (count > MAP_MAX)
        return PW_EDATA;
    size_t text = 0; /* the bytes of the plan's text, outside the OBJ_MAX budget */
    bool text_next = false;
    for (size_t i = 0; i < 2 * count; i++) {
        bool key = i % 2 == 0, big = text_next;
        size_t n = 0;
        int rc = scalar_extent(p + pos, avail - pos, key, big,
                               big ? STR32_HDR + PLAN_MAX : OBJ_MAX - (pos - text), &n);
        if (rc != 1)
            return rc;
        /* Only the first "plan" gets the large budget: a map holds one text. */
        text_next = key && !*plan_out && is_plan_key(p + pos, n);
        *plan_out = *plan_out || text_next;
        if (big)
            text = n;
        pos += n;
    }
    *n_out = pos;
    return 1;
}

static bool str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unpacks the map at p, n bytes whose extent object_extent() has checked. */
static bool unpack_map(msgpack_unpacked *up, const unsigned char *p, size_t n)
{
    size_t off = 0;
    return msgpack_unpack_next(up, (const char *)p, n, &off) == MSGPACK_UNPACK_SUCCESS &&
           off == n && up->data.type == MSGPACK_OBJECT_MAP;
}

/*
 * Finds the fields of map m: the value of names[j] goes to slots[j] (NULL
 * when absent). Every key must be one of the n names, once. 0, or PW_EDATA
 * with what is wrong in why.
 */
static int map_fields(const msgpack_object_map *m, const char *const names[], size_t n,
                      const msgpack_object *slots[], char *why, size_t len)
{
    for (size_t j = 0; j < n; j++)
        slots[j] = NULL;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR) {
            seterr(why, len, "a field name is not a string");
            return PW_EDATA;
        }
        size_t j = 0;
        while (j < n && !str_is(k, names[j]))
            j++;
        if (j == n || slots[j]) {
            seterr(why, len, j == n ? "unknown field \"%.*s\"" : "field \"%.*s\" given twice",
                   (int)k->via.str.size, k->via.str.ptr);
            return PW_EDATA;
        }
        slots[j] = &m->ptr[i].val;
    }
    return 0;
}

/* Reads the header map: version, record count, catalog digest and (version 2) plan versions. */
static int parse_header(const struct src *s, const unsigned char *p, size_t n,
                        pw_archive_info_t *info, uint64_t *announced, uint64_t *plans, char *err,
                        size_t errlen)
{
    static const char *const names[] = {"planwatch_export", "records", "catalog", "plans"};
    const msgpack_object *f[4] = {NULL}; /* version 1 leaves "plans" out */
    char why[WHERE_MAX];
    msgpack_unpacked up;
    int rc = PW_EDATA;
    msgpack_unpacked_init(&up);
    if (!unpack_map(&up, p, n)) {
        seterr(err, errlen, "%s: byte 0: the export header is not a msgpack map", s->path);
        goto out;
    }
    const msgpack_object_map *m = &up.data.via.map;
    const msgpack_object *version = NULL;
    for (uint32_t i = 0; i < m->size; i++) {
        if (str_is(&m->ptr[i].key, "planwatch_export"))
            version = &m->ptr[i].val;
    }
    if (!version) {
        seterr(err, errlen,
               "%s: not a planwatch export: its first map has no \"planwatch_export\" field",
               s->path);
        goto out;
    }
    if (version->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        seterr(err, errlen, "%s: header: planwatch_export is not a version number", s->path);
        goto out;
    }
    if (version->via.u64 < 1 || version->via.u64 > PW_ARCHIVE_VERSION) {
        seterr(err, errlen,
               "%s: export format version %" PRIu64 "; this planwatch reads versions 1 to %d",
               s->path, version->via.u64, PW_ARCHIVE_VERSION);
        goto out;
    }
    info->version = (unsigned)version->via.u64;
    /* Version 1 exports carry no plan. */
    if (map_fields(m, names, info->version == 1 ? 3 : 4, f, why, sizeof(why)) != 0) {
        seterr(err, errlen, "%s: header: %s", s->path, why);
        goto out;
    }
    const msgpack_object *records = f[1], *catalog = f[2], *nplans = f[3];
    if (!records || records->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        seterr(err, errlen, "%s: header: \"records\" %s", s->path,
               records ? "is not a count" : "is missing");
        goto out;
    }
    *announced = records->via.u64;
    if (info->version >= 2 && (!nplans || nplans->type != MSGPACK_OBJECT_POSITIVE_INTEGER)) {
        seterr(err, errlen, "%s: header: \"plans\" %s", s->path,
               nplans ? "is not a count" : "is missing");
        goto out;
    }
    *plans = nplans ? nplans->via.u64 : 0;
    if (!catalog) {
        seterr(err, errlen, "%s: header: \"catalog\" is missing", s->path);
        goto out;
    }
    info->has_digest = catalog->type != MSGPACK_OBJECT_NIL;
    if (info->has_digest) {
        bool ok = catalog->type == MSGPACK_OBJECT_STR && catalog->via.str.size == 64;
        for (int i = 0; ok && i < 32; i++) {
            int hi = hex_value(catalog->via.str.ptr[2 * i]);
            int lo = hex_value(catalog->via.str.ptr[2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            info->digest[i] = (unsigned char)(ok ? hi << 4 | lo : 0);
        }
        if (!ok) {
            seterr(err, errlen, "%s: header: \"catalog\" is not a 64-digit hex digest", s->path);
            goto out;
        }
    }
    rc = 0;
out:
    msgpack_unpacked_destroy(&up);
    return rc;
}

/*
 * Reads the next plan version, the map at p (n bytes, byte at of the file)
 * {"plan": catalog text, "time": unix ms}, which applies from the file's
 * record before + 1 on, into info->plans. 0, -ENOMEM or PW_EDATA; err says
 * "file: byte N: plan version K: what is wrong".
 */
static int read_plan(const struct src *s, const unsigned char *p, size_t n, uint64_t at,
                     uint64_t before, uint64_t announced, pw_archive_info_t *info, char *err,
                     size_t errlen)
{
    static const char *const names[] = {"plan", "time"};
    const msgpack_object *f[2];
    char why[WHERE_MAX] = "";
    pw_catalog_t *cat = NULL;
    msgpack_unpacked up;
    int rc = PW_EDATA;
    msgpack_unpacked_init(&up);
    if (info->nplans == announced) {
        seterr(why, sizeof(why), "more plan versions than the %" PRIu64 " the header announces",
               announced);
        goto out;
    }
    if (!unpack_map(&up, p, n)) {
        seterr(why, sizeof(why), "not a msgpack map");
        goto out;
    }
    if (map_fields(&up.data.via.map, names, 2, f, why, sizeof(why)) != 0)
        goto out;
    if (!f[0] || f[0]->type != MSGPACK_OBJECT_STR) {
        seterr(why, sizeof(why), "\"plan\" is not a catalog's text");
        goto out;
    }
    if (!f[1] || f[1]->type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[1]->via.u64 > INT64_MAX) {
        seterr(why, sizeof(why), "\"time\" %s", f[1] ? "is not a time in unix ms" : "is missing");
        goto out;
    }
    rc = pw_catalog_parse("text", f[0]->via.str.ptr, f[0]->via.str.size, &cat, why, sizeof(why));
    if (rc == -ENOMEM)
        goto out;
    if (rc != 0) {
        /* why reads "text:LINE: what". */
        char line[WHERE_MAX];
        snprintf(line, sizeof(line), "%s", why);
        seterr(why, sizeof(why), "not a valid catalog: %s", line);
        rc = PW_EDATA;
        goto out;
    }
    pw_archive_plan_t *v = realloc(info->plans, (info->nplans + 1) * sizeof(*v));
    if (!v) {
        rc = -ENOMEM;
        goto out;
    }
    info->plans = v;
    v[info->nplans++] = (pw_archive_plan_t){cat, (int64_t)f[1]->via.u64, before};
    cat = NULL;
out:
    if (rc != 0)
        seterr(err, errlen, "%s: byte %" PRIu64 ": plan version %zu: %s", s->path, at,
               info->nplans + 1, rc == -ENOMEM ? pw_strerror(rc) : why);
    pw_catalog_destroy(&cat);
    msgpack_unpacked_destroy(&up);
    return rc;
}

/*
 * Checks a decoded record against the catalog (the file's plan version in
 * force when file_plan), and hands it on.
 */
static int deliver(const char *where, const pw_catalog_t *cat, bool file_plan, const pw_msg_t *rec,
                   pw_archive_record_fn fn, void *ctx, char *err, size_t errlen)
{
    int rc = cat ? pw_msg_check(rec, cat) : 0;
    if (rc != 0) {
        char ptext[PW_PERIOD_STRMAX];
        pw_period_format(rec->period, ptext);
        /* An unknown id most likely means the wrong catalog; a bad value, a bad file. */
        bool ids = rc == PW_EDISTRICT || rc == PW_EELEMENT || rc == PW_EREPORTER;
        seterr(err, errlen, "%s: %s/%s/%s = %.17g does not fit %s: %s%s", where, rec->district,
               rec->element, ptext, rec->value,
               file_plan ? "the file's plan version in force" : "the catalog", pw_strerror(rc),
               ids && !file_plan ? " (exported with another catalog? see --catalog)" : "");
        return PW_EDATA;
    }
    return fn ? fn(ctx, rec) : 0;
}

static int read_msgpack(struct src *s, const pw_catalog_t *cat, pw_archive_record_fn fn, void *ctx,
                        pw_archive_info_t *info, char *err, size_t errlen)
{
    uint64_t announced = 0, got = 0, plans = 0;
    bool have_header = false;
    for (;;) {
        size_t n = 0;
        bool plan = false;
        int x = object_extent(s->buf + s->pos, s->len - s->pos, &n, &plan);
        if (x == 0 && !s->eof) {
            size_t had = s->len - s->pos;
            int rc = src_fill(s);
            /* Cannot happen: object_extent() refuses an object larger than the window. */
            if (rc == 0 && s->len == had && !s->eof)
                rc = -EFBIG;
            if (rc != 0) {
                seterr(err, errlen, "cannot read %s: %s", s->path, pw_strerror(rc));
                return rc;
            }
            continue;
        }
        uint64_t at = s->base + s->pos;
        char what[64];
        if (plan)
            snprintf(what, sizeof(what), "plan version %zu", info->nplans + 1);
        else if (have_header)
            snprintf(what, sizeof(what), "record %" PRIu64, got + 1);
        else
            snprintf(what, sizeof(what), "the header");
        if (x == 0 && s->pos == s->len)
            break; /* the end, between objects */
        if (x == 0 && plan) {
            seterr(err, errlen, "%s: byte %" PRIu64 ": %s: truncated: the file ends inside it",
                   s->path, at, what);
            return PW_EDATA;
        }
        if (x == 0) {
            seterr(err, errlen, "%s: truncated: the file ends inside %s (byte %" PRIu64 ")",
                   s->path, what, at);
            return PW_EDATA;
        }
        if (x < 0 && plan) {
            seterr(err, errlen,
                   "%s: byte %" PRIu64 ": %s: not a plan map (a map of at most %d scalar fields, "
                   "its text %d bytes at most, the rest %d)",
                   s->path, at, what, MAP_MAX, PLAN_MAX, OBJ_MAX);
            return PW_EDATA;
        }
        if (x < 0) {
            seterr(err, errlen,
                   "%s: %s (byte %" PRIu64 "): not an export map (a map of at most %d scalar "
                   "fields, %d bytes at most)",
                   s->path, what, at, MAP_MAX, OBJ_MAX);
            return PW_EDATA;
        }
        const unsigned char *obj = s->buf + s->pos;
        s->pos += n;
        if (!have_header) {
            int rc = parse_header(s, obj, n, info, &announced, &plans, err, errlen);
            if (rc != 0)
                return rc;
            /* Told before the first record fails to fit: the whole file is another plan's. */
            if (plans == 0 && cat && info->has_digest && memcmp(info->digest, cat->digest, 32)) {
                char want[65], have[65];
                hex_digest(info->digest, want);
                hex_digest(cat->digest, have);
                seterr(err, errlen,
                       "%s: exported from a store written with catalog %.16s..., but this "
                       "catalog is %.16s...: import with the catalog the store was written "
                       "with (--catalog FILE)",
                       s->path, want, have);
                return PW_EINCOMPAT;
            }
            have_header = true;
            continue;
        }
        if (plan) {
            int rc = read_plan(s, obj, n, at, got, plans, info, err, errlen);
            if (rc != 0)
                return rc;
            continue;
        }
        if (got == announced) {
            seterr(err, errlen,
                   "%s: byte %" PRIu64 ": more records than the %" PRIu64 " the header announces",
                   s->path, at, announced);
            return PW_EDATA;
        }
        if (plans > 0 && info->nplans == 0) {
            seterr(err, errlen,
                   "%s: %s (byte %" PRIu64 "): before the first plan version: the file's plan "
                   "versions come before the records they apply to",
                   s->path, what, at);
            return PW_EDATA;
        }
        got++;
        pw_msg_t rec;
        int rc = pw_msg_decode(obj, n, &rec);
        if (rc == 0 && rec.type != PW_MSG_RECORD) {
            seterr(err, errlen, "%s: %s (byte %" PRIu64 "): a %s message, not a record", s->path,
                   what, at, pw_msg_type_name(rec.type));
            return PW_EDATA;
        }
        if (rc != 0) {
            seterr(err, errlen, "%s: %s (byte %" PRIu64 "): %s", s->path, what, at,
                   pw_strerror(rc));
            return PW_EDATA;
        }
        char where[WHERE_MAX];
        snprintf(where, sizeof(where), "%s: %s (byte %" PRIu64 ")", s->path, what, at);
        const pw_catalog_t *in_force = info->nplans ? info->plans[info->nplans - 1].cat : cat;
        if ((rc = deliver(where, in_force, info->nplans > 0, &rec, fn, ctx, err, errlen)) != 0)
            return rc;
    }
    if (!have_header) {
        seterr(err, errlen, "%s: empty: no export header", s->path);
        return PW_EDATA;
    }
    if (got != announced) {
        seterr(err, errlen,
               "%s: truncated: the header announces %" PRIu64 " records, the file holds %" PRIu64,
               s->path, announced, got);
        return PW_EDATA;
    }
    if (info->nplans != plans) {
        seterr(err, errlen,
               "%s: truncated: the header announces %" PRIu64 " plan versions, the file holds %zu",
               s->path, plans, info->nplans);
        return PW_EDATA;
    }
    /* The store's digest is its latest plan's: anything else is a file made up. */
    const pw_catalog_t *last = info->nplans ? info->plans[info->nplans - 1].cat : NULL;
    if (last && info->has_digest && memcmp(last->digest, info->digest, 32) != 0) {
        seterr(err, errlen,
               "%s: header: \"catalog\" is not the digest of the file's last plan version (\"%s\")",
               s->path, last->name);
        return PW_EDATA;
    }
    info->records = got;
    return 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_id(const char *s, char out[PW_ID_MAX])
{
    size_t n = strlen(s);
    if (n == 0 || n >= PW_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    memcpy(out, s, n + 1);
    return true;
}

/* A decimal number (no inf, nan, hex or spaces) that is finite. */
static bool parse_value(const char *s, double *out)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789+-.eE", *p))
            return false;
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_ms(const char *s, int64_t *out)
{
    uint64_t v;
    if (!parse_u64(s, &v) || v == 0 || v > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

/* A field for an error message: at most 40 bytes, anything but printable ASCII as \xNN. */
static const char *shown(const char *field, char out[168])
{
    size_t n = 0;
    for (size_t i = 0; field[i] && i < 40; i++) {
        unsigned char c = (unsigned char)field[i];
        if (c >= 0x20 && c < 0x7f)
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, 5, "\\x%02x", c);
    }
    if (strlen(field) > 40)
        n += (size_t)snprintf(out + n, 4, "...");
    out[n] = '\0';
    return out;
}

/*
 * Parses one CSV line (NUL-terminated, modified in place) into *rec; *seq_out
 * gets its log sequence. 0, or PW_EDATA with what is wrong in why.
 */
static int parse_line(char *line, pw_msg_t *rec, uint64_t *seq_out, char *why, size_t len)
{
    char *f[CSV_FIELDS], q[168];
    size_t n = 0;
    for (char *p = line;;) {
        if (n < CSV_FIELDS)
            f[n] = p;
        n++;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    if (n != CSV_FIELDS) {
        seterr(why, len, "%zu fields, expected %d (%s)", n, CSV_FIELDS, CSV_HEADER);
        return PW_EDATA;
    }
    memset(rec, 0, sizeof(*rec));
    rec->type = PW_MSG_RECORD;
    if (!parse_u64(f[0], seq_out) || *seq_out == 0) {
        seterr(why, len, "seq '%s' is not a positive integer", shown(f[0], q));
        return PW_EDATA;
    }
    if (!parse_id(f[1], rec->district)) {
        seterr(why, len, "district '%s' is not an id ([a-z0-9_], 1 to %d bytes)", shown(f[1], q),
               PW_ID_MAX - 1);
        return PW_EDATA;
    }
    if (!parse_u64(f[2], &rec->epoch) || rec->epoch == 0) {
        seterr(why, len, "epoch '%s' is not a positive integer", shown(f[2], q));
        return PW_EDATA;
    }
    if (!parse_u64(f[3], &rec->seq) || rec->seq == 0) {
        seterr(why, len, "record_seq '%s' is not a positive integer", shown(f[3], q));
        return PW_EDATA;
    }
    if (!parse_id(f[4], rec->element)) {
        seterr(why, len, "element '%s' is not an id ([a-z0-9_], 1 to %d bytes)", shown(f[4], q),
               PW_ID_MAX - 1);
        return PW_EDATA;
    }
    if (pw_period_parse(f[5], strlen(f[5]), &rec->period) != 0) {
        seterr(why, len, "period '%s' is not a period (2016, 2018H1, 2018Q3, 2018-07)",
               shown(f[5], q));
        return PW_EDATA;
    }
    if (!parse_value(f[6], &rec->value)) {
        seterr(why, len, "value '%s' is not a finite decimal number", shown(f[6], q));
        return PW_EDATA;
    }
    if (!parse_ms(f[7], &rec->observed_ms)) {
        seterr(why, len, "observed_ms '%s' is not a positive time in unix ms", shown(f[7], q));
        return PW_EDATA;
    }
    if (!parse_ms(f[8], &rec->received_ms)) {
        seterr(why, len, "received_ms '%s' is not a positive time in unix ms", shown(f[8], q));
        return PW_EDATA;
    }
    size_t k = 0;
    while (k < 3 && strcmp(f[9], kind_names[k]) != 0)
        k++;
    if (k == 3) {
        seterr(why, len, "kind '%s' is not new, revision or same", shown(f[9], q));
        return PW_EDATA;
    }
    rec->kind = (pw_record_kind_t)k;
    return 0;
}

/* Runs a record parsed from text through the wire codec, so both formats take the same records. */
static int normalise(pw_msg_t *rec, pw_buf_t *buf, char *why, size_t len)
{
    pw_msg_t back;
    int rc = pw_msg_encode(rec, buf);
    if (rc == 0)
        rc = pw_msg_decode(buf->data, buf->len, &back);
    if (rc == -ENOMEM)
        return rc;
    if (rc != 0) {
        seterr(why, len, "not a valid record: %s", pw_strerror(rc));
        return PW_EDATA;
    }
    *rec = back;
    return 0;
}

static int read_csv(struct src *s, const pw_catalog_t *cat, pw_archive_record_fn fn, void *ctx,
                    pw_archive_info_t *info, char *err, size_t errlen)
{
    uint64_t line = 0, prev_seq = 0, got = 0;
    char text[LINE_MAX_BYTES + 1], why[256];
    pw_buf_t buf = {0};
    int rc = 0;
    while (rc == 0) {
        unsigned char *start = s->buf + s->pos;
        size_t avail = s->len - s->pos;
        const unsigned char *nl = memchr(start, '\n', avail);
        if (!nl && avail <= LINE_MAX_BYTES && !s->eof) {
            if ((rc = src_fill(s)) != 0)
                seterr(err, errlen, "cannot read %s: %s", s->path, pw_strerror(rc));
            continue;
        }
        if (!nl && avail == 0)
            break;
        size_t n = nl ? (size_t)(nl - start) : avail;
        if (n > LINE_MAX_BYTES) {
            seterr(err, errlen, "%s:%" PRIu64 ": line longer than %d bytes", s->path, line + 1,
                   LINE_MAX_BYTES);
            rc = PW_EDATA;
            break;
        }
        if (!nl) {
            seterr(err, errlen, "%s:%" PRIu64 ": the last line has no newline: truncated file?",
                   s->path, line + 1);
            rc = PW_EDATA;
            break;
        }
        line++;
        memcpy(text, start, n);
        text[n] = '\0';
        s->pos += n + 1;
        if (n > 0 && text[n - 1] == '\r')
            text[--n] = '\0';
        if (memchr(text, '\0', n)) {
            seterr(err, errlen, "%s:%" PRIu64 ": NUL byte in the line", s->path, line);
            rc = PW_EDATA;
            break;
        }
        if (line == 1) {
            const char *h = strncmp(text, UTF8_BOM, 3) == 0 ? text + 3 : text;
            if (strcmp(h, CSV_HEADER) != 0) {
                seterr(err, errlen, "%s:1: the header line is not \"" CSV_HEADER "\"", s->path);
                rc = PW_EDATA;
            }
            continue;
        }
        pw_msg_t rec;
        uint64_t seq = 0;
        rc = parse_line(text, &rec, &seq, why, sizeof(why));
        if (rc == 0 && seq <= prev_seq) {
            seterr(why, sizeof(why), "seq %" PRIu64 " after %" PRIu64 ": not in log order", seq,
                   prev_seq);
            rc = PW_EDATA;
        }
        if (rc == 0)
            rc = normalise(&rec, &buf, why, sizeof(why));
        if (rc != 0) {
            seterr(err, errlen, "%s:%" PRIu64 ": %s", s->path, line,
                   rc == -ENOMEM ? pw_strerror(rc) : why);
            break;
        }
        prev_seq = seq;
        got++;
        char where[WHERE_MAX];
        snprintf(where, sizeof(where), "%s:%" PRIu64, s->path, line);
        rc = deliver(where, cat, false, &rec, fn, ctx, err, errlen);
    }
    pw_buf_free(&buf);
    if (rc == 0 && line == 0) {
        seterr(err, errlen, "%s: empty: no CSV header line", s->path);
        rc = PW_EDATA;
    }
    info->records = got;
    return rc;
}

/* Tells the format from the first bytes: the CSV header line or a msgpack map. */
static int detect(struct src *s, pw_archive_format_t *out, char *err, size_t errlen)
{
    int rc = src_fill(s);
    if (rc != 0) {
        seterr(err, errlen, "cannot read %s: %s", s->path, pw_strerror(rc));
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
    seterr(err, errlen,
           s->len == 0 ? "%s: empty file, not a planwatch export"
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
    struct src s = {.path = path};
    int rc;
    s.f = fopen(path, "rb");
    if (!s.f) {
        rc = -errno;
        seterr(err, errlen, "cannot open %s: %s", path, pw_strerror(rc));
        return rc;
    }
    s.buf = malloc(READ_BUF);
    s.cap = READ_BUF;
    if (!s.buf) {
        rc = -ENOMEM;
        seterr(err, errlen, "cannot read %s: %s", path, pw_strerror(rc));
    } else if ((rc = detect(&s, &info.format, err, errlen)) == 0) {
        if (info.format == PW_ARCHIVE_MSGPACK)
            rc = read_msgpack(&s, cat, fn, ctx, &info, err, errlen);
        else
            rc = read_csv(&s, cat, fn, ctx, &info, err, errlen);
    }
    free(s.buf);
    fclose(s.f);
    if (info_out)
        *info_out = info;
    else
        pw_archive_info_clear(&info);
    return rc;
}

struct import_ctx {
    pw_rebuild_t *rb;               /* NULL: checking only */
    const pw_archive_plan_t *plans; /* the versions to rebuild under, as the check read them */
    size_t nplans, next_plan;
    const volatile sig_atomic_t *stop;
    uint64_t n;
    int failed; /* what the rebuild (or a signal) returned, as opposed to the file */
};

/*
 * Switches the rebuild to the plan versions that apply from the next record
 * on (all: every one left, those after the last record), as the aggregator
 * did when it started with them: they are recorded in the new store from
 * that record on, and the rates they change are recomputed.
 */
static int apply_plans(struct import_ctx *ic, bool all)
{
    int rc = 0;
    while (rc == 0 && ic->next_plan < ic->nplans &&
           (all || ic->plans[ic->next_plan].before <= ic->n)) {
        const pw_archive_plan_t *p = &ic->plans[ic->next_plan++];
        rc = pw_rebuild_plan(ic->rb, p->cat, p->time_ms);
    }
    return rc;
}

static int import_record(void *ctx, const pw_msg_t *rec)
{
    struct import_ctx *ic = ctx;
    if (ic->stop && *ic->stop)
        return ic->failed = -EINTR;
    if (ic->rb) {
        int rc = apply_plans(ic, false);
        if (rc == 0)
            rc = pw_rebuild_add(ic->rb, rec);
        if (rc != 0)
            return ic->failed = rc;
    }
    ic->n++;
    return 0;
}

/*
 * Looks at the target before anything is written: whether dir exists, and
 * whether it holds a store already (refused when that store has records).
 */
static int check_target(const char *dir, bool *had_dir, bool *had_store, char *err, size_t errlen)
{
    struct stat st;
    *had_dir = *had_store = false;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            seterr(err, errlen, "%s: not a directory", dir);
            return -ENOTDIR;
        }
        *had_dir = true;
    } else if (errno != ENOENT) {
        int rc = -errno;
        seterr(err, errlen, "cannot use %s: %s", dir, pw_strerror(rc));
        return rc;
    }
    char *data = path_with(dir, "/data.mdb");
    if (!data)
        return -ENOMEM;
    *had_store = *had_dir && access(data, F_OK) == 0;
    free(data);
    if (!*had_store)
        return 0;
    pw_store_t *store = NULL;
    pw_store_opts_t ro = {.readonly = true};
    uint64_t head = 0;
    int rc = pw_store_open(&store, dir, &ro);
    if (rc == 0)
        rc = pw_replay_count(store, &head);
    pw_store_destroy(&store);
    if (rc == PW_EINCOMPAT)
        seterr(err, errlen, "%s: holds a store of another format; import only into a new store",
               dir);
    else if (rc != 0)
        seterr(err, errlen, "cannot open the store in %s: %s", dir, pw_strerror(rc));
    else if (head > 0) {
        rc = PW_EINCOMPAT;
        seterr(err, errlen,
               "%s: already holds a store with %" PRIu64
               " records; import only into a new store (a new or empty directory)",
               dir, head);
    }
    return rc;
}

/* After a failed import: takes away the store files the import created. */
static void remove_partial(const char *dir, bool had_dir, bool had_store, char *err, size_t errlen)
{
    if (!had_store) {
        const char *files[] = {"/data.mdb", "/lock.mdb", "/writer.pid"};
        for (size_t i = 0; i < 3; i++) {
            char *p = path_with(dir, files[i]);
            if (p)
                unlink(p);
            free(p);
        }
        if (!had_dir)
            rmdir(dir);
        return;
    }
    /* The store was there (empty) before: say so if the import left records in it. */
    pw_store_t *store = NULL;
    pw_store_opts_t ro = {.readonly = true};
    uint64_t head = 0;
    if (pw_store_open(&store, dir, &ro) == 0 && pw_replay_count(store, &head) == 0 && head > 0) {
        size_t used = strlen(err);
        if (used < errlen)
            seterr(err + used, errlen - used,
                   "; %s now holds %" PRIu64 " records of the failed import: remove it", dir, head);
    }
    pw_store_destroy(&store);
}

/*
 * Whether the export may be imported with cat. One that carries its plan is
 * imported under it, and a catalog the user named must be its latest
 * version. One that carries none takes cat, which the read has checked
 * against the digest it names.
 */
static int check_catalog(const pw_archive_info_t *info, const pw_catalog_t *cat, bool cat_given,
                         const char *path, char *err, size_t errlen)
{
    if (info->nplans == 0 || !cat_given)
        return 0;
    const pw_catalog_t *last = info->plans[info->nplans - 1].cat;
    if (memcmp(last->digest, cat->digest, 32) == 0)
        return 0;
    char want[65], have[65];
    hex_digest(last->digest, want);
    hex_digest(cat->digest, have);
    seterr(err, errlen,
           "%s carries its plan, and --catalog is not it (the export's plan is \"%s\", digest "
           "%.12s; the catalog given is \"%s\", digest %.12s): leave out --catalog to import "
           "the export with its own plan",
           path, last->name, want, cat->name, have);
    return PW_EINCOMPAT;
}

/* Whether a second read of an export found the plan versions the first did. */
static bool same_plans(const pw_archive_info_t *a, const pw_archive_info_t *b)
{
    if (a->nplans != b->nplans)
        return false;
    for (size_t i = 0; i < a->nplans; i++) {
        const pw_archive_plan_t *pa = &a->plans[i], *pb = &b->plans[i];
        if (pa->before != pb->before || pa->time_ms != pb->time_ms ||
            memcmp(pa->cat->digest, pb->cat->digest, 32) != 0)
            return false;
    }
    return true;
}

int pw_archive_import(const pw_catalog_t *cat, bool cat_given, const char *path, const char *dir,
                      const volatile sig_atomic_t *stop, pw_archive_info_t *info_out, char *err,
                      size_t errlen)
{
    pw_archive_info_t info, again;
    memset(&info, 0, sizeof(info));
    memset(&again, 0, sizeof(again));
    struct import_ctx ic = {.stop = stop};
    pw_rebuild_t *rb = NULL;
    bool had_dir = false, had_store = false, created = false;
    /* First the whole file, before anything is created. */
    int rc = pw_archive_read(path, cat, import_record, &ic, &info, err, errlen);
    if (rc == -EINTR && ic.failed == -EINTR)
        seterr(err, errlen, "interrupted while checking %s; nothing imported", path);
    if (rc == 0)
        rc = check_catalog(&info, cat, cat_given, path, err, errlen);
    if (rc == 0)
        rc = check_target(dir, &had_dir, &had_store, err, errlen);
    if (rc != 0)
        goto out;
    /* Under the file's first plan version, which the first record switches to and records. */
    rc = pw_rebuild_new(info.nplans ? info.plans[0].cat : cat, dir, NULL, NULL, &rb);
    if (rc == -EBUSY) {
        /* A running aggregator's (or another import's): not ours to remove. */
        char busy[4200];
        pw_store_busy_text(dir, busy, sizeof(busy));
        seterr(err, errlen, "%s", busy);
        goto out;
    }
    if (rc == PW_EINCOMPAT) {
        /* Someone else's store (written since the check): nothing here is ours to remove. */
        seterr(err, errlen,
               "%s: already holds a store with data (or one of another format); "
               "import only into a new store",
               dir);
        goto out;
    }
    created = true;
    /* A file that carries no plan: the store records the one it was checked with. */
    if (rc == 0 && info.nplans == 0)
        rc = pw_rebuild_plan(rb, cat, pw_now_ms());
    if (rc != 0) {
        seterr(err, errlen, "cannot create a store in %s: %s", dir, pw_strerror(rc));
        goto out;
    }
    ic = (struct import_ctx){.rb = rb, .plans = info.plans, .nplans = info.nplans, .stop = stop};
    rc = pw_archive_read(path, cat, import_record, &ic, &again, err, errlen);
    if (rc != 0 && ic.failed == -EINTR)
        seterr(err, errlen, "interrupted after %" PRIu64 " records; nothing imported", ic.n);
    else if (rc != 0 && ic.failed != 0)
        seterr(err, errlen, "%s: cannot store record %" PRIu64 ": %s", dir, ic.n + 1,
               pw_strerror(rc));
    if (rc != 0)
        goto out;
    if (again.records != info.records || !same_plans(&info, &again)) {
        seterr(err, errlen,
               "%s changed while it was imported (%" PRIu64 " records and %zu plan versions, "
               "then %" PRIu64 " and %zu)",
               path, info.records, info.nplans, again.records, again.nplans);
        rc = PW_EDATA;
        goto out;
    }
    if ((rc = apply_plans(&ic, true)) != 0) {
        seterr(err, errlen, "%s: cannot record the plan versions after the last record: %s", dir,
               pw_strerror(rc));
        goto out;
    }
    if ((rc = pw_rebuild_finish(rb)) != 0) {
        seterr(err, errlen, "%s: cannot commit the imported store: %s", dir, pw_strerror(rc));
        goto out;
    }
    uint64_t applied = 0, skipped = 0;
    pw_rebuild_counts(rb, &applied, &skipped);
    if (applied != info.records || skipped != 0) {
        /* Every record passed pw_msg_check(), so the rebuild should take them all. */
        seterr(err, errlen,
               "%s: the rebuild took %" PRIu64 " of %" PRIu64 " records (%" PRIu64 " skipped)", dir,
               applied, info.records, skipped);
        rc = PW_ESTORE;
        goto out;
    }
out:
    pw_rebuild_destroy(&rb);
    if (rc != 0 && created)
        remove_partial(dir, had_dir, had_store, err, errlen);
    pw_archive_info_clear(&again);
    if (rc == 0 && info_out)
        *info_out = info;
    else
        pw_archive_info_clear(&info);
    return rc;
}
