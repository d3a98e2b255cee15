/* SPDX-License-Identifier: MIT */
/* The msgpack export: its writer, and its reader, which takes only the maps archive.h lists. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "archive_internal.h"
#include "fmt.h"
#include "pw/error.h"

#define MAP_MAX   PW__ARCHIVE_MAP_MAX
#define OBJ_MAX   PW__ARCHIVE_OBJ_MAX
#define PLAN_MAX  PW_ARCHIVE_PLAN_MAX
#define WHERE_MAX PW__ARCHIVE_WHERE

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
    return fwrite(sb->data, 1, sb->size, f) == sb->size ? 0 : pw__archive_io_error();
}

int pw__archive_mp_plan(FILE *f, const char *text, size_t len, int64_t time_ms)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int e = msgpack_pack_map(&pk, 2);
    if (e == 0)
        e = pack_cstr(&pk, "plan");
    if (e == 0)
        e = msgpack_pack_str(&pk, len);
    if (e == 0)
        e = msgpack_pack_str_body(&pk, text, len);
    if (e == 0)
        e = pack_cstr(&pk, "time");
    if (e == 0)
        e = msgpack_pack_int64(&pk, time_ms);
    int rc = e != 0 ? -ENOMEM : write_packed(f, &sb);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int pw__archive_mp_record(FILE *f, const pw_msg_t *rec, pw_buf_t *buf)
{
    int rc = pw_msg_encode(rec, buf);
    if (rc != 0)
        return rc;
    errno = 0;
    return fwrite(buf->data, 1, buf->len, f) == buf->len ? 0 : pw__archive_io_error();
}

/* The count is packed as 0xcf and 8 bytes, so the real one fits over it at the end. */
int pw__archive_mp_header(FILE *f, const unsigned char *digest, size_t nplans, long *count_off)
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
        pw_fmt_hex(digest, 32, hex);
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

int pw__archive_mp_count(FILE *f, long off, uint64_t count)
{
    unsigned char be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)(count >> (56 - 8 * i));
    errno = 0;
    if (fflush(f) != 0 || fseek(f, off, SEEK_SET) != 0 || fwrite(be, 1, 8, f) != 8 ||
        fflush(f) != 0)
        return pw__archive_io_error();
    return 0;
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

