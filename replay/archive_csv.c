/* SPDX-License-Identifier: MIT */
/* The CSV export: one line per record, written and read back exactly. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_internal.h"
#include "pw/error.h"

#define CSV_HEADER     "seq,district,epoch,record_seq,element,period,value,observed_ms,received_ms,kind"
#define CSV_FIELDS     10
#define LINE_MAX_BYTES 1024 /* no valid line comes near this */
#define UTF8_BOM       PW__ARCHIVE_UTF8_BOM
#define WHERE_MAX      PW__ARCHIVE_WHERE

static const char *const kind_names[] = {"new", "revision", "same"};

int pw__archive_csv_header(FILE *f)
{
    errno = 0;
    return fputs(CSV_HEADER "\n", f) == EOF ? pw__archive_io_error() : 0;
}

int pw__archive_csv_record(FILE *f, uint64_t logseq, const pw_msg_t *rec)
{
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(rec->period, ptext);
    const char *kind = (unsigned)rec->kind <= PW_RECORD_SAME ? kind_names[rec->kind] : "?";
    errno = 0;
    if (fprintf(f,
                "%" PRIu64 ",%s,%" PRIu64 ",%" PRIu64 ",%s,%s,%.17g,%" PRId64 ",%" PRId64 ",%s\n",
                logseq, rec->district, rec->epoch, rec->seq, rec->element, ptext, rec->value,
                rec->observed_ms, rec->received_ms, kind) < 0)
        return pw__archive_io_error();
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
        pw__archive_seterr(why, len, "%zu fields, expected %d (%s)", n, CSV_FIELDS, CSV_HEADER);
        return PW_EDATA;
    }
    memset(rec, 0, sizeof(*rec));
    rec->type = PW_MSG_RECORD;
    if (!parse_u64(f[0], seq_out) || *seq_out == 0) {
        pw__archive_seterr(why, len, "seq '%s' is not a positive integer", shown(f[0], q));
        return PW_EDATA;
    }
    if (!parse_id(f[1], rec->district)) {
        pw__archive_seterr(why, len, "district '%s' is not an id ([a-z0-9_], 1 to %d bytes)",
                           shown(f[1], q), PW_ID_MAX - 1);
        return PW_EDATA;
    }
    if (!parse_u64(f[2], &rec->epoch) || rec->epoch == 0) {
        pw__archive_seterr(why, len, "epoch '%s' is not a positive integer", shown(f[2], q));
        return PW_EDATA;
    }
    if (!parse_u64(f[3], &rec->seq) || rec->seq == 0) {
        pw__archive_seterr(why, len, "record_seq '%s' is not a positive integer", shown(f[3], q));
        return PW_EDATA;
    }
    if (!parse_id(f[4], rec->element)) {
        pw__archive_seterr(why, len, "element '%s' is not an id ([a-z0-9_], 1 to %d bytes)",
                           shown(f[4], q), PW_ID_MAX - 1);
        return PW_EDATA;
    }
    if (pw_period_parse(f[5], strlen(f[5]), &rec->period) != 0) {
        pw__archive_seterr(why, len, "period '%s' is not a period (2016, 2018H1, 2018Q3, 2018-07)",
                           shown(f[5], q));
        return PW_EDATA;
    }
    if (!parse_value(f[6], &rec->value)) {
        pw__archive_seterr(why, len, "value '%s' is not a finite decimal number", shown(f[6], q));
        return PW_EDATA;
    }
    if (!parse_ms(f[7], &rec->observed_ms)) {
        pw__archive_seterr(why, len, "observed_ms '%s' is not a positive time in unix ms",
                           shown(f[7], q));
        return PW_EDATA;
    }
    if (!parse_ms(f[8], &rec->received_ms)) {
        pw__archive_seterr(why, len, "received_ms '%s' is not a positive time in unix ms",
                           shown(f[8], q));
        return PW_EDATA;
    }
    size_t k = 0;
    while (k < 3 && strcmp(f[9], kind_names[k]) != 0)
        k++;
    if (k == 3) {
        pw__archive_seterr(why, len, "kind '%s' is not new, revision or same", shown(f[9], q));
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
        pw__archive_seterr(why, len, "not a valid record: %s", pw_strerror(rc));
        return PW_EDATA;
    }
    *rec = back;
    return 0;
}

int pw__archive_csv_read(struct pw__archive_src *s, const pw_catalog_t *cat,
                         pw_archive_record_fn fn, void *ctx, pw_archive_info_t *info, char *err,
                         size_t errlen)
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
            if ((rc = pw__archive_fill(s)) != 0)
                pw__archive_seterr(err, errlen, "cannot read %s: %s", s->path, pw_strerror(rc));
            continue;
        }
        if (!nl && avail == 0)
            break;
        size_t n = nl ? (size_t)(nl - start) : avail;
        if (n > LINE_MAX_BYTES) {
            pw__archive_seterr(err, errlen, "%s:%" PRIu64 ": line longer than %d bytes", s->path,
                               line + 1, LINE_MAX_BYTES);
            rc = PW_EDATA;
            break;
        }
        if (!nl) {
            pw__archive_seterr(err, errlen,
                               "%s:%" PRIu64 ": the last line has no newline: truncated file?",
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
            pw__archive_seterr(err, errlen, "%s:%" PRIu64 ": NUL byte in the line", s->path, line);
            rc = PW_EDATA;
            break;
        }
        if (line == 1) {
            const char *h = strncmp(text, UTF8_BOM, 3) == 0 ? text + 3 : text;
            if (strcmp(h, CSV_HEADER) != 0) {
                pw__archive_seterr(err, errlen, "%s:1: the header line is not \"" CSV_HEADER "\"",
                                   s->path);
                rc = PW_EDATA;
            }
            continue;
        }
        pw_msg_t rec;
        uint64_t seq = 0;
        rc = parse_line(text, &rec, &seq, why, sizeof(why));
        if (rc == 0 && seq <= prev_seq) {
            pw__archive_seterr(why, sizeof(why),
                               "seq %" PRIu64 " after %" PRIu64 ": not in log order", seq,
                               prev_seq);
            rc = PW_EDATA;
        }
        if (rc == 0)
            rc = normalise(&rec, &buf, why, sizeof(why));
        if (rc != 0) {
            pw__archive_seterr(err, errlen, "%s:%" PRIu64 ": %s", s->path, line,
                               rc == -ENOMEM ? pw_strerror(rc) : why);
            break;
        }
        prev_seq = seq;
        got++;
        char where[WHERE_MAX];
        snprintf(where, sizeof(where), "%s:%" PRIu64, s->path, line);
        rc = pw__archive_deliver(where, cat, false, &rec, fn, ctx, err, errlen);
    }
    pw_buf_free(&buf);
    if (rc == 0 && line == 0) {
        pw__archive_seterr(err, errlen, "%s: empty: no CSV header line", s->path);
        rc = PW_EDATA;
    }
    info->records = got;
    return rc;
}
