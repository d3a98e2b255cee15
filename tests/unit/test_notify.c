/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <criterion/criterion.h>

#include "notify.h"
#include "notify_internal.h"
#include "pw/error.h"
#include "pw/text.h"
#include "pw/util.h"
#include "receiver.h"
#include "tmpdir.h"

static char dir[64];
static char routes_path[128];
static char outbox_dir[128];
static pw_test_receiver_t *rcv;
static pw_notify_t *notify;

static void setup(void)
{
    cr_assert_eq(pw_tmpdir_make(dir), 0);
    snprintf(routes_path, sizeof(routes_path), "%s/routes", dir);
    snprintf(outbox_dir, sizeof(outbox_dir), "%s/outbox", dir);
    cr_assert_eq(pw_test_receiver_start(&rcv), 0);
}

static void teardown(void)
{
    pw_notify_destroy(&notify);
    pw_test_receiver_destroy(&rcv);
    pw_tmpdir_remove(dir);
}

TestSuite(notify, .init = setup, .fini = teardown, .timeout = 20.0);

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* Writes the routes file, with PORT standing for the receiver's port. */
static void write_routes(const char *tmpl)
{
    char text[4096];
    const char *at = strstr(tmpl, "PORT");
    cr_assert_not_null(at);
    snprintf(text, sizeof(text), "%.*s%u%s", (int)(at - tmpl), tmpl,
             (unsigned)pw_test_receiver_port(rcv), at + 4);
    write_file(routes_path, text);
}

