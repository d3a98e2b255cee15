/* SPDX-License-Identifier: MIT */
/*
 * The follow-up's records on disk: a version byte, then fixed-width numbers
 * (big-endian) and strings (a u16 length and the bytes). A reader takes what
 * it knows of a newer record and defaults what an older one lacks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "followup_internal.h"
#include "lmdb_util.h"
#include "pw/error.h"

static void wr_bytes(fu_wr_t *w, const void *p, size_t n)
{
    if (w->err)
        return;
    if (w->len + n > w->cap) {
        size_t ncap = w->cap ? w->cap : 256;
        while (ncap < w->len + n)
            ncap *= 2;
        unsigned char *np = realloc(w->p, ncap);
        if (!np) {
            w->err = -ENOMEM;
            return;
        }
        w->p = np;
        w->cap = ncap;
    }
    memcpy(w->p + w->len, p, n);
    w->len += n;
}

static void wr_u8(fu_wr_t *w, unsigned v)
{
    unsigned char b = (unsigned char)v;
    wr_bytes(w, &b, 1);
}

static void wr_u64(fu_wr_t *w, uint64_t v)
{
    unsigned char b[8];
    pw__put_be64(b, v);
    wr_bytes(w, b, 8);
}

/* A string: u16 length (big-endian), then its bytes without the NUL. */
static void wr_str(fu_wr_t *w, const char *s)
{
    size_t n = strlen(s);
    if (n > 0xffff) {
        w->err = -EINVAL;
        return;
    }
    wr_u8(w, (unsigned)(n >> 8));
    wr_u8(w, (unsigned)(n & 0xff));
    wr_bytes(w, s, n);
}

/* A record reader: past the end a field reads as 0 or "" (a record of an older version). */
typedef struct fu_rd {
    const unsigned char *p;
    size_t len, off;
    bool bad;
} fu_rd_t;

static unsigned rd_u8(fu_rd_t *r)
{
    if (r->off >= r->len)
        return 0;
    return r->p[r->off++];
}

static uint64_t rd_u64(fu_rd_t *r)
{
    if (r->off >= r->len)
        return 0;
    if (r->len - r->off < 8) {
        r->bad = true;
        return 0;
    }
    uint64_t v = pw__get_be64(r->p + r->off);
    r->off += 8;
    return v;
}

static void rd_str(fu_rd_t *r, char *buf, size_t size)
{
    buf[0] = '\0';
    if (r->off >= r->len)
        return;
    if (r->len - r->off < 2) {
        r->bad = true;
        return;
    }
    size_t n = ((size_t)r->p[r->off] << 8) | r->p[r->off + 1];
    r->off += 2;
    if (n >= size || r->len - r->off < n) {
        r->bad = true;
        return;
    }
    memcpy(buf, r->p + r->off, n);
    buf[n] = '\0';
    r->off += n;
}

static fu_rd_t rd_open(const MDB_val *v)
{
    fu_rd_t r = {v->mv_data, v->mv_size, 0, v->mv_size == 0};
    /* The version byte: a newer record starts with what this one knows. */
    (void)rd_u8(&r);
    return r;
}

void pw__fu_put_alert(fu_wr_t *w, const pw_fu_alert_t *a)
{
    wr_u8(w, FU_REC_V);
    wr_str(w, a->indicator);
    wr_str(w, a->series);
    wr_u64(w, a->instance);
    wr_u64(w, (uint64_t)(int64_t)a->period.end);
    wr_u8(w, a->period.months);
    wr_u64(w, (uint64_t)a->opened_ms);
    wr_u64(w, (uint64_t)a->resolved_ms);
    wr_u8(w, a->has_rate);
    wr_u64(w, (uint64_t)a->centi);
    wr_u8(w, (unsigned)a->band);
    wr_str(w, a->why);
    wr_u8(w, (unsigned)a->state);
    wr_str(w, a->assignee);
    wr_str(w, a->acked_by);
    wr_u64(w, (uint64_t)a->acked_ms);
    wr_u64(w, (uint64_t)a->escalated_ms);
    wr_u64(w, a->nactions);
}

