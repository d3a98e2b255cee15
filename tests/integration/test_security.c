/* SPDX-License-Identifier: MIT */
/*
 * CURVE and the ZAP handler, with real processes and real keys made by
 * planwatch keygen: a district key cannot speak for another district, an
 * unknown key gets nothing through, a subscriber without a desk key receives
 * nothing, and a key revoked (or rotated) at a SIGHUP stops working.
 */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "fixture.h"
#include "pw/auth.h"
#include "pw/error.h"
#include "pw/msg.h"
#include "pw/util.h"
#include "wire.h"

#define DATA PW_SOURCE_DIR "/data/wuhan"

static pw_fixture_t fx;
static void *zctx;
static void *socks[64]; /* closed at teardown, or zmq_ctx_term would wait for them */
static size_t nsocks;

static void close_sock(void *s)
{
    for (size_t i = 0; i < nsocks; i++)
        if (socks[i] == s)
            socks[i] = NULL;
    zmq_close(s);
}

static void keygen(char *out)
{
    char *args[] = {"keygen", "--out", out, NULL}, *o, *e;
    cr_assert_eq(pw_fixture_run(&fx, args, 30000, &o, &e), 0, "keygen failed: %s", e);
    free(o);
    free(e);
}

static void start_aggregator(void)
{
    char *args[] = {"--keys", fx.keys, NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&fx, args), 0, "aggregator not ready");
}

static void start_publisher(void)
{
    char *args[] = {"--snapshot-bind", fx.snap, "--keys", fx.keys, NULL};
    cr_assert_eq(pw_fixture_start_publisher(&fx, args), 0, "publisher not ready");
}

static void setup(void)
{
    cr_assert_eq(pw_fixture_open(&fx), 0);
    cr_assert_eq(pw_fixture_use_tcp(&fx), 0);
    keygen(fx.keys);
    start_aggregator();
    zctx = zmq_ctx_new();
}

static void teardown(void)
{
    for (size_t i = 0; i < nsocks; i++)
        if (socks[i])
            zmq_close(socks[i]);
    nsocks = 0;
    if (zctx)
        zmq_ctx_term(zctx);
    zctx = NULL;
    pw_fixture_close(&fx);
}

TestSuite(security, .init = setup, .fini = teardown, .timeout = 240.0);

/* A CURVE client socket of type t holding DIR/SUB/NAME.secret, connected to ep. */
static void *curve_socket(int type, const char *kdir, const char *sub, const char *name,
                          const char *server, const char *ep)
{
    void *s = zmq_socket(zctx, type);
    cr_assert(s && nsocks < 64);
    socks[nsocks++] = s;
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (kdir)
        cr_assert_eq(pw_curve_client_setup(s, ep, kdir, sub, name, server, false), 0,
                     "no key %s/%s/%s", kdir, sub, name);
    cr_assert_eq(zmq_connect(s, ep), 0);
    return s;
}

static void feed_jiangan(char *kdir, int expect);

/* Runs jiangan's collector on its data with spool dir/spool_name and extra
 * options; its exit code, stdout and stderr (caller frees). */
static int collect_jiangan(const char *spool_name, char *const extra[], char **out, char **err)
{
    char spool[160];
    snprintf(spool, sizeof(spool), "%s/%s", fx.dir, spool_name);
    return pw_fixture_collect(&fx, "jiangan", DATA "/districts/jiangan.csv", spool, extra, out,
                              err);
}

static void send_msg(void *s, const pw_msg_t *m)
{
    cr_assert_eq(pw_wire_send(s, m), 0);
}

static bool recv_msg(void *s, int timeout_ms, pw_msg_t *m)
{
    return pw_wire_recv(s, timeout_ms, m);
}

static pw_msg_t hello_of(const char *district, uint64_t epoch)
{
    pw_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = PW_MSG_HELLO;
    snprintf(m.district, sizeof(m.district), "%s", district);
    m.epoch = epoch;
    return m;
}

