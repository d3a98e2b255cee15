/* SPDX-License-Identifier: MIT */
/*
 * The export reader (replay/archive.c) on files made here byte by byte: plan
 * maps larger than the reader's first window, and each malformed plan map
 * refused with the byte it starts at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <msgpack.h>

#include "archive.h"
#include "pw/error.h"
#include "tmpdir.h"

static char dir[64], path[128];

static void setup(void)
{
    cr_assert_eq(pw_tmpdir_make(dir), 0);
    snprintf(path, sizeof(path), "%s/x.mp", dir);
}

static void teardown(void)
{
    pw_tmpdir_remove(dir);
}

TestSuite(archive, .init = setup, .fini = teardown, .timeout = 30.0);

/* A plan of 2 districts and 1 indicator, padded with comment lines to at least pad bytes. */
static char *plan_text(int target, size_t pad, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    cr_assert_not_null(f);
    fprintf(f, "[plan]\nname = plan %d\nbase_year = 2020\ntarget_year = 2025\n", target);
    for (int d = 0; d < 2; d++)
        fprintf(f, "[district d%d]\nname_zh = 区%d\nname_en = D%d\nlevel = district\n", d, d, d);
    fprintf(f,
            "[element e0]\nname_zh = 项\nname_en = E\nunit = u\nkind = amount\n"
            "level = district\n[indicator i0]\nname_zh = 指\nname_en = I\ncategory = c\n"
            "unit = u\nattribute = expected\nbase = 1000\ntarget = %d\ntarget_kind = exact\n"
            "method = linear\nvalue = sum e0\n",
            target);
    for (long n = ftell(f); (size_t)n < pad; n = ftell(f))
        fputs("# a long plan: the reader's window must grow for it\n", f);
    cr_assert_eq(fclose(f), 0);
    return text;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* The header: version 1 has no "plans" (plans < 0 leaves it out of a version 2 one too). */
static void header(msgpack_packer *pk, unsigned version, uint64_t records, const char *digest,
                   int plans)
{
    msgpack_pack_map(pk, plans >= 0 ? 4 : 3);
    pack_str(pk, "planwatch_export");
    msgpack_pack_uint64(pk, version);
    pack_str(pk, "records");
    msgpack_pack_uint64(pk, records);
    pack_str(pk, "catalog");
    if (digest)
        pack_str(pk, digest);
    else
        msgpack_pack_nil(pk);
    if (plans >= 0) {
        pack_str(pk, "plans");
        msgpack_pack_uint64(pk, (uint64_t)plans);
    }
}

static void plan(msgpack_packer *pk, const char *text, size_t len, int64_t time_ms)
{
    msgpack_pack_map(pk, 2);
    pack_str(pk, "plan");
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, text, len);
    pack_str(pk, "time");
    msgpack_pack_int64(pk, time_ms);
}

static void small_plan(msgpack_packer *pk, int target, int64_t time_ms)
{
    size_t len;
    char *text = plan_text(target, 0, &len);
    plan(pk, text, len, time_ms);
    free(text);
}

static void record(msgpack_packer *pk, uint64_t seq)
{
    pw_msg_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.type = PW_MSG_RECORD;
    strcpy(rec.district, "d1");
    strcpy(rec.element, "e0");
    rec.epoch = 7;
    rec.seq = seq;
    cr_assert_eq(pw_period_parse("2021", 4, &rec.period), 0);
    rec.value = 1000.0 + (double)seq;
    rec.observed_ms = 1780000000000;
    rec.received_ms = 1780000000000 + (int64_t)seq;
    rec.kind = PW_RECORD_NEW;
    pw_buf_t buf = {0};
    cr_assert_eq(pw_msg_encode(&rec, &buf), 0);
    msgpack_sbuffer_write(pk->data, buf.data, buf.len); /* as the export writes it */
    pw_buf_free(&buf);
}