int pw__fu_get_alert(const MDB_val *k, const MDB_val *v, pw_fu_alert_t *out)
{
    memset(out, 0, sizeof(*out));
    if (k->mv_size >= sizeof(out->key))
        return PW_ESTORE;
    memcpy(out->key, k->mv_data, k->mv_size);
    fu_rd_t r = rd_open(v);
    rd_str(&r, out->indicator, sizeof(out->indicator));
    rd_str(&r, out->series, sizeof(out->series));
    out->instance = (uint32_t)rd_u64(&r);
    out->period.end = (int32_t)(int64_t)rd_u64(&r);
    out->period.months = (uint8_t)rd_u8(&r);
    out->opened_ms = (int64_t)rd_u64(&r);
    out->resolved_ms = (int64_t)rd_u64(&r);
    out->has_rate = rd_u8(&r) != 0;
    out->centi = (int64_t)rd_u64(&r);
    out->band = (pw_band_t)rd_u8(&r);
    rd_str(&r, out->why, sizeof(out->why));
    out->state = (pw_fu_state_t)rd_u8(&r);
    rd_str(&r, out->assignee, sizeof(out->assignee));
    rd_str(&r, out->acked_by, sizeof(out->acked_by));
    out->acked_ms = (int64_t)rd_u64(&r);
    out->escalated_ms = (int64_t)rd_u64(&r);
    out->nactions = (uint32_t)rd_u64(&r);
    return r.bad || out->state > PW_FU_CLOSED ? PW_ESTORE : 0;
}

void pw__fu_put_action(fu_wr_t *w, const pw_fu_action_t *a)
{
    wr_u8(w, FU_REC_V);
    wr_u64(w, (uint64_t)a->time_ms);
    wr_str(w, a->who);
    wr_u8(w, (unsigned)a->kind);
    wr_str(w, a->text);
}

int pw__fu_get_action(const MDB_val *v, pw_fu_action_t *out)
{
    memset(out, 0, sizeof(*out));
    fu_rd_t r = rd_open(v);
    out->time_ms = (int64_t)rd_u64(&r);
    rd_str(&r, out->who, sizeof(out->who));
    out->kind = (pw_fu_kind_t)rd_u8(&r);
    rd_str(&r, out->text, sizeof(out->text));
    return r.bad ? PW_ESTORE : 0;
}

void pw__fu_put_silence(fu_wr_t *w, const pw_fu_silence_t *s)
{
    wr_u8(w, FU_REC_V);
    wr_u8(w, s->district);
    wr_str(w, s->id);
    wr_u64(w, (uint64_t)s->until_ms);
    wr_u64(w, (uint64_t)s->set_ms);
    wr_str(w, s->who);
    wr_str(w, s->note);
}

int pw__fu_get_silence(const MDB_val *v, pw_fu_silence_t *out)
{
    memset(out, 0, sizeof(*out));
    fu_rd_t r = rd_open(v);
    out->district = rd_u8(&r) != 0;
    rd_str(&r, out->id, sizeof(out->id));
    out->until_ms = (int64_t)rd_u64(&r);
    out->set_ms = (int64_t)rd_u64(&r);
    rd_str(&r, out->who, sizeof(out->who));
    rd_str(&r, out->note, sizeof(out->note));
    return r.bad ? PW_ESTORE : 0;
}

size_t pw__fu_silence_key(char *buf, bool district, const char *id)
{
    size_t n = strnlen(id, PW_ID_MAX - 1);
    buf[0] = district ? 'd' : 'i';
    memcpy(buf + 1, id, n);
    return n + 1;
}

void pw__fu_put_series(unsigned char buf[FU_SERIES_REC], uint32_t last)
{
    buf[0] = FU_REC_V;
    pw__put_be64(buf + 1, last);
}

int pw__fu_get_series(const MDB_val *v, uint32_t *last)
{
    fu_rd_t r = rd_open(v);
    *last = (uint32_t)rd_u64(&r);
    return r.bad ? PW_ESTORE : 0;
}