static pw_msg_t update_of(const char *district, uint64_t epoch, uint64_t seq, double v)
{
    pw_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = PW_MSG_UPDATE;
    snprintf(m.district, sizeof(m.district), "%s", district);
    snprintf(m.element, sizeof(m.element), "care_beds");
    cr_assert_eq(pw_period_parse("2016", 4, &m.period), 0);
    m.epoch = epoch;
    m.seq = seq;
    m.value = v;
    m.observed_ms = pw_now_ms();
    return m;
}

/* Records of district in the store's log, by planwatch export (a reader
 * beside the running aggregator). */
static int stored_for(const char *district)
{
    char *text = pw_export_csv(PLANWATCH_BIN, fx.store, fx.dir);
    cr_assert(text);
    char needle[64];
    snprintf(needle, sizeof(needle), ",%s,", district);
    int n = (int)pw_count(text, needle);
    free(text);
    return n;
}

/* Waits until the log at path holds needle at least count times. */
static bool wait_count(const char *path, const char *needle, int count, int timeout_ms)
{
    int64_t end = pw_mono_ms() + timeout_ms;
    do {
        char *text = pw_read_file(path);
        size_t n = pw_count(text, needle);
        free(text);
        if (n >= (size_t)count)
            return true;
        usleep(50 * 1000);
    } while (pw_mono_ms() < end);
    return false;
}

Test(security, a_district_key_cannot_send_another_districts_data_1000_of_1000)
{
    void *s = curve_socket(ZMQ_DEALER, fx.keys, "districts", "jiangan", "aggregator", fx.intake);
    uint64_t epoch = pw_random_u64();
    pw_msg_t m = hello_of("hongshan", epoch), r;
    send_msg(s, &m);
    cr_assert(recv_msg(s, 10000, &r));
    cr_assert_eq(r.type, PW_MSG_NACK);
    cr_assert_eq(r.reason, PW_EFORBIDDEN, "%s", pw_err_name(r.reason));
    int refused = 0;
    for (uint64_t i = 1; i <= 1000; i++) {
        m = update_of("hongshan", epoch, i, 1000.0 + (double)i);
        send_msg(s, &m);
    }
    while (refused < 1000 && recv_msg(s, 10000, &r)) {
        cr_assert_eq(r.type, PW_MSG_NACK);
        cr_assert_eq(r.reason, PW_EFORBIDDEN, "%s", pw_err_name(r.reason));
        refused++;
    }
    cr_assert_eq(refused, 1000);
    /* The same key still speaks for its own district. */
    uint64_t own = pw_random_u64();
    m = hello_of("jiangan", own);
    send_msg(s, &m);
    cr_assert(recv_msg(s, 10000, &r));
    cr_assert_eq(r.type, PW_MSG_WELCOME);
    m = update_of("jiangan", own, 1, 42);
    send_msg(s, &m);
    cr_assert(recv_msg(s, 10000, &r));
    cr_assert_eq(r.type, PW_MSG_ACK);
    close_sock(s);
    cr_assert_eq(stored_for("hongshan"), 0);
    cr_assert_eq(stored_for("jiangan"), 1);
    char log[256];
    snprintf(log, sizeof(log), "%s", fx.agg_log);
    cr_assert(wait_count(log, "jiangan's key sent a message for hongshan: refused (1001 so far)",
                         1, 5000));
}

Test(security, a_collector_with_another_districts_key_stops_and_keeps_its_spool)
{
    /* hongshan's office holding jiangan's secret under its own name. */
    char other[128], cmd[1024], spool[160];
    snprintf(other, sizeof(other), "%s/wrong", fx.dir);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/districts && cp %s/aggregator.pub %s/ && "
             "cp %s/districts/jiangan.secret %s/districts/hongshan.secret",
             other, fx.keys, other, fx.keys, other);
    cr_assert_eq(system(cmd), 0);
    snprintf(spool, sizeof(spool), "%s/spool-hongshan", fx.dir);
    char *args[] = {"--keys", other, "--timeout", "10", NULL}, *out, *text;
    cr_assert_eq(pw_fixture_collect(&fx, "hongshan", DATA "/districts/hongshan.csv", spool, args,
                                    &out, &text),
                 1);
    free(out);
    cr_assert(text && strstr(text, "EFORBIDDEN") && strstr(text, "kept in the spool"), "%s",
              text);
    free(text);
    cr_assert_eq(stored_for("hongshan"), 0);
}