static void open_notify(void)
{
    char err[256] = "";
    int rc =
        pw_notify_new(routes_path, outbox_dir, "http://dash.example/", &notify, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s: %s", pw_strerror(rc), err);
    pw_notify_set_backoff(notify, 20, 200);
}

static pw_notice_item_t item(const char *indicator, const char *category, pw_alert_action_t a,
                             pw_band_t band, int64_t centi, const char *d1, const char *d2)
{
    pw_notice_item_t it;
    memset(&it, 0, sizeof(it));
    it.ev.type = PW_EV_ALERT;
    snprintf(it.ev.indicator, sizeof(it.ev.indicator), "%s", indicator);
    snprintf(it.category, sizeof(it.category), "%s", category);
    pw_period_parse("2018H1", 6, &it.ev.period);
    it.ev.action = a;
    it.ev.band = band;
    it.ev.has_rate = true;
    it.ev.centi = centi;
    if (d1) {
        snprintf(it.ev.top[it.ev.ntop++].district, PW_ID_MAX, "%s", d1);
    }
    if (d2) {
        snprintf(it.ev.top[it.ev.ntop++].district, PW_ID_MAX, "%s", d2);
    }
    snprintf(it.key, sizeof(it.key), "%s/#1", indicator);
    return it;
}

static pw_notify_stats_t stats(void)
{
    pw_notify_stats_t s;
    pw_notify_stats(notify, &s);
    return s;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls the counters until sent >= want_sent and failures >= want_failures. */
static bool wait_stats(uint64_t want_sent, uint64_t want_failures, int timeout_ms)
{
    int64_t deadline = pw_mono_ms() + timeout_ms;
    for (;;) {
        pw_notify_stats_t s = stats();
        if (s.sent >= want_sent && s.failures >= want_failures)
            return true;
        if (pw_mono_ms() >= deadline)
            return false;
        sleep_ms(10);
    }
}

static int submit_one(const char *id)
{
    pw_notice_item_t it = item("beds_per_1000_elderly", "elderly_care", PW_ALERT_OPEN,
                               PW_BAND_SEVERE, 3520, "jiangan", "qiaokou");
    pw_notice_t n = {.time_ms = 1530403200000LL, .nitems = 1, .items = &it};
    snprintf(n.id, sizeof(n.id), "%s", id);
    return pw_notify_submit(notify, &n);
}

static const char *const example =
    "# receiver NAME TYPE TARGET\n"
    "receiver ops     wecom  https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY\n"
    "receiver bureau  json   http://127.0.0.1:9000/hook\n"
    "receiver director email director@example.org\n"
    "\n"
    "route category=elderly_care -> ops,director\n"
    "route indicator=beds_per_1000_elderly events=open,escalate -> director\n"
    "route district=jiangan events=update -> ops\n"
    "route * -> bureau\n"
    "sendmail /usr/lib/sendmail\n"
    "from planwatch@bureau.example\n"
    "timeout 7   # seconds\n";

Test(notify, parses_a_good_routes_file)
{
    char err[256] = "";
    pw__routes_t *r = NULL;
    write_file(routes_path, example);
    int rc = pw__routes_parse(routes_path, &r, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(r->nrcv, 3);
    cr_assert_eq(r->rcv[0].type, PW__RCV_WECOM);
    cr_assert_eq(r->rcv[1].type, PW__RCV_JSON);
    cr_assert_eq(r->rcv[2].type, PW__RCV_EMAIL);
    cr_assert_str_eq(r->rcv[2].target, "director@example.org");
    cr_assert_eq(r->nroutes, 4);
    cr_assert_eq(r->routes[0].events, PW__EV_DEFAULT);
    cr_assert_eq(r->routes[0].receivers, 0x5u);
    cr_assert_eq(r->routes[1].events, (unsigned)(PW__EV_OPEN | PW__EV_ESCALATE));
    cr_assert_str_eq(r->sendmail, "/usr/lib/sendmail");
    cr_assert_str_eq(r->from, "planwatch@bureau.example");
    cr_assert_eq(r->timeout_s, 7);
    pw__routes_destroy(&r);
    cr_assert_eq(pw_notify_check(routes_path, err, sizeof(err)), 0, "%s", err);
}

Test(notify, reports_each_routes_error_with_its_line)
{
    static const struct {
        const char *text;
        const char *want; /* after "path:" */
    } cases[] = {
        {"receiver a json http://h/x\nroute * -> b\n", "2: unknown receiver: b"},
        {"receiver a sms http://h/x\n", "1: unknown receiver type"},
        {"# c\nreceiver a json ftp://h/x\n", "2: bad URL (http:// or https:// only)"},
        {"receiver a json http://h/x\nreceiver a wecom https://h/y\n", "2: duplicate receiver: a"},
        {"receiver a email not-an-address\n", "1: bad e-mail address"},
        {"receiver A json http://h/x\n", "1: bad receiver name"},
        {"receiver a json\n", "1: expected: receiver NAME TYPE TARGET"},
        {"receiver a json http://h/x\nroute colour=red -> a\n", "2: unknown condition: colour"},
        {"receiver a json http://h/x\nroute events=open,close -> a\n", "2: bad events"},
        {"receiver a json http://h/x\nroute category=x\n", "2: expected: route"},
        {"receiver a json http://h/x\nroute -> a\n", "2: no condition"},
        {"receiver a json http://h/x\n\n\nroute * category=x -> a\n", "4: * takes no other"},
        {"receiver a json http://h/x\nroute category=x category=y -> a\n",
         "2: condition given twice"},
        {"timeout 0\n", "1: timeout wants 1..600 seconds"},
        {"sendmail sendmail\n", "1: sendmail wants an absolute path"},
        {"hello world\n", "1: unknown statement: hello"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "", want[256];
        write_file(routes_path, cases[i].text);
        int rc = pw_notify_check(routes_path, err, sizeof(err));
        snprintf(want, sizeof(want), "%s:%s", routes_path, cases[i].want);
        cr_expect_eq(rc, -EINVAL, "case %zu: rc %d", i, rc);
        cr_expect(strncmp(err, want, strlen(want)) == 0, "case %zu: got \"%s\", want \"%s...\"", i,
                  err, want);
    }
    char err[256] = "";
    cr_expect_eq(pw_notify_check("/nonexistent/routes", err, sizeof(err)), -ENOENT, "%s", err);
}

Test(notify, matches_by_category_indicator_district_and_events)
{
    char err[256] = "";
    pw__routes_t *r = NULL;
    write_file(routes_path, example);
    cr_assert_eq(pw__routes_parse(routes_path, &r, err, sizeof(err)), 0, "%s", err);
    /* Receivers: ops = bit 0, bureau = 1, director = 2. */
    pw_notice_item_t beds = item("beds_per_1000_elderly", "elderly_care", PW_ALERT_OPEN,
                                 PW_BAND_SEVERE, 3520, "hanyang", NULL);
    cr_expect_eq(pw__routes_receivers(r, &beds), 0x7u);
    beds.ev.action = PW_ALERT_RESOLVE; /* category and * routes; not the indicator route */
    cr_expect_eq(pw__routes_receivers(r, &beds), 0x7u);
    pw_notice_item_t other =
        item("gdp", "economy", PW_ALERT_RESOLVE, PW_BAND_LAGGING, 9000, "hanyang", NULL);
    cr_expect_eq(pw__routes_receivers(r, &other), 0x2u);
    other.ev.action = PW_ALERT_UPDATE; /* update is in no default */
    cr_expect_eq(pw__routes_receivers(r, &other), 0x0u);
    snprintf(other.ev.top[0].district, PW_ID_MAX, "jiangan"); /* district=jiangan events=update */
    cr_expect_eq(pw__routes_receivers(r, &other), 0x1u);
    pw_notice_item_t esc =
        item("beds_per_1000_elderly", "", PW_ALERT_OPEN, PW_BAND_SEVERE, 3520, NULL, NULL);
    esc.escalation = true;
    cr_expect_eq(pw__routes_receivers(r, &esc), 0x6u);
    pw__routes_destroy(&r);
}

Test(notify, escapes_json_strings)
{
    pw__sbuf_t b = {0};
    pw__sbuf_json_str(&b, "a\"b\\c\nd\te\x01\x1f 养老床位 \x7f");
    cr_assert_eq(b.rc, 0);
    cr_assert_str_eq(b.p, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u001f 养老床位 \\u007f\"");
    pw__sbuf_free(&b);
}

Test(notify, renders_the_json_webhook_body)
{
    char err[256] = "";
    pw__routes_t *r = NULL;
    write_file(routes_path, example);
    cr_assert_eq(pw__routes_parse(routes_path, &r, err, sizeof(err)), 0, "%s", err);
    pw_notice_item_t it = item("beds_per_1000_elderly", "elderly_care", PW_ALERT_OPEN,
                               PW_BAND_SEVERE, 3520, "jiangan", "qiaokou");
    it.escalation = true;
    snprintf(it.name_zh, sizeof(it.name_zh), "每千名老人\"床位\"");
    const pw_notice_item_t *items[] = {&it};
    pw_notice_t n = {.id = "q42", .time_ms = 5, .nitems = 1, .items = &it};
    pw__sbuf_t body = {0}, ctype = {0};
    cr_assert_eq(pw__render(r, &r->rcv[1], &n, items, 1, "http://d/", &body, &ctype), 0);
    cr_expect_str_eq(ctype.p, "application/json");
    cr_expect_str_eq(
        body.p,
        "{\"decision\":\"q42\",\"time_ms\":5,\"dashboard\":\"http://d/\",\"alerts\":[{"
        "\"key\":\"beds_per_1000_elderly/#1\",\"indicator\":\"beds_per_1000_elderly\","
        "\"series\":\"\",\"category\":\"elderly_care\",\"name\":\"每千名老人\\\"床位\\\"\","
        "\"action\":\"open\",\"period\":\"2018H1\",\"rate\":35.20,\"band\":\"severe\","
        "\"escalation\":true,\"unacked_hours\":0,\"districts\":[\"jiangan\",\"qiaokou\"]}]}");
    pw__sbuf_free(&body);
    pw__sbuf_free(&ctype);
    pw__routes_destroy(&r);
}

Test(notify, sends_one_message_per_receiver_and_decision)
{
    write_routes("receiver bureau json http://127.0.0.1:PORT/hook\nroute * -> bureau\n");
    open_notify();
    pw_notice_item_t its[3] = {
        item("beds_per_1000_elderly", "elderly_care", PW_ALERT_OPEN, PW_BAND_SEVERE, 3520,
             "jiangan", NULL),
        item("gdp", "economy", PW_ALERT_OPEN, PW_BAND_SEVERE, 1000, NULL, NULL),
        item("forest", "ecology", PW_ALERT_RESOLVE, PW_BAND_ON_TRACK, 10100, NULL, NULL),
    };
    pw_notice_t n = {.id = "q7", .time_ms = 1, .nitems = 3, .items = its};
    cr_assert_eq(pw_notify_submit(notify, &n), 0);
    cr_assert(pw_test_receiver_wait_accepted(rcv, 1, 5000));
    cr_assert(wait_stats(1, 0, 2000));
    sleep_ms(200);
    cr_expect_eq(pw_test_receiver_requests(rcv), 1);
    char *head = NULL, *body = pw_test_receiver_body(rcv, 0, &head);
    cr_assert_not_null(body);
    size_t keys = 0;
    for (const char *p = body; (p = strstr(p, "\"key\":")) != NULL; p++)
        keys++;
    cr_expect_eq(keys, 3, "%s", body);
    cr_expect(strstr(body, "\"decision\":\"q7\"") != NULL, "%s", body);
    cr_expect(strstr(head, "post /hook http/1.1") != NULL, "%s", head);
    cr_expect(strstr(head, "content-type: application/json") != NULL, "%s", head);
    free(head);
    free(body);
    pw_notify_stats_t s = stats();
    cr_expect_eq(s.queued, 1);
    cr_expect_eq(s.pending, 0);
}

Test(notify, sends_a_decision_submitted_twice_once)
{
    write_routes("receiver bureau json http://127.0.0.1:PORT/hook\nroute * -> bureau\n");
    open_notify();
    cr_assert_eq(submit_one("q9"), 0);
    cr_assert_eq(submit_one("q9"), 0);
    cr_assert(wait_stats(1, 0, 5000));
    cr_assert_eq(submit_one("q9"), 0); /* after it was sent, too */
    sleep_ms(300);
    cr_expect_eq(pw_test_receiver_requests(rcv), 1);
    pw_notify_stats_t s = stats();
    cr_expect_eq(s.queued, 1);
    cr_expect_eq(s.duplicates, 2);
    cr_expect_eq(s.sent, 1);
}

Test(notify, retries_a_receiver_answering_503)
{
    write_routes("receiver bureau json http://127.0.0.1:PORT/hook\nroute * -> bureau\n");
    pw_test_receiver_script(rcv, 2, 503, "busy");
    open_notify();
    cr_assert_eq(submit_one("q10"), 0);
    cr_assert(pw_test_receiver_wait_accepted(rcv, 1, 5000));
    cr_assert(wait_stats(1, 2, 2000));
    sleep_ms(300);
    cr_expect_eq(pw_test_receiver_requests(rcv), 3);
    cr_expect_eq(pw_test_receiver_accepted(rcv), 1);
    pw_notify_stats_t s = stats();
    cr_expect_eq(s.sent, 1);
    cr_expect_eq(s.failures, 2);
    cr_expect_eq(s.pending, 0);
}

Test(notify, delivers_once_to_a_receiver_down_then_up)
{
    write_routes("receiver bureau json http://127.0.0.1:PORT/hook\nroute * -> bureau\n");
    pw_test_receiver_close(rcv);
    open_notify();
    cr_assert_eq(submit_one("q11"), 0);
    cr_assert(wait_stats(0, 2, 5000));
    cr_assert_eq(pw_test_receiver_reopen(rcv), 0);
    cr_assert(pw_test_receiver_wait_accepted(rcv, 1, 5000));
    cr_assert(wait_stats(1, 2, 2000));
    sleep_ms(300);
    cr_expect_eq(pw_test_receiver_requests(rcv), 1);
    cr_expect_eq(stats().sent, 1);
}

Test(notify, keeps_pending_messages_across_a_restart)
{
    write_routes("receiver bureau json http://127.0.0.1:PORT/hook\nroute * -> bureau\n");
    pw_test_receiver_close(rcv);
    open_notify();
    cr_assert_eq(submit_one("q12"), 0);
    cr_assert(wait_stats(0, 1, 5000));
    pw_notify_destroy(&notify);
    cr_assert_null(notify);
    cr_assert_eq(pw_test_receiver_reopen(rcv), 0);
    open_notify();
    cr_expect_eq(stats().pending, 1);
    cr_assert(pw_test_receiver_wait_accepted(rcv, 1, 5000));
    cr_assert(wait_stats(1, 0, 2000));
    pw_notify_destroy(&notify);
    open_notify();
    cr_expect_eq(stats().pending, 0);
    cr_assert_eq(submit_one("q12"), 0); /* still known after the restart: not sent again */
    sleep_ms(300);
    cr_expect_eq(stats().duplicates, 1);
    cr_expect_eq(pw_test_receiver_requests(rcv), 1);
}

Test(notify, refuses_a_second_notifier_on_the_same_outbox)
{
    write_routes("receiver bureau json http://127.0.0.1:PORT/hook\nroute * -> bureau\n");
    open_notify();
    pw_notify_t *other = NULL;
    char err[256] = "";
    int rc = pw_notify_new(routes_path, outbox_dir, NULL, &other, err, sizeof(err));
    cr_expect_eq(rc, -EBUSY, "%s: %s", pw_strerror(rc), err);
    cr_expect_null(other);
}

Test(notify, sends_nothing_without_a_routes_file)
{
    char err[256] = "";
    int rc = pw_notify_new(NULL, outbox_dir, NULL, &notify, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(submit_one("q13"), 0);
    cr_expect_eq(stats().queued, 0);
}

Test(notify, retries_wecom_errcode)
{
    write_routes("receiver ops wecom http://127.0.0.1:PORT/cgi-bin/webhook/send?key=K\n"
                 "route category=elderly_care -> ops\n");
    pw_test_receiver_set_default(rcv, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}");
    pw_test_receiver_script(rcv, 1, 200, "{\"errcode\": 93000,\"errmsg\":\"invalid webhook url\"}");
    open_notify();
    cr_assert_eq(submit_one("q14"), 0);
    cr_assert(wait_stats(1, 1, 5000));
    sleep_ms(300);
    cr_expect_eq(pw_test_receiver_requests(rcv), 2);
    pw_notify_stats_t s = stats();
    cr_expect_eq(s.sent, 1);
    cr_expect_eq(s.failures, 1);
    char *head = NULL, *body = pw_test_receiver_body(rcv, 1, &head);
    cr_assert_not_null(body);
    const char *want = "{\"msgtype\":\"markdown\",\"markdown\":{\"content\":\"";
    cr_expect(strncmp(body, want, strlen(want)) == 0, "%s", body);
    cr_expect(
        strstr(body, "【planwatch】2018年上半年 新增严重滞后预警 1 项 / 1 new severe alert") !=
            NULL,
        "%s", body);
    cr_expect(strstr(head, "send?key=k") != NULL, "%s", head); /* head is lower-cased */
    free(head);
    free(body);
}

static size_t b64_decode(const char *s, size_t n, unsigned char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    size_t len = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        const char *p = strchr(tab, s[i]);
        if (p == NULL)
            break;
        acc = acc << 6 | (uint32_t)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (unsigned char)(acc >> bits);
        }
    }
    return len;
}

/* Decodes the Subject: header's encoded words into out. */
static void decode_subject(const char *mail, char *out, size_t outlen)
{
    const char *p = strstr(mail, "\nSubject: ");
    size_t len = 0;
    cr_assert_not_null(p);
    const char *end = strstr(p, "\nMIME-Version:");
    cr_assert_not_null(end);
    while ((p = strstr(p, "=?UTF-8?B?")) != NULL && p < end) {
        p += 10;
        const char *q = strstr(p, "?=");
        unsigned char buf[256];
        size_t n = b64_decode(p, (size_t)(q - p), buf);
        cr_assert(len + n < outlen);
        memcpy(out + len, buf, n);
        len += n;
        p = q + 2;
    }
    out[len] = '\0';
}

static void write_fake_sendmail(const char *path, const char *out, bool fail_first)
{
    char script[1024];
    snprintf(script, sizeof(script),
             "#!/bin/sh\n"
             "%s"
             "printf 'ARGS %%s\\n' \"$*\" >> %s\n"
             "cat >> %s\n",
             fail_first ? "if [ ! -e \"$0.failed\" ]; then touch \"$0.failed\"; exit 75; fi\n" : "",
             out, out);
    write_file(path, script);
    cr_assert_eq(chmod(path, 0755), 0);
}

static void email_test(bool fail_first)
{
    char mta[160], out[160], text[1024];
    snprintf(mta, sizeof(mta), "%s/fake-sendmail", dir);
    snprintf(out, sizeof(out), "%s/mail.out", dir);
    write_fake_sendmail(mta, out, fail_first);
    snprintf(text, sizeof(text),
             "sendmail %s\nfrom pw@bureau.example\n"
             "receiver director email director@example.org\nroute * -> director\n",
             mta);
    write_file(routes_path, text);
    open_notify();
    cr_assert_eq(submit_one("q15"), 0);
    cr_assert(wait_stats(1, fail_first ? 1 : 0, 5000));
    char *mail = NULL;
    size_t len = 0;
    cr_assert_eq(pw__text_read_file(out, &mail, &len), 0);
    const char *want = "ARGS -t -oi\nFrom: pw@bureau.example\nTo: director@example.org\n"
                       "Subject: =?UTF-8?B?";
    cr_expect(strncmp(mail, want, strlen(want)) == 0, "%s", mail);
    cr_expect(strstr(mail, "\nContent-Type: text/plain; charset=UTF-8\n") != NULL, "%s", mail);
    cr_expect(strstr(mail, "\nContent-Transfer-Encoding: 8bit\n") != NULL, "%s", mail);
    cr_expect(strstr(mail, "jiangan, qiaokou") != NULL, "%s", mail);
    char subject[512];
    decode_subject(mail, subject, sizeof(subject));
    cr_expect_str_eq(subject,
                     "【planwatch】2018年上半年 新增严重滞后预警 1 项 / 1 new severe alert");
    free(mail);
    pw_notify_stats_t s = stats();
    cr_expect_eq(s.sent, 1);
    cr_expect_eq(s.failures, fail_first ? 1 : 0);
}

Test(notify, mails_through_sendmail_with_an_encoded_subject)
{
    email_test(false);
}

Test(notify, retries_a_mail_the_mta_refused)
{
    email_test(true);
}

Test(notify, never_blocks_on_a_hung_receiver)
{
    write_routes("timeout 1\nreceiver bureau json http://127.0.0.1:PORT/hook\nroute * -> bureau\n");
    pw_test_receiver_hang(rcv, true);
    open_notify();
    int64_t t0 = pw_mono_ms();
    cr_assert_eq(submit_one("q16"), 0);
    cr_assert_eq(submit_one("q17"), 0);
    int64_t took = pw_mono_ms() - t0;
    /* Two outbox commits (each an fsync), far below the attempt's 1 s. */
    cr_expect_lt(took, 500, "submit took %lld ms", (long long)took);
    cr_assert(pw_test_receiver_wait_requests(rcv, 1, 5000));
    t0 = pw_mono_ms();
    pw_notify_destroy(&notify);
    took = pw_mono_ms() - t0;
    cr_expect_lt(took, 2000, "destroy took %lld ms", (long long)took);
}

static pw__msg_t outbox_msg(char *key, int64_t next_ms)
{
    pw__msg_t m;
    memset(&m, 0, sizeof(m));
    m.key = key;
    m.keylen = strlen(key);
    m.type = PW__RCV_JSON;
    m.target = (char *)"http://127.0.0.1:1/";
    m.ctype = (char *)"application/json";
    m.body = (char *)"{}";
    m.bodylen = 2;
    m.state = PW__MSG_PENDING;
    m.next_ms = next_ms;
    return m;
}

Test(notify, outbox_gives_the_earliest_due_first)
{
    pw__outbox_t *ob = NULL;
    uint64_t pending = 9;
    char ka[] = "qa", kb[] = "qb", kc[] = "qc", kd[] = "qd";
    cr_assert_eq(pw__outbox_open(outbox_dir, 1000, 100, &ob, &pending), 0);
    cr_expect_eq(pending, 0);
    pw__msg_t add[] = {outbox_msg(ka, 30), outbox_msg(kb, 10), outbox_msg(kc, 20),
                       outbox_msg(kd, 5000)};
    size_t existing = 9, n = 0;
    cr_assert_eq(pw__outbox_add(ob, add, 4, &existing), 0);
    cr_expect_eq(existing, 0);
    pw__msg_t got[2];
    int64_t next = 0;
    cr_assert_eq(pw__outbox_due(ob, 1000, got, 2, &n, &next), 0);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(got[0].key, "qb");
    cr_expect_str_eq(got[1].key, "qc");
    cr_expect_eq(next, 30);
    cr_expect_str_eq(got[0].body, "{}");
    /* Sent long ago: pruned when the outbox is opened again. */
    got[0].state = PW__MSG_SENT;
    got[0].done_ms = 1;
    got[1].state = PW__MSG_SENT;
    got[1].done_ms = 950;
    cr_assert_eq(pw__outbox_update(ob, &got[0]), 0);
    cr_assert_eq(pw__outbox_update(ob, &got[1]), 0);
    pw__msg_free(&got[0]);
    pw__msg_free(&got[1]);
    pw__outbox_destroy(&ob);
    cr_assert_null(ob);
    cr_assert_eq(pw__outbox_open(outbox_dir, 1000, 100, &ob, &pending), 0);
    cr_expect_eq(pending, 2);
    cr_assert_eq(pw__outbox_add(ob, add, 4, &existing), 0);
    cr_expect_eq(existing, 3, "qb pruned, qc kept, qa and qd pending");
    pw__outbox_destroy(&ob);
}

Test(notify, renders_wecom_text_with_escalations_and_a_length_cap)
{
    char err[256] = "";
    pw__routes_t *r = NULL;
    write_file(routes_path, example);
    cr_assert_eq(pw__routes_parse(routes_path, &r, err, sizeof(err)), 0, "%s", err);
    pw_notice_item_t its[3] = {
        item("gdp", "economy", PW_ALERT_OPEN, PW_BAND_LAGGING, 8000, NULL, NULL),
        item("forest", "ecology", PW_ALERT_RESOLVE, PW_BAND_ON_TRACK, 10100, NULL, NULL),
        item("beds_per_1000_elderly", "elderly_care", PW_ALERT_OPEN, PW_BAND_SEVERE, -250,
             "jiangan", NULL),
    };
    its[2].escalation = true;
    its[2].unacked_hours = 48;
    const pw_notice_item_t *items[] = {&its[0], &its[1], &its[2]};
    pw_notice_t n = {.id = "q50", .time_ms = 5, .nitems = 3, .items = its};
    pw__sbuf_t body = {0}, ctype = {0};
    cr_assert_eq(pw__render(r, &r->rcv[0], &n, items, 3, NULL, &body, &ctype), 0);
    cr_expect(strstr(body.p, "【planwatch】2018年上半年 新增进展缓慢预警 1 项，解除预警 1 项，"
                             "超过48小时未确认预警 1 项 / 1 new lagging alert, 1 resolved, 1 "
                             "unacknowledged for over 48 h\\n") != NULL,
              "%s", body.p);
    cr_expect(strstr(body.p,
                     "- 超过48小时未确认 / unacknowledged over 48 h：beds_per_1000_elderly "
                     "完成率 / rate -2.50% 严重滞后 / severe；主要地区 / districts: jiangan") !=
                  NULL,
              "%s", body.p);
    pw__sbuf_free(&body);
    pw__sbuf_free(&ctype);
    /* 200 alerts: cut under WeCom's 4096 bytes, at a line. */
    pw_notice_item_t *many = calloc(200, sizeof(*many));
    const pw_notice_item_t **ptrs = calloc(200, sizeof(*ptrs));
    cr_assert(many && ptrs);
    for (size_t i = 0; i < 200; i++) {
        many[i] = its[0];
        ptrs[i] = &many[i];
    }
    n.items = many;
    n.nitems = 200;
    cr_assert_eq(pw__render(r, &r->rcv[0], &n, ptrs, 200, "http://d/", &body, &ctype), 0);
    cr_expect_lt(body.len, 4096 + 200);
    cr_expect(strstr(body.p, "……（其余见看板 / more on the dashboard）\\n看板 / dashboard: "
                             "http://d/\\n\"}}") != NULL,
              "%s", body.p);
    pw__sbuf_free(&body);
    pw__sbuf_free(&ctype);
    free(many);
    free(ptrs);
    pw__routes_destroy(&r);
}
