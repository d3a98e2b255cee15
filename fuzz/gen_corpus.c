/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "pw/bureau.h"
#include "pw/error.h"
#include "pw/event.h"
#include "pw/msg.h"

/*
 * Writes the binary seeds of fuzz/corpus/msg, fuzz/corpus/bureau and
 * fuzz/corpus/archive: frames and exports made by our own encoders, plus a
 * few near-valid variants of them (cut short, one byte changed). Run:
 * fuzz_gen_corpus fuzz/corpus (the text seeds of catalog/ and datafile/ are
 * lines of data/wuhan).
 */

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "fuzz_gen_corpus: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int rc = fwrite(data, 1, len, f) == len ? 0 : 1;
    rc |= fclose(f) != 0;
    return rc;
}

/* The frame, the frame cut in half, and the frame with its last byte flipped. */
static int write_variants(const char *dir, const char *name, const pw_buf_t *buf)
{
    char vname[128];
    char copy[PW_MSG_MAXSIZE];
    int rc = write_file(dir, name, buf->data, buf->len);
    if (buf->len < 2 || buf->len > sizeof copy)
        return rc;
    snprintf(vname, sizeof vname, "%s-cut", name);
    rc |= write_file(dir, vname, buf->data, buf->len / 2);
    memcpy(copy, buf->data, buf->len);
    copy[buf->len - 1] ^= 0x01;
    snprintf(vname, sizeof vname, "%s-flip", name);
    rc |= write_file(dir, vname, copy, buf->len);
    return rc;
}

static int msg_seeds(const char *dir)
{
    pw_buf_t buf = {0};
    int rc = 0;
    pw_msg_t m;

    memset(&m, 0, sizeof m);
    m.type = PW_MSG_HELLO;
    snprintf(m.district, sizeof m.district, "jiangan");
    m.epoch = 1732861417123ull;
    m.spool_head = 114;
    rc |= pw_msg_encode(&m, &buf) || write_variants(dir, "hello", &buf);
    m.frame_max = PW_FRAME_UPDATES_MAX;
    rc |= pw_msg_encode(&m, &buf) || write_variants(dir, "hello-b", &buf);
    m.frame_max = 0;

    m.type = PW_MSG_WELCOME;
    m.seq = 83;
    rc |= pw_msg_encode(&m, &buf) || write_variants(dir, "welcome", &buf);
    m.frame_max = PW_FRAME_UPDATES_MAX;
    rc |= pw_msg_encode(&m, &buf) || write_variants(dir, "welcome-b", &buf);
    m.frame_max = 0;

    m.type = PW_MSG_UPDATE;
    m.seq = 84;
    snprintf(m.element, sizeof m.element, "elderly_care_beds");
    rc |= pw_period_parse("2018H1", 6, &m.period);
    m.value = 5230;
    m.observed_ms = 1530403200000;
    rc |= pw_msg_encode(&m, &buf) || write_variants(dir, "update", &buf);
    /* A frame of three updates, as collectors send them. */
    pw_buf_t frame = {0};
    for (int i = 0; i < 3 && rc == 0; i++) {
        m.seq = 84 + (uint64_t)i;
        rc |= pw_msg_encode(&m, &buf) || pw_buf_append(&frame, buf.data, buf.len);
    }
    rc |= write_variants(dir, "updates-3", &frame);
    pw_buf_free(&frame);
    m.seq = 84;

    snprintf(m.district, sizeof m.district, "wuhan");
    snprintf(m.element, sizeof m.element, "urban_dibao_standard");
    rc |= pw_period_parse("2018-07", 7, &m.period);
    m.value = 0.125;
    rc |= pw_msg_encode(&m, &buf) || write_variants(dir, "update-city", &buf);

    m.type = PW_MSG_RECORD;
    m.received_ms = 1530403201000;
    m.kind = PW_RECORD_REVISION;
    rc |= pw_msg_encode(&m, &buf) || write_variants(dir, "record", &buf);

    m.type = PW_MSG_ACK;
    rc |= pw_msg_encode(&m, &buf) || write_variants(dir, "ack", &buf);

    m.type = PW_MSG_NACK;
    m.reason = PW_EREPORTER;
    snprintf(m.text, sizeof m.text, "%s", pw_strerror(PW_EREPORTER));
    rc |= pw_msg_encode(&m, &buf) || write_variants(dir, "nack", &buf);

    /* Hostile classics: amplification (msgpack-c #985), never-used byte, ext. */
    rc |= write_file(dir, "array32-huge", "\xdd\xff\xff\xff\xff", 5);
    rc |= write_file(dir, "map32-huge", "\xdf\xff\xff\xff\xff", 5);
    rc |= write_file(dir, "never-used", "\xc1", 1);
    rc |= write_file(dir, "fixext", "\x81\xa2pv\xd4\x01\x01", 7);
    pw_buf_free(&buf);
    return rc;
}