Test(security, an_unknown_key_gets_no_update_through)
{
    char stranger[128];
    snprintf(stranger, sizeof(stranger), "%s/stranger", fx.dir);
    keygen(stranger); /* a whole other installation's keys */
    /* With our aggregator.pub, so that only the client key is wrong. */
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cp %s/aggregator.pub %s/aggregator.pub", fx.keys, stranger);
    cr_assert_eq(system(cmd), 0);
    void *s = curve_socket(ZMQ_DEALER, stranger, "districts", "jiangan", "aggregator", fx.intake);
    uint64_t epoch = pw_random_u64();
    pw_msg_t m = hello_of("jiangan", epoch), r;
    send_msg(s, &m);
    for (uint64_t i = 1; i <= 100; i++) {
        m = update_of("jiangan", epoch, i, (double)i);
        send_msg(s, &m);
    }
    cr_assert_not(recv_msg(s, 3000, &r), "an unknown key got an answer");
    close_sock(s);
    /* The real collector with that key gives up, keeping its updates. */
    char *args[] = {"--keys", stranger, "--timeout", "2", NULL}, *out, *err;
    cr_assert_eq(collect_jiangan("spool-jiangan", args, &out, &err), 1);
    free(out);
    free(err);
    cr_assert_eq(stored_for("jiangan"), 0);
    /* Nor does a client without CURVE at all. */
    void *plain = curve_socket(ZMQ_DEALER, NULL, NULL, NULL, NULL, fx.intake);
    send_msg(plain, &m);
    cr_assert_not(recv_msg(plain, 2000, &r), "a plain client got an answer");
    close_sock(plain);
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0);
    char alog[256];
    snprintf(alog, sizeof(alog), "%s", fx.agg_log);
    char *text = pw_read_file(alog);
    cr_assert(text && strstr(text, "0 updates stored"), "%s", text);
    cr_assert_null(strstr(text, " 0 handshakes refused"), "%s", text);
    free(text);
}

Test(security, a_collector_never_talks_to_an_impostor_server_and_loses_nothing)
{
    /* The office's keys, but an aggregator.pub that is not the real one's. */
    char fake[128], cmd[1024];
    snprintf(fake, sizeof(fake), "%s/fake", fx.dir);
    keygen(fake);
    snprintf(cmd, sizeof(cmd), "cp %s/districts/jiangan.secret %s/districts/jiangan.secret",
             fx.keys, fake);
    cr_assert_eq(system(cmd), 0);
    feed_jiangan(fake, 1);
    cr_assert_eq(stored_for("jiangan"), 0);
    /* Corrected, the same spool delivers everything. */
    feed_jiangan(fx.keys, 0);
    cr_assert_eq(stored_for("jiangan"), 114);
}

/* Feeds jiangan's data with its real key, so the publisher has events. */
static void feed_jiangan(char *kdir, int expect)
{
    char *args[] = {"--keys", kdir, "--timeout", "10", NULL}, *out, *err;
    cr_assert_eq(collect_jiangan("spool-jiangan", args, &out, &err), expect, "see %s", err);
    free(out);
    free(err);
}

/* Messages a SUB socket gets within ms. */
static int count_received(void *sub, int ms)
{
    int n = 0;
    int64_t end = pw_mono_ms() + ms;
    for (int64_t left = ms; left > 0; left = end - pw_mono_ms()) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)left) <= 0)
            continue;
        char buf[65536];
        if (zmq_recv(sub, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
            n++;
    }
    return n;
}

static void *subscriber(const char *kdir, const char *desk)
{
    void *s = curve_socket(ZMQ_SUB, kdir, "desks", desk, "publisher", fx.stream);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    return s;
}