/* Reads the header map: version, record count, catalog digest and (version 2) plan versions. */
static int parse_header(const struct pw__archive_src *s, const unsigned char *p, size_t n,
                        pw_archive_info_t *info, uint64_t *announced, uint64_t *plans, char *err,
                        size_t errlen)
{
    static const char *const names[] = {"planwatch_export", "records", "catalog", "plans"};
    const msgpack_object *f[4] = {NULL}; /* version 1 leaves "plans" out */
    char why[WHERE_MAX];
    msgpack_unpacked up;
    int rc = PW_EDATA;
    msgpack_unpacked_init(&up);
    if (!pw__archive_map_unpack(&up, p, n)) {
        pw__archive_seterr(err, errlen, "%s: byte 0: the export header is not a msgpack map",
                           s->path);
        goto out;
    }
    const msgpack_object_map *m = &up.data.via.map;
    const msgpack_object *version = NULL;
    for (uint32_t i = 0; i < m->size; i++) {
        if (pw__archive_str_is(&m->ptr[i].key, "planwatch_export"))
            version = &m->ptr[i].val;
    }
    if (!version) {
        pw__archive_seterr(
            err, errlen,
            "%s: not a planwatch export: its first map has no \"planwatch_export\" field", s->path);
        goto out;
    }
    if (version->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        pw__archive_seterr(err, errlen, "%s: header: planwatch_export is not a version number",
                           s->path);
        goto out;
    }
    if (version->via.u64 < 1 || version->via.u64 > PW_ARCHIVE_VERSION) {
        pw__archive_seterr(err, errlen,
                           "%s: export format version %" PRIu64
                           "; this planwatch reads versions 1 to %d",
                           s->path, version->via.u64, PW_ARCHIVE_VERSION);
        goto out;
    }
    info->version = (unsigned)version->via.u64;
    /* Version 1 exports carry no plan. */
    if (pw__archive_map_fields(m, names, info->version == 1 ? 3 : 4, f, why, sizeof(why)) != 0) {
        pw__archive_seterr(err, errlen, "%s: header: %s", s->path, why);
        goto out;
    }
    const msgpack_object *records = f[1], *catalog = f[2], *nplans = f[3];
    if (!records || records->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        pw__archive_seterr(err, errlen, "%s: header: \"records\" %s", s->path,
                           records ? "is not a count" : "is missing");
        goto out;
    }
    *announced = records->via.u64;
    if (info->version >= 2 && (!nplans || nplans->type != MSGPACK_OBJECT_POSITIVE_INTEGER)) {
        pw__archive_seterr(err, errlen, "%s: header: \"plans\" %s", s->path,
                           nplans ? "is not a count" : "is missing");
        goto out;
    }
    *plans = nplans ? nplans->via.u64 : 0;
    if (!catalog) {
        pw__archive_seterr(err, errlen, "%s: header: \"catalog\" is missing", s->path);
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
            pw__archive_seterr(err, errlen, "%s: header: \"catalog\" is not a 64-digit hex digest",
                               s->path);
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
static int read_plan(const struct pw__archive_src *s, const unsigned char *p, size_t n, uint64_t at,
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
        pw__archive_seterr(why, sizeof(why),
                           "more plan versions than the %" PRIu64 " the header announces",
                           announced);
        goto out;
    }
    if (!pw__archive_map_unpack(&up, p, n)) {
        pw__archive_seterr(why, sizeof(why), "not a msgpack map");
        goto out;
    }
    if (pw__archive_map_fields(&up.data.via.map, names, 2, f, why, sizeof(why)) != 0)
        goto out;
    if (!f[0] || f[0]->type != MSGPACK_OBJECT_STR) {
        pw__archive_seterr(why, sizeof(why), "\"plan\" is not a catalog's text");
        goto out;
    }
    if (!f[1] || f[1]->type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[1]->via.u64 > INT64_MAX) {
        pw__archive_seterr(why, sizeof(why), "\"time\" %s",
                           f[1] ? "is not a time in unix ms" : "is missing");
        goto out;
    }
    rc = pw_catalog_parse("text", f[0]->via.str.ptr, f[0]->via.str.size, &cat, why, sizeof(why));
    if (rc == -ENOMEM)
        goto out;
    if (rc != 0) {
        /* why reads "text:LINE: what". */
        char line[WHERE_MAX];
        snprintf(line, sizeof(line), "%s", why);
        pw__archive_seterr(why, sizeof(why), "not a valid catalog: %s", line);
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
        pw__archive_seterr(err, errlen, "%s: byte %" PRIu64 ": plan version %zu: %s", s->path, at,
                           info->nplans + 1, rc == -ENOMEM ? pw_strerror(rc) : why);
    pw_catalog_destroy(&cat);
    msgpack_unpacked_destroy(&up);
    return rc;
}

/* Where a msgpack read stands. */
struct reader {
    struct pw__archive_src *s;
    const pw_catalog_t *cat;
    pw_archive_record_fn fn;
    void *ctx;
    pw_archive_info_t *info;
    char *err;
    size_t errlen;
    uint64_t announced, got, plans; /* records and plan versions: announced, read */
    bool have_header;
};

/* What the object at hand is, for messages: "the header", "record N" or "plan version K". */
static void what_text(const struct reader *r, bool plan, char what[64])
{
    if (plan)
        snprintf(what, 64, "plan version %zu", r->info->nplans + 1);
    else if (r->have_header)
        snprintf(what, 64, "record %" PRIu64, r->got + 1);
    else
        snprintf(what, 64, "the header");
}

/*
 * Finds the next object, reading more of the file while the window holds
 * only its beginning. 1 with *n_out and *plan_out set, 0 at the end (between
 * objects), or an error with err set.
 */
static int next_object(struct reader *r, size_t *n_out, bool *plan_out)
{
    struct pw__archive_src *s = r->s;
    int x;
    while ((x = pw__archive_map_extent(s->buf + s->pos, s->len - s->pos, n_out, plan_out)) == 0 &&
           !s->eof) {
        size_t had = s->len - s->pos;
        int rc = pw__archive_fill(s);
        /* Cannot happen: pw__archive_map_extent() refuses an object larger than the window. */
        if (rc == 0 && s->len == had && !s->eof)
            rc = -EFBIG;
        if (rc != 0) {
            pw__archive_seterr(r->err, r->errlen, "cannot read %s: %s", s->path, pw_strerror(rc));
            return rc;
        }
    }
    if (x == 1 || (x == 0 && s->pos == s->len))
        return x;
    uint64_t at = s->base + s->pos;
    char what[64];
    what_text(r, *plan_out, what);
    if (x == 0 && *plan_out)
        pw__archive_seterr(r->err, r->errlen,
                           "%s: byte %" PRIu64 ": %s: truncated: the file ends inside it", s->path,
                           at, what);
    else if (x == 0)
        pw__archive_seterr(r->err, r->errlen,
                           "%s: truncated: the file ends inside %s (byte %" PRIu64 ")", s->path,
                           what, at);
    else if (*plan_out)
        pw__archive_seterr(r->err, r->errlen,
                           "%s: byte %" PRIu64 ": %s: not a plan map (a map of at most %d scalar "
                           "fields, its text %d bytes at most, the rest %d)",
                           s->path, at, what, MAP_MAX, PLAN_MAX, OBJ_MAX);
    else
        pw__archive_seterr(r->err, r->errlen,
                           "%s: %s (byte %" PRIu64 "): not an export map (a map of at most %d "
                           "scalar fields, %d bytes at most)",
                           s->path, what, at, MAP_MAX, OBJ_MAX);
    return PW_EDATA;
}

static int on_header(struct reader *r, const unsigned char *obj, size_t n)
{
    const pw_catalog_t *cat = r->cat;
    pw_archive_info_t *info = r->info;
    int rc = parse_header(r->s, obj, n, info, &r->announced, &r->plans, r->err, r->errlen);
    if (rc != 0)
        return rc;
    /* Told before the first record fails to fit: the whole file is another plan's. */
    if (r->plans == 0 && cat && info->has_digest && memcmp(info->digest, cat->digest, 32)) {
        char want[65], have[65];
        pw_fmt_hex(info->digest, 32, want);
        pw_fmt_hex(cat->digest, 32, have);
        pw__archive_seterr(r->err, r->errlen,
                           "%s: exported from a store written with catalog %.16s..., but this "
                           "catalog is %.16s...: import with the catalog the store was written "
                           "with (--catalog FILE)",
                           r->s->path, want, have);
        return PW_EINCOMPAT;
    }
    r->have_header = true;
    return 0;
}

static int on_record(struct reader *r, const unsigned char *obj, size_t n, uint64_t at)
{
    const char *path = r->s->path;
    pw_archive_info_t *info = r->info;
    char what[64];
    what_text(r, false, what);
    if (r->got == r->announced) {
        pw__archive_seterr(r->err, r->errlen,
                           "%s: byte %" PRIu64 ": more records than the %" PRIu64
                           " the header announces",
                           path, at, r->announced);
        return PW_EDATA;
    }
    if (r->plans > 0 && info->nplans == 0) {
        pw__archive_seterr(r->err, r->errlen,
                           "%s: %s (byte %" PRIu64 "): before the first plan version: the file's "
                           "plan versions come before the records they apply to",
                           path, what, at);
        return PW_EDATA;
    }
    r->got++;
    pw_msg_t rec;
    int rc = pw_msg_decode(obj, n, &rec);
    if (rc == 0 && rec.type != PW_MSG_RECORD) {
        pw__archive_seterr(r->err, r->errlen,
                           "%s: %s (byte %" PRIu64 "): a %s message, not a record", path, what, at,
                           pw_msg_type_name(rec.type));
        return PW_EDATA;
    }
    if (rc != 0) {
        pw__archive_seterr(r->err, r->errlen, "%s: %s (byte %" PRIu64 "): %s", path, what, at,
                           pw_strerror(rc));
        return PW_EDATA;
    }
    char where[WHERE_MAX];
    snprintf(where, sizeof(where), "%s: %s (byte %" PRIu64 ")", path, what, at);
    const pw_catalog_t *in_force = info->nplans ? info->plans[info->nplans - 1].cat : r->cat;
    return pw__archive_deliver(where, in_force, info->nplans > 0, &rec, r->fn, r->ctx, r->err,
                               r->errlen);
}

/* After the last object: whether the file holds all the header announces, and agrees with it. */
static int check_end(const struct reader *r)
{
    const char *path = r->s->path;
    const pw_archive_info_t *info = r->info;
    if (!r->have_header) {
        pw__archive_seterr(r->err, r->errlen, "%s: empty: no export header", path);
        return PW_EDATA;
    }
    if (r->got != r->announced) {
        pw__archive_seterr(r->err, r->errlen,
                           "%s: truncated: the header announces %" PRIu64
                           " records, the file holds %" PRIu64,
                           path, r->announced, r->got);
        return PW_EDATA;
    }
    if (info->nplans != r->plans) {
        pw__archive_seterr(r->err, r->errlen,
                           "%s: truncated: the header announces %" PRIu64
                           " plan versions, the file holds %zu",
                           path, r->plans, info->nplans);
        return PW_EDATA;
    }
    /* The store's digest is its latest plan's: anything else is a file made up. */
    const pw_catalog_t *last = info->nplans ? info->plans[info->nplans - 1].cat : NULL;
    if (last && info->has_digest && memcmp(last->digest, info->digest, 32) != 0) {
        pw__archive_seterr(r->err, r->errlen,
                           "%s: header: \"catalog\" is not the digest of the file's last plan "
                           "version (\"%s\")",
                           path, last->name);
        return PW_EDATA;
    }
    return 0;
}

int pw__archive_mp_read(struct pw__archive_src *s, const pw_catalog_t *cat, pw_archive_record_fn fn,
                        void *ctx, pw_archive_info_t *info, char *err, size_t errlen)
{
    struct reader r = {
        .s = s, .cat = cat, .fn = fn, .ctx = ctx, .info = info, .err = err, .errlen = errlen};
    int rc;
    for (;;) {
        size_t n = 0;
        bool plan = false;
        if ((rc = next_object(&r, &n, &plan)) != 1)
            break;
        uint64_t at = s->base + s->pos;
        const unsigned char *obj = s->buf + s->pos;
        s->pos += n;
        if (!r.have_header)
            rc = on_header(&r, obj, n);
        else if (plan)
            rc = read_plan(s, obj, n, at, r.got, r.plans, info, err, errlen);
        else
            rc = on_record(&r, obj, n, at);
        if (rc != 0)
            return rc;
    }
    if (rc == 0)
        rc = check_end(&r);
    if (rc == 0)
        info->records = r.got;
    return rc;
}