static void sample_event(pw_event_t *ev, pw_event_type_t type)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->seq = 4242;
    ev->time_ms = 1530403201000;
    if (type == PW_EV_HB)
        return;
    snprintf(ev->indicator, sizeof ev->indicator, "beds_per_1000_elderly");
    pw_period_parse("2018H1", 6, &ev->period);
    ev->has_value = true;
    ev->value = 38.7;
    ev->has_rate = true;
    ev->centi = 2615;
    ev->band = PW_BAND_SEVERE;
    ev->have = 13;
    ev->want = 13;
    if (type == PW_EV_RATE)
        return;
    ev->action = PW_ALERT_OPEN;
    snprintf(ev->why, sizeof ev->why, "period 2018H1 complete (13/13 reporters)");
    ev->has_detail = true;
    ev->planned = 43.5;
    ev->target = 50;
    ev->needed_per_year = 4.52;
    ev->ntop = 2;
    snprintf(ev->top[0].district, sizeof ev->top[0].district, "hongshan");
    ev->top[0].value = 31.1;
    ev->top[0].weight = 0.169;
    ev->top[0].shortfall = 2.1;
    snprintf(ev->top[1].district, sizeof ev->top[1].district, "wuchang");
    ev->top[1].value = 32.28;
    ev->top[1].weight = 0.122;
    ev->top[1].shortfall = 1.4;
}