Test(security, a_subscriber_without_a_desk_key_receives_nothing)
{
    start_publisher();
    feed_jiangan(fx.keys, 0);
    /* With the bureau's desk key: heartbeats at least, every second. */
    void *good = subscriber(fx.keys, "bureau");
    cr_assert_gt(count_received(good, 2500), 0);
    close_sock(good);
    /* Without CURVE, or with a key the publisher does not know: nothing. */
    void *plain = subscriber(NULL, NULL);
    cr_assert_eq(count_received(plain, 2500), 0);
    close_sock(plain);
    char stranger[128], cmd[512];
    snprintf(stranger, sizeof(stranger), "%s/stranger", fx.dir);
    keygen(stranger);
    snprintf(cmd, sizeof(cmd), "cp %s/publisher.pub %s/publisher.pub", fx.keys, stranger);
    cr_assert_eq(system(cmd), 0);
    void *bad = subscriber(stranger, "bureau");
    cr_assert_eq(count_received(bad, 2500), 0);
    close_sock(bad);
    /* The monitor: with the desk key it gets its table; without, nothing. */
    char *ok[] = {"monitor", "--connect", fx.stream, "--snapshot", fx.snap, "--once",
                  "--json",  "--keys",    fx.keys,   "--timeout",  "10",    NULL},
         *text, *err;
    cr_assert_eq(pw_fixture_run(&fx, ok, 30000, &text, &err), 0);
    free(text);
    free(err);
    char *no[] = {"monitor", "--connect", fx.stream, "--snapshot", fx.snap, "--once",
                  "--json",  "--keys",    stranger,  "--timeout",  "2",     NULL};
    cr_assert_eq(pw_fixture_run(&fx, no, 30000, &text, &err), 1);
    free(err);
    cr_assert(text && !strstr(text, "\"indicator\""), "%s", text);
    free(text);
}

/* No secret key of districts/ in the aggregator's log or in its LMDB file. */
static void assert_no_secrets(void)
{
    char path[256];
    snprintf(path, sizeof(path), "%s", fx.agg_log);
    char *logtext = pw_read_file(path);
    snprintf(path, sizeof(path), "%s/data.mdb", fx.store);
    FILE *f = fopen(path, "rb");
    cr_assert(logtext && f);
    static char db[64 << 20];
    size_t dblen = fread(db, 1, sizeof(db), f);
    fclose(f);
    static const char *ids[] = {"jiangan", "hongshan", "wuhan", "xinzhou"};
    for (size_t i = 0; i < 4; i++) {
        pw_key_t k;
        char err[512];
        snprintf(path, sizeof(path), "%s/districts", fx.keys);
        cr_assert_eq(pw_key_load_secret(path, ids[i], &k, err, sizeof(err)), 0, "%s", err);
        cr_assert_null(strstr(logtext, k.secret_z85), "a secret key in the log");
        cr_assert_null(memmem(db, dblen, k.secret_z85, strlen(k.secret_z85)),
                       "a secret key in the store");
    }
    free(logtext);
}

Test(security, secrets_are_neither_logged_nor_stored)
{
    feed_jiangan(fx.keys, 0);
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0);
    assert_no_secrets();
}

Test(security, a_revoked_district_key_stops_working_after_a_reload)
{
    void *s = curve_socket(ZMQ_DEALER, fx.keys, "districts", "jiangan", "aggregator", fx.intake);
    uint64_t epoch = pw_random_u64();
    pw_msg_t m = hello_of("jiangan", epoch), r;
    send_msg(s, &m);
    cr_assert(recv_msg(s, 10000, &r));
    cr_assert_eq(r.type, PW_MSG_WELCOME);
    m = update_of("jiangan", epoch, 1, 1);
    send_msg(s, &m);
    cr_assert(recv_msg(s, 10000, &r));
    cr_assert_eq(r.type, PW_MSG_ACK);
    char path[256], log[256];
    snprintf(path, sizeof(path), "%s/districts/jiangan.pub", fx.keys);
    cr_assert_eq(unlink(path), 0);
    snprintf(log, sizeof(log), "%s", fx.agg_log);
    kill(fx.agg.pid, SIGHUP);
    cr_assert(wait_count(log, "district keys accepted", 2, 10000), "no reload in %s", log);
    /* The connection made before the revocation: refused from now on. */
    m = update_of("jiangan", epoch, 2, 2);
    send_msg(s, &m);
    cr_assert(recv_msg(s, 10000, &r));
    cr_assert_eq(r.type, PW_MSG_NACK);
    cr_assert_eq(r.reason, PW_EAUTH, "%s", pw_err_name(r.reason));
    close_sock(s);
    /* A new connection with it: refused at the handshake. */
    s = curve_socket(ZMQ_DEALER, fx.keys, "districts", "jiangan", "aggregator", fx.intake);
    m = hello_of("jiangan", pw_random_u64());
    send_msg(s, &m);
    cr_assert_not(recv_msg(s, 2500, &r));
    close_sock(s);
    cr_assert_eq(stored_for("jiangan"), 1);
    /* Rotation: a new pair, a reload, and the office's new secret works. */
    char *rot[] = {"keygen", "--out", fx.keys, "--district", "jiangan", "--force", NULL}, *o, *e;
    cr_assert_eq(pw_fixture_run(&fx, rot, 30000, &o, &e), 0);
    free(o);
    free(e);
    kill(fx.agg.pid, SIGHUP);
    cr_assert(wait_count(log, "district keys accepted", 3, 10000));
    feed_jiangan(fx.keys, 0);
    cr_assert_gt(stored_for("jiangan"), 100);
}