static void write_out(const msgpack_sbuffer *sb, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(sb->data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static int count(void *ctx, const pw_msg_t *rec)
{
    (void)rec;
    ++*(uint64_t *)ctx;
    return 0;
}

Test(archive, reads_plans_larger_than_the_first_window)
{
    size_t big_len;
    char *big = plan_text(2000, 200 * 1024, &big_len); /* a str 32, over 3 windows */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    header(&pk, 2, 3, NULL, 2);
    plan(&pk, big, big_len, 1780000000000);
    record(&pk, 1);
    record(&pk, 2);
    small_plan(&pk, 3000, 1780000000500);
    record(&pk, 3);
    write_out(&sb, sb.size);
    msgpack_sbuffer_destroy(&sb);

    pw_archive_info_t info;
    uint64_t n = 0;
    char err[512] = "";
    int rc = pw_archive_read(path, NULL, count, &n, &info, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s: %s", pw_strerror(rc), err);
    cr_assert_eq(n, 3);
    cr_assert_eq(info.version, 2);
    cr_assert_eq(info.records, 3);
    cr_assert_eq(info.nplans, 2);
    cr_assert_eq(info.plans[0].before, 0);
    cr_assert_eq(info.plans[0].time_ms, 1780000000000);
    cr_assert_eq(info.plans[0].cat->text_len, big_len);
    cr_assert_eq(memcmp(info.plans[0].cat->text, big, big_len), 0);
    cr_assert_eq(info.plans[1].before, 2);
    cr_assert_eq(info.plans[1].time_ms, 1780000000500);
    cr_assert_str_eq(info.plans[1].cat->name, "plan 3000");
    pw_archive_info_clear(&info);
    cr_assert_eq(info.nplans, 0);
    free(big);
}

/* Builds a bad file into pk; *at gets the byte its bad plan map starts at. */
typedef void (*build_fn)(msgpack_packer *pk, size_t *at);

static void text_over_bound(msgpack_packer *pk, size_t *at)
{
    header(pk, 2, 0, NULL, 1);
    *at = ((msgpack_sbuffer *)pk->data)->size;
    msgpack_pack_map(pk, 2);
    pack_str(pk, "plan");
    msgpack_pack_str(pk, PW_ARCHIVE_PLAN_MAX + 1); /* only the length: the rest never comes */
    msgpack_pack_str_body(pk, "[plan]\n", 7);
}

static void truncated(msgpack_packer *pk, size_t *at)
{
    header(pk, 2, 0, NULL, 1);
    *at = ((msgpack_sbuffer *)pk->data)->size;
    small_plan(pk, 2000, 1);
    ((msgpack_sbuffer *)pk->data)->size -= 30;
}

static void time_missing(msgpack_packer *pk, size_t *at)
{
    header(pk, 2, 0, NULL, 1);
    *at = ((msgpack_sbuffer *)pk->data)->size;
    msgpack_pack_map(pk, 1);
    pack_str(pk, "plan");
    pack_str(pk, "[plan]\n");
}

static void time_negative(msgpack_packer *pk, size_t *at)
{
    header(pk, 2, 0, NULL, 1);
    *at = ((msgpack_sbuffer *)pk->data)->size;
    small_plan(pk, 2000, -5);
}

static void text_not_a_string(msgpack_packer *pk, size_t *at)
{
    header(pk, 2, 0, NULL, 1);
    *at = ((msgpack_sbuffer *)pk->data)->size;
    msgpack_pack_map(pk, 2);
    pack_str(pk, "plan");
    msgpack_pack_int(pk, 5);
    pack_str(pk, "time");
    msgpack_pack_int(pk, 5);
}

static void plan_twice(msgpack_packer *pk, size_t *at)
{
    header(pk, 2, 0, NULL, 1);
    *at = ((msgpack_sbuffer *)pk->data)->size;
    msgpack_pack_map(pk, 3);
    pack_str(pk, "plan");
    pack_str(pk, "[plan]\n");
    pack_str(pk, "plan");
    pack_str(pk, "[plan]\n");
    pack_str(pk, "time");
    msgpack_pack_int(pk, 5);
}

static void not_a_catalog(msgpack_packer *pk, size_t *at)
{
    header(pk, 2, 0, NULL, 1);
    *at = ((msgpack_sbuffer *)pk->data)->size;
    plan(pk, "[plan]\nname = x\n", 16, 5);
}

static void in_version_1(msgpack_packer *pk, size_t *at)
{
    header(pk, 1, 0, NULL, -1);
    *at = ((msgpack_sbuffer *)pk->data)->size;
    small_plan(pk, 2000, 5);
}

static void one_more_than_announced(msgpack_packer *pk, size_t *at)
{
    header(pk, 2, 0, NULL, 1);
    small_plan(pk, 2000, 5);
    *at = ((msgpack_sbuffer *)pk->data)->size;
    small_plan(pk, 3000, 6);
}

static void fewer_than_announced(msgpack_packer *pk, size_t *at)
{
    *at = 0;
    header(pk, 2, 1, NULL, 2);
    small_plan(pk, 2000, 5);
    record(pk, 1);
}

static void record_before_plan(msgpack_packer *pk, size_t *at)
{
    header(pk, 2, 1, NULL, 1);
    *at = ((msgpack_sbuffer *)pk->data)->size;
    record(pk, 1);
    small_plan(pk, 2000, 5);
}

static void digest_not_the_last_plans(msgpack_packer *pk, size_t *at)
{
    *at = 0;
    header(pk, 2, 0, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
    small_plan(pk, 2000, 5);
}

static void no_plans_count(msgpack_packer *pk, size_t *at)
{
    *at = 0;
    header(pk, 2, 0, NULL, -1);
}

static const struct bad_case {
    const char *name;
    build_fn build;
    const char *want; /* after "x.mp: ", or "x.mp: byte N: " when with_byte */
    bool with_byte;
} bad_cases[] = {
    {"text over the bound", text_over_bound, "plan version 1: not a plan map", true},
    {"truncated", truncated, "plan version 1: truncated", true},
    {"time missing", time_missing, "plan version 1: \"time\" is missing", true},
    {"time negative", time_negative, "plan version 1: \"time\" is not a time in unix ms", true},
    {"text not a string", text_not_a_string, "plan version 1: \"plan\" is not a catalog's text",
     true},
    {"plan twice", plan_twice, "plan version 1: field \"plan\" given twice", true},
    {"not a catalog", not_a_catalog, "plan version 1: not a valid catalog: text:", true},
    {"plan in version 1", in_version_1,
     "plan version 1: more plan versions than the 0 the header announces", true},
    {"one more than announced", one_more_than_announced,
     "plan version 2: more plan versions than the 1 the header announces", true},
    {"fewer than announced", fewer_than_announced,
     "truncated: the header announces 2 plan versions, the file holds 1", false},
    {"record before the first plan", record_before_plan, "before the first plan version", true},
    {"digest not the last plan's", digest_not_the_last_plans,
     "header: \"catalog\" is not the digest of the file's last plan version", false},
    {"no plans count", no_plans_count, "header: \"plans\" is missing", false},
};

Test(archive, refuses_bad_plan_maps_saying_where)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        size_t at = 0;
        c->build(&pk, &at);
        write_out(&sb, sb.size);
        msgpack_sbuffer_destroy(&sb);
        pw_archive_info_t info;
        char err[1024] = "", want[512];
        int rc = pw_archive_read(path, NULL, NULL, NULL, &info, err, sizeof(err));
        pw_archive_info_clear(&info);
        cr_assert_eq(rc, PW_EDATA, "%s: %s (%s)", c->name, pw_strerror(rc), err);
        if (c->build == record_before_plan) /* where a record is, as for any record */
            snprintf(want, sizeof(want), "%s: record 1 (byte %zu): %s", path, at, c->want);
        else if (c->with_byte)
            snprintf(want, sizeof(want), "%s: byte %zu: %s", path, at, c->want);
        else
            snprintf(want, sizeof(want), "%s: %s", path, c->want);
        cr_assert(strstr(err, want), "%s: want \"%s\", got \"%s\"", c->name, want, err);
    }
}