static int bureau_seeds(const char *dir)
{
    pw_buf_t buf = {0};
    pw_request_t req;
    pw_reply_t rep;
    pw_event_t ev;
    int rc = 0;

    memset(&req, 0, sizeof req);
    req.type = PW_REQ_SNAP;
    rc |= pw_request_encode(&req, &buf) || write_variants(dir, "req-snap", &buf);
    req.type = PW_REQ_RANGE;
    req.from = 10;
    req.to = 20;
    rc |= pw_request_encode(&req, &buf) || write_variants(dir, "req-range", &buf);
    req.type = PW_REQ_STATUS;
    req.has_period = true;
    rc |= pw_period_parse("2018H1", 6, &req.period);
    rc |= pw_request_encode(&req, &buf) || write_variants(dir, "req-status", &buf);
    req.type = PW_REQ_ALERTS;
    req.from = 1530403200000;
    rc |= pw_request_encode(&req, &buf) || write_variants(dir, "req-alerts", &buf);
    req.type = PW_REQ_DISTRICT;
    snprintf(req.district, sizeof req.district, "hongshan");
    rc |= pw_request_encode(&req, &buf) || write_variants(dir, "req-district", &buf);
    req.type = PW_REQ_ROWS;
    req.from = 2048;
    rc |= pw_request_encode(&req, &buf) || write_variants(dir, "req-rows", &buf);

    const pw_event_type_t types[] = {PW_EV_RATE, PW_EV_ALERT, PW_EV_HB};
    const char *const names[] = {"ev-rate", "ev-alert", "ev-hb"};
    for (size_t i = 0; i < 3; i++) {
        sample_event(&ev, types[i]);
        rc |= pw_event_encode(&ev, &buf) || write_variants(dir, names[i], &buf);
    }

    memset(&rep, 0, sizeof rep);
    rep.type = PW_REQ_SNAP;
    rep.seq = 4242;
    sample_event(&ev, PW_EV_RATE);
    rc |= pw_reply_add(&rep, 0, &ev);
    sample_event(&ev, PW_EV_ALERT);
    rc |= pw_reply_add(&rep, 1, &ev);
    pw_district_status_t st;
    memset(&st, 0, sizeof st);
    snprintf(st.district, sizeof st.district, "xinzhou");
    st.last_seen_ms = 1530403200000;
    st.epoch = 7;
    st.last_seq = 83;
    st.expected = 31;
    snprintf(st.missing, sizeof st.missing, "assistance_applicants verified_applicants");
    rc |= pw_reply_add_status(&rep, &st);
    rc |= pw_reply_encode(&rep, &buf) || write_variants(dir, "rep-snap", &buf);
    rep.type = PW_REQ_STATUS;
    rep.has_period = true;
    rc |= pw_period_parse("2018H1", 6, &rep.period);
    rc |= pw_reply_encode(&rep, &buf) || write_variants(dir, "rep-status", &buf);
    rep.type = PW_REQ_RANGE;
    rep.has_period = false;
    rc |= pw_reply_add(&rep, 2, &ev);
    sample_event(&ev, PW_EV_RATE);
    rc |= pw_reply_add(&rep, 2, &ev);
    rc |= pw_reply_encode(&rep, &buf) || write_variants(dir, "rep-range", &buf);
    rep.type = PW_REQ_DISTRICT;
    rep.has_period = true;
    rc |= pw_reply_encode(&rep, &buf) || write_variants(dir, "rep-district", &buf);
    rep.type = PW_REQ_ROWS;
    rep.has_period = false;
    rep.has_next = true;
    rep.next = 3072;
    rc |= pw_reply_encode(&rep, &buf) || write_variants(dir, "rep-rows", &buf);
    pw_reply_clear(&rep);
    pw_buf_free(&buf);
    return rc;
}

/* A plan of two districts and one indicator, padded with comment lines to pad bytes. */
static char *plan_text(int target, size_t pad, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (f == NULL)
        return NULL;
    fprintf(f,
            "[plan]\nname = plan %d\nbase_year = 2020\ntarget_year = 2025\n"
            "[district d0]\nname_zh = 区0\nname_en = D0\nlevel = district\n"
            "[district d1]\nname_zh = 区1\nname_en = D1\nlevel = district\n"
            "[element e0]\nname_zh = 项\nname_en = E\nunit = u\nkind = amount\n"
            "level = district\n[indicator i0]\nname_zh = 指\nname_en = I\ncategory = c\n"
            "unit = u\nattribute = expected\nbase = 1000\ntarget = %d\ntarget_kind = exact\n"
            "method = linear\nvalue = sum e0\n",
            target, target);
    for (long n = ftell(f); n >= 0 && (size_t)n < pad; n = ftell(f))
        fputs("# a long plan: the reader's window grows for it\n", f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str(pk, strlen(s)) || msgpack_pack_str_body(pk, s, strlen(s));
}

/* An export's header, as replay/archive.c writes it (version 1: no "plans"). */
static int pack_header(msgpack_packer *pk, unsigned version, uint64_t records, size_t plans)
{
    return msgpack_pack_map(pk, version == 1 ? 3 : 4) || pack_cstr(pk, "planwatch_export") ||
           msgpack_pack_uint64(pk, version) || pack_cstr(pk, "records") ||
           msgpack_pack_fix_uint64(pk, records) || pack_cstr(pk, "catalog") ||
           msgpack_pack_nil(pk) ||
           (version != 1 && (pack_cstr(pk, "plans") || msgpack_pack_uint64(pk, plans)));
}

static int pack_plan(msgpack_packer *pk, int target, size_t pad, int64_t time_ms)
{
    size_t len = 0;
    char *text = plan_text(target, pad, &len);
    int rc = text == NULL || msgpack_pack_map(pk, 2) || pack_cstr(pk, "plan") ||
             msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, text, len) ||
             pack_cstr(pk, "time") || msgpack_pack_int64(pk, time_ms);
    free(text);
    return rc;
}