Test(security, a_revoked_desk_key_stops_receiving_after_a_reload)
{
    start_publisher();
    char log[256], path[256];
    char *add[] = {"keygen", "--out", fx.keys, "--desk", "planning", NULL}, *o, *e;
    cr_assert_eq(pw_fixture_run(&fx, add, 30000, &o, &e), 0);
    free(o);
    free(e);
    snprintf(log, sizeof(log), "%s", fx.pub_log);
    kill(fx.pub.pid, SIGHUP);
    cr_assert(wait_count(log, "desk keys accepted", 2, 10000));
    void *planning = subscriber(fx.keys, "planning");
    void *bureau = subscriber(fx.keys, "bureau");
    cr_assert_gt(count_received(planning, 2500), 0, "an added desk key works after a reload");
    snprintf(path, sizeof(path), "%s/desks/planning.pub", fx.keys);
    cr_assert_eq(unlink(path), 0);
    kill(fx.pub.pid, SIGHUP);
    cr_assert(wait_count(log, "subscribers re-authenticated", 1, 10000), "see %s", log);
    count_received(planning, 500); /* what was queued before the reload */
    cr_assert_eq(count_received(planning, 3000), 0, "a revoked desk still receives");
    count_received(bureau, 500);
    cr_assert_gt(count_received(bureau, 3000), 0, "the other desks go on receiving");
    close_sock(planning);
    close_sock(bureau);
}

Test(security, tcp_without_keys_is_refused_and_insecure_warns)
{
    char ep[64], st[160];
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", pw_free_port());
    snprintf(st, sizeof(st), "%s/store2", fx.dir);
    char *args[] = {"aggregator", "--store", st, "--bind", ep, NULL}, *out, *text;
    cr_assert_eq(pw_fixture_run(&fx, args, 30000, &out, &text), 1);
    free(out);
    cr_assert(text && strstr(text, "--keys DIR") && strstr(text, "--insecure"), "%s", text);
    free(text);
    pw_proc_t p;
    char *ins[] = {"aggregator", "--store", st, "--bind", ep, "--insecure", NULL};
    cr_assert_eq(pw_fixture_spawn(&fx, &p, ins), 0);
    cr_assert_eq(pw_proc_wait_log(&p, "INFO: ready", 20000), 0);
    text = pw_read_file(p.log);
    cr_assert(text && strstr(text, "WARN: --insecure"), "%s", text);
    free(text);
    pw_proc_stop(&p, 10000);
}

Test(security, key_files_are_checked)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/districts/jiangan.secret", fx.keys);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    pw_key_t k;
    char err[512];
    cr_assert_eq(pw_key_load(path, &k, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(k.name, "jiangan");
    cr_assert_eq(strlen(k.secret_z85), 40);
    /* Readable by others: refused. */
    cr_assert_eq(chmod(path, 0644), 0);
    cr_assert_eq(pw_key_load_secret(fx.keys, "districts/jiangan", &k, err, sizeof(err)), PW_EKEY);
    cr_assert(strstr(err, "readable by others"), "%s", err);
    /* A secret that does not match its public part. */
    char bad[256];
    snprintf(bad, sizeof(bad), "%s/bad.secret", fx.dir);
    FILE *f = fopen(bad, "w");
    cr_assert(f);
    fprintf(f, "name = x\npublic-key = %s\nsecret-key = %s\n",
            "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs");
    fclose(f);
    cr_assert_eq(pw_key_load(bad, &k, err, sizeof(err)), PW_EKEY);
    cr_assert(strstr(err, "does not match"), "%s", err);
    /* Bad lines name file and line. */
    f = fopen(bad, "w");
    fprintf(f, "# x\nname = x\npublic-key = short\n");
    fclose(f);
    cr_assert_eq(pw_key_load(bad, &k, err, sizeof(err)), PW_EKEY);
    cr_assert(strstr(err, "bad.secret:3:"), "%s", err);
    /* A keyring refuses a .pub holding a secret, and two files with one key. */
    char ring[160], cmd[1024];
    snprintf(ring, sizeof(ring), "%s/ring", fx.dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/districts/hanyang.secret %s/hanyang.pub", ring,
             fx.keys, ring);
    cr_assert_eq(system(cmd), 0);
    pw_keyring_t *r = NULL;
    cr_assert_eq(pw_keyring_load(ring, &r, err, sizeof(err)), PW_EKEY);
    cr_assert(strstr(err, "must not hold a secret-key"), "%s", err);
    snprintf(cmd, sizeof(cmd),
             "rm %s/hanyang.pub && cp %s/districts/hanyang.pub %s/a.pub && "
             "sed 's/name = hanyang/name = other/' %s/districts/hanyang.pub > %s/b.pub",
             ring, fx.keys, ring, fx.keys, ring);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(pw_keyring_load(ring, &r, err, sizeof(err)), PW_EKEY);
    cr_assert(strstr(err, "same public key"), "%s", err);
    /* A reload that meets a bad file keeps the keys in force. */
    snprintf(cmd, sizeof(cmd), "echo 'garbage' > %s/districts/zzz.pub", fx.keys);
    cr_assert_eq(system(cmd), 0);
    kill(fx.agg.pid, SIGHUP);
    char log[256];
    snprintf(log, sizeof(log), "%s", fx.agg_log);
    cr_assert(wait_count(log, "previous district keys stay in force", 1, 10000));
    cr_assert_eq(chmod(path, 0600), 0);
    feed_jiangan(fx.keys, 0);
}

/*
 * Refused handshakes: the client says that keys are the likely cause and
 * fails, the server logs the peer's address and why, at most a line per
 * address and reason every 10 s however often the client retries.
 */

/* A keys directory for jiangan's collector: its district secret from
 * district_from, the aggregator.pub from server_from. */
static void office_keys(char *out, size_t len, const char *name, const char *district_from,
                        const char *server_from)
{
    char cmd[1024];
    snprintf(out, len, "%s/%s", fx.dir, name);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/districts && chmod -R 700 %s && cp %s/districts/jiangan.secret "
             "%s/districts/ && cp %s/aggregator.pub %s/",
             out, out, district_from, out, server_from, out);
    cr_assert_eq(system(cmd), 0);
}

/* Office keys with one part from another installation's keys: the district
 * key when foreign_district, else the aggregator.pub. */
static void mixed_keys(char *out, size_t len, const char *name, bool foreign_district)
{
    char other[128];
    snprintf(other, sizeof(other), "%s/other-%s", fx.dir, name);
    keygen(other);
    office_keys(out, len, name, foreign_district ? other : fx.keys,
                foreign_district ? fx.keys : other);
}

/* Runs jiangan's collector for 3 s with extra options; its stderr (caller frees). */
static char *refused_collector(char *opt, char *arg)
{
    char spool[32];
    static int run;
    snprintf(spool, sizeof(spool), "spool-refused%d", ++run);
    char *args[] = {"--timeout", "3", opt, arg, NULL};
    char *o = NULL, *e = NULL;
    int rc = collect_jiangan(spool, args, &o, &e);
    cr_assert_eq(rc, 1, "a collector that never got through must fail: %s", e);
    cr_assert(e && strstr(e, "no answer from the aggregator") &&
                  strstr(e, "the handshake failed") && strstr(e, "check --keys / --insecure"),
              "the collector must say keys are the likely cause: %s", e);
    free(o);
    return e;
}