static int pack_record(msgpack_sbuffer *sb, const char *district, const char *element,
                       const char *period, uint64_t seq)
{
    pw_msg_t m;
    pw_buf_t buf = {0};
    memset(&m, 0, sizeof m);
    m.type = PW_MSG_RECORD;
    snprintf(m.district, sizeof m.district, "%s", district);
    snprintf(m.element, sizeof m.element, "%s", element);
    m.epoch = 1732861417123ull;
    m.seq = seq;
    m.value = 5230 + (double)seq;
    m.observed_ms = 1530403200000;
    m.received_ms = 1530403200500 + (int64_t)seq;
    m.kind = seq == 1 ? PW_RECORD_NEW : PW_RECORD_REVISION;
    int rc = pw_period_parse(period, strlen(period), &m.period) || pw_msg_encode(&m, &buf) ||
             msgpack_sbuffer_write(sb, buf.data, buf.len);
    pw_buf_free(&buf);
    return rc;
}

static int write_sbuffer(const char *dir, const char *name, const msgpack_sbuffer *sb)
{
    pw_buf_t buf = {sb->data, sb->size, sb->size};
    return write_variants(dir, name, &buf);
}

/* Exports: version 2 with a revised plan, with a plan over the first read window, version 1. */
static int archive_seeds(const char *dir)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc = 0;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rc |= pack_header(&pk, 2, 3, 2) || pack_plan(&pk, 2000, 0, 1530403200000) ||
          pack_record(&sb, "d1", "e0", "2021", 1) || pack_record(&sb, "d1", "e0", "2021", 2) ||
          pack_plan(&pk, 3000, 0, 1530403300000) || pack_record(&sb, "d1", "e0", "2021", 3) ||
          write_sbuffer(dir, "v2-revised", &sb);
    msgpack_sbuffer_clear(&sb);
    rc |= pack_header(&pk, 2, 0, 1) || pack_plan(&pk, 2000, 0, 1530403200000) ||
          write_sbuffer(dir, "v2-plan-only", &sb);
    msgpack_sbuffer_clear(&sb);
    rc |= pack_header(&pk, 2, 1, 1) || pack_plan(&pk, 2000, 70 * 1024, 1530403200000) ||
          pack_record(&sb, "d0", "e0", "2021", 1) || write_sbuffer(dir, "v2-large-plan", &sb);
    msgpack_sbuffer_clear(&sb);
    rc |= pack_header(&pk, 1, 2, 0) || pack_record(&sb, "jiangan", "care_beds", "2018H1", 1) ||
          pack_record(&sb, "jiangan", "care_beds", "2018H1", 2) || write_sbuffer(dir, "v1", &sb);
    msgpack_sbuffer_destroy(&sb);
    static char csv[] =
        "seq,district,epoch,record_seq,element,period,value,observed_ms,received_ms,kind\n"
        "1,jiangan,7,1,care_beds,2018H1,5230,1530403200000,1530403200500,new\n"
        "2,jiangan,7,2,care_beds,2018H1,5231,1530403200000,1530403200600,revision\n";
    pw_buf_t text = {csv, sizeof csv - 1, sizeof csv - 1};
    rc |= write_variants(dir, "csv", &text);
    return rc;
}

int main(int argc, char **argv)
{
    char dir[400];
    if (argc != 2) {
        fprintf(stderr,
                "usage: fuzz_gen_corpus CORPUS_DIR (with msg/, bureau/ and archive/ in it)\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s/msg", argv[1]);
    int rc = msg_seeds(dir);
    snprintf(dir, sizeof dir, "%s/bureau", argv[1]);
    rc |= bureau_seeds(dir);
    snprintf(dir, sizeof dir, "%s/archive", argv[1]);
    rc |= archive_seeds(dir);
    return rc ? 1 : 0;
}