/*
 * The server's refusal lines for why, waiting up to 5 s for the first. Each
 * names the client's address, 127.0.0.1, unless the connection was closed
 * before the server could ask for it: "an unknown address" (ZeroMQ's monitor
 * names only the descriptor; a loaded machine loses that race now and then).
 */
static size_t refusal_lines(pw_proc_t *server, const char *why)
{
    cr_assert_eq(pw_proc_wait_log(server, why, 5000), 0, "no '%s' in %s", why, server->log);
    char *text = pw_read_file(server->log);
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        const char *from = strstr(line, "refused a handshake from ");
        if (!from || !strstr(line, why))
            continue;
        from += strlen("refused a handshake from ");
        cr_assert(strncmp(from, "127.0.0.1: ", 11) == 0 ||
                      strncmp(from, "an unknown address: ", 20) == 0,
                  "a refusal from another address than the client's: %s", line);
        n++;
    }
    free(text);
    return n;
}

Test(security, a_collector_with_an_unknown_district_key_is_told_and_logged)
{
    char mixed[160];
    mixed_keys(mixed, sizeof(mixed), "unknown-district", true);
    char *err = refused_collector("--keys", mixed);
    cr_assert(strstr(err, "the server refused our key"), "%s", err);
    free(err);
    cr_assert_geq(refusal_lines(&fx.agg, "unknown client key"), 1);
}

Test(security, a_collector_with_a_wrong_server_key_is_told_and_logged_rate_limited)
{
    char mixed[160];
    mixed_keys(mixed, sizeof(mixed), "wrong-server", false);
    char *err = refused_collector("--keys", mixed);
    cr_assert(strstr(err, "wrong server key?"), "%s", err);
    unsigned times = 0;
    const char *f = strstr(err, "the handshake failed ");
    cr_assert(f && sscanf(f, "the handshake failed %u times", &times) == 1 && times >= 5,
              "it retried a few times in 3 s: %s", err);
    free(err);
    /* Retried every 100 ms or so, logged once (a second line only for
     * attempts whose address could not be read in time). */
    size_t lines = refusal_lines(&fx.agg, "cannot decrypt its hello (wrong server key?");
    cr_assert(lines >= 1 && lines <= 2, "%zu lines for %u refusals", lines, times);
}

Test(security, an_insecure_collector_against_curve_is_told_and_logged)
{
    char *err = refused_collector("--insecure", NULL);
    cr_assert(strstr(err, "mechanism mismatch"), "%s", err);
    free(err);
    /* The server sees the mismatch, or the client hanging up on it first:
     * either way it says a client without CURVE is the likely cause. */
    cr_assert_geq(refusal_lines(&fx.agg, "without CURVE (--insecure?)"), 1);
}

Test(security, a_monitor_with_a_wrong_desk_key_is_told_and_logged)
{
    start_publisher();
    char other[128], cmd[512];
    snprintf(other, sizeof(other), "%s/other", fx.dir);
    keygen(other);
    /* The real publisher.pub, a desk key the publisher does not know. */
    snprintf(cmd, sizeof(cmd), "cp %s/publisher.pub %s/publisher.pub", fx.keys, other);
    cr_assert_eq(system(cmd), 0);
    char *args[] = {"monitor", "--connect", fx.stream,   "--snapshot", fx.snap, "--keys",
                    other,     "--once",    "--timeout", "3",          NULL};
    char *o = NULL, *e = NULL;
    cr_assert_neq(pw_fixture_run(&fx, args, 30000, &o, &e), 0);
    cr_assert(e && strstr(e, "the server refused our key") && strstr(e, "check --keys"), "%s",
              e);
    free(o);
    free(e);
    cr_assert_geq(refusal_lines(&fx.pub, "unknown client key"), 1);
}
