/* SPDX-License-Identifier: MIT */
/*
 * planwatch web with the real pipeline on a generated plan (not Wuhan's): an
 * aggregator, a publisher, collectors and the dashboard as processes, the
 * pages driven in headless Chromium (tests/web/drive.py) and plain HTTP for
 * what a browser hides (status codes, roles, HTTPS).
 */
#define _GNU_SOURCE /* unshare, CLONE_NEWNS: a tmpfs of one test's own */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "followup.h"
#include "receiver.h"
#include "users.h"

PW_FIXTURE_SUITE(web, 300.0);

#define NDIST 3
#define STAFF_PASS "correct horse 1"

static char cat_path[160], users_path[160], data_dir[200], url[64];
static int port;
static pw_proc_t web_proc;

/* District data for 2016: e0 and e1 (3 x 400 = 1200 is on the planned path). */
static void write_data(const char *name, int value, int e1)
{
    char path[160];
    pw_fixture_path(&fx, path, sizeof(path), name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "period,element,value\n2016,e0,%d\n2016,e1,%d\n", value, e1);
    fclose(f);
}

/* A plan of NDIST districts, indicators i0, i1 (base 1000, target 2000 in 2020);
 * users: wang (staff), li (director), root (admin). */
static void setup_plan(void)
{
    pw_fixture_plan_t plan = pw_fixture_plan("web test plan 网页测试", NDIST, 2);
    pw_fixture_path(&fx, cat_path, sizeof(cat_path), "plan.conf");
    cr_assert_eq(pw_fixture_write_plan(cat_path, &plan), 0);
    /* i0: 3 x 340 = 1020 at 2016 is 10 % of the way planned: severe. */
    write_data("d0.csv", 340, 400);
    write_data("d1.csv", 340, 400);
    write_data("d2.csv", 340, 400);
    pw_fixture_path(&fx, users_path, sizeof(users_path), "web.users");
    pw_fixture_path(&fx, data_dir, sizeof(data_dir), "web");
    char err[256];
    cr_assert_eq(pw_users_set(users_path, "wang", PW_ROLE_STAFF, STAFF_PASS, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(pw_users_set(users_path, "li", PW_ROLE_DIRECTOR, "director pass", err,
                              sizeof(err)), 0);
    cr_assert_eq(pw_users_set(users_path, "root", PW_ROLE_ADMIN, "admin pass!", err, sizeof(err)),
                 0);
}

static void start_pipeline(void)
{
    char *agg[] = {"--catalog", cat_path, NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&fx, agg), 0, "%s", pw_read_file(fx.agg_log));
    char *pub[] = {"--snapshot-bind", fx.snap, NULL};
    cr_assert_eq(pw_fixture_start_publisher(&fx, pub), 0, "%s", pw_read_file(fx.pub_log));
}

static void collect(char *district);

/* Every district's 2016 figures, the last commit opening the alerts. */
static void collect_all(void)
{
    collect("d0");
    collect("d1");
    collect("d2");
}

static void collect(char *district)
{
    char file[160], spool[160], name[32];
    snprintf(name, sizeof(name), "%s.csv", district);
    pw_fixture_path(&fx, file, sizeof(file), name);
    snprintf(name, sizeof(name), "spool-%s", district);
    pw_fixture_path(&fx, spool, sizeof(spool), name);
    char *out = NULL, *err = NULL;
    int rc = pw_fixture_collect(&fx, district, file, spool, NULL, &out, &err);
    cr_assert_eq(rc, 0, "collector %s: %s", district, err);
    free(out);
    free(err);
}

/* Starts planwatch web plus extra options; waits until it serves. */
static void start_web(char *const extra[])
{
    char listen[64];
    if (port == 0)
        port = pw_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    char *args[32] = {"web",    "--data",    data_dir,  "--users",  users_path, "--listen",
                      listen,   "--connect", fx.stream, "--snapshot", fx.snap,  NULL};
    size_t n = 11;
    for (size_t k = 0; extra && extra[k] && n < 31; k++)
        args[n++] = extra[k];
    args[n] = NULL;
    cr_assert_eq(pw_fixture_spawn(&fx, &web_proc, args), 0);
    cr_assert_eq(pw_proc_wait_log(&web_proc, "planwatch web: serving", 20000), 0, "%s",
                 pw_read_file(web_proc.log));
}

/* One HTTP/1.0 request to the dashboard: the status, the response into *resp (caller frees). */
static int http(const char *method, const char *path, const char *headers, const char *body,
                char **resp)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n\r\n%s",
                     method, path, headers ? headers : "", body ? strlen(body) : 0,
                     body ? body : "");
    cr_assert_eq(write(fd, req, (size_t)n), n);
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    ssize_t got;
    while ((got = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)got;
        if (len + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    close(fd);
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    if (resp)
        *resp = buf;
    else
        free(buf);
    return status;
}

/* "Authorization: Basic ..." for user:pass. */
static void basic(char *out, size_t len, const char *user, const char *pass)
{
    char plain[160], b64[sodium_base64_ENCODED_LEN(160, sodium_base64_VARIANT_ORIGINAL)];
    int n = snprintf(plain, sizeof(plain), "%s:%s", user, pass);
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)plain, (size_t)n,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, len, "Authorization: Basic %s\r\n", b64);
}

/*
 * Asks for path every 100 ms until its page (200) holds needle, and needle2
 * too when not NULL; false after tries, the last page then logged.
 */
static bool page_shows(const char *auth, const char *path, const char *needle,
                       const char *needle2, int tries)
{
    for (int i = 0; i < tries; i++) {
        usleep(100000);
        char *resp = NULL;
        cr_assert_eq(http("GET", path, auth, NULL, &resp), 200, "%s", resp);
        bool seen = strstr(resp, needle) && (!needle2 || strstr(resp, needle2));
        if (!seen && i == tries - 1)
            cr_log_error("%s", resp);
        free(resp);
        if (seen)
            return true;
    }
    return false;
}

/* Runs tests/web/drive.py with args; its stdout into *out (caller frees). The exit code. */
static int drive(char *const args[], char **out)
{
    char script[512], log[160];
    snprintf(script, sizeof(script), "%s/tests/web/drive.py", PW_SOURCE_DIR);
    pw_fixture_path(&fx, log, sizeof(log), "drive.out");
    char *argv[40] = {"env", "python3", script};
    size_t n = 3;
    for (size_t k = 0; args[k] && n < 39; k++)
        argv[n++] = args[k];
    argv[n] = NULL;
    char *err = NULL;
    int rc = pw_proc_capture("/usr/bin/env", argv, log, 180000, out, &err);
    if (rc != 0)
        cr_log_error("drive.py: %s", err ? err : "");
    free(err);
    return rc;
}

Test(web, unauthenticated_requests_get_401)
{
    setup_plan();
    start_pipeline();
    start_web(NULL);
    char *resp = NULL;
    cr_assert_eq(http("GET", "/", NULL, NULL, &resp), 401);
    cr_assert(strstr(resp, "WWW-Authenticate: Cookie") != NULL, "%s", resp);
    cr_assert(strstr(resp, "name='password'") != NULL, "the login form: %s", resp);
    free(resp);
    cr_assert_eq(http("GET", "/events", NULL, NULL, NULL), 401);
    /* An alert's link keeps its key through the login. */
    cr_assert_eq(http("GET", "/alert?key=i0%231", NULL, NULL, &resp), 401);
    cr_assert(strstr(resp, "name='next' value='/alert?key=i0%231'"), "%s", resp);
    free(resp);
    cr_assert_eq(http("GET", "/status", NULL, NULL, NULL), 401);
    cr_assert_eq(http("POST", "/act", NULL, "key=i0%231&action=ack", NULL), 401);
    /* A wrong password, a forged cookie: still 401. */
    char auth[256];
    basic(auth, sizeof(auth), "wang", "wrong password");
    cr_assert_eq(http("GET", "/", auth, NULL, NULL), 401);
    cr_assert_eq(http("GET", "/",
                      "Cookie: pw_session=0000000000000000000000000000000000000000000000000000000"
                      "000000000\r\n",
                      NULL, NULL),
                 401);
    basic(auth, sizeof(auth), "wang", STAFF_PASS);
    cr_assert_eq(http("GET", "/", auth, NULL, NULL), 200);
    cr_assert_eq(http("GET", "/login", NULL, NULL, NULL), 200);
}

Test(web, roles_decide_who_may_do_what)
{
    setup_plan();
    start_pipeline();
    collect_all();
    start_web(NULL);
    char auth[256], *resp = NULL;
    /* The alert the pipeline opened is in the follow-up as i0/#1. */
    basic(auth, sizeof(auth), "li", "director pass");
    cr_assert(page_shows(auth, "/alerts", "data-alert-key='i0#1'", NULL, 100));
    cr_assert_eq(http("GET", "/alert?key=i0%231", auth, NULL, NULL), 200);
    cr_assert_eq(http("POST", "/act", auth, "key=i0%231&action=ack", NULL), 403,
                 "a director reads only");
    cr_assert_eq(http("GET", "/users", auth, NULL, NULL), 403);
    basic(auth, sizeof(auth), "wang", STAFF_PASS);
    cr_assert_eq(http("GET", "/users", auth, NULL, NULL), 403, "users are the admin's");
    cr_assert_eq(http("POST", "/act", auth, "key=i0%231&action=ack", NULL), 303);
    cr_assert_eq(http("POST", "/act", auth, "key=i0%231&action=ack", NULL), 409,
                 "acknowledged twice");
    cr_assert_eq(http("POST", "/act", auth, "key=nosuch%2F%231&action=comment&text=x", NULL), 404);
    cr_assert_eq(http("POST", "/act", auth, "key=i0%231&action=comment&text=", NULL), 400);
    basic(auth, sizeof(auth), "root", "admin pass!");
    cr_assert_eq(http("GET", "/users", auth, NULL, &resp), 200);
    cr_assert(strstr(resp, "wang") && strstr(resp, "director"), "%s", resp);
    free(resp);
    /* A second dashboard on the same data directory is refused, loudly. */
    pw_proc_t second;
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", pw_free_port());
    char *args[] = {"web", "--data", data_dir, "--users", users_path, "--listen", listen,
                    "--connect", fx.stream, "--snapshot", fx.snap, NULL};
    cr_assert_eq(pw_fixture_spawn(&fx, &second, args), 0);
    cr_assert_eq(pw_proc_wait(&second, 20000), 1);
    char *log = pw_read_file(second.log);
    cr_assert(strstr(log, "in use by pid"), "%s", log);
    free(log);
}

Test(web, alert_opens_live_and_follow_up_survives_a_restart)
{
    setup_plan();
    start_pipeline();
    /* Two of three districts in: the row is provisional and opens no alert. */
    collect("d0");
    collect("d1");
    start_web(NULL);
    char file[160], spool[160];
    pw_fixture_path(&fx, file, sizeof(file), "d2.csv");
    pw_fixture_path(&fx, spool, sizeof(spool), "spool-d2");
    /* PW_WEB_SCREENSHOTS=DIR also takes the pictures of docs/ there. */
    char *shots = getenv("PW_WEB_SCREENSHOTS");
    char *args[40] = {"live", "--url", url, "--user", "wang", "--password", STAFF_PASS,
                      "--indicator", "i0", "--comment", "区里已报送整改计划 / plan sent"};
    size_t n = 11;
    if (shots) {
        args[n++] = "--screenshots";
        args[n++] = shots;
    }
    char *collector[] = {"--", PLANWATCH_BIN, "collector", "--district", "d2", "--data", file,
                         "--connect", fx.intake, "--spool", spool, NULL};
    for (size_t k = 0; collector[k]; k++)
        args[n++] = collector[k];
    args[n] = NULL;
    char *out = NULL;
    cr_assert_eq(drive(args, &out), 0, "%s", out ? out : "");
    int latency = -1;
    char key[128] = "";
    const char *l = strstr(out, "latency_ms ");
    cr_assert(l, "%s", out);
    sscanf(l, "latency_ms %d", &latency);
    const char *k = strstr(out, "key ");
    cr_assert(k, "%s", out);
    sscanf(k, "key %127s", key);
    cr_log_info("the alert showed %d ms after the collector's commit", latency);
    cr_assert_lt(latency, 1000, "the alert showed %d ms after the collector's commit", latency);
    cr_assert_str_eq(key, "i0#1");
    free(out);

    /* Restart the dashboard: what staff did is still there. */
    cr_assert_eq(pw_proc_stop(&web_proc, 20000), 0, "%s", pw_read_file(web_proc.log));
    start_web(NULL);
    char *check[] = {"check", "--url", url, "--user", "wang", "--password", STAFF_PASS,
                     "--key", key, "--comment", "区里已报送整改计划 / plan sent", NULL};
    out = NULL;
    cr_assert_eq(drive(check, &out), 0, "%s", out ? out : "");
    free(out);
    cr_assert_eq(pw_proc_stop(&web_proc, 20000), 0);

    /* And the report shows the follow-up, from the store and the follow-up on disk. */
    char fu[256];
    snprintf(fu, sizeof(fu), "%s/followup", data_dir);
    char *rargs[] = {"report", "--store", fx.store, "--followup", fu, NULL};
    char *err = NULL;
    cr_assert_eq(pw_fixture_run(&fx, rargs, 30000, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "区里已报送整改计划"), "%s", out);
    free(out);
    free(err);
}

Test(web, https_and_the_loopback_rule)
{
    setup_plan();
    start_pipeline();
    char key[160], cert[160];
    pw_fixture_path(&fx, key, sizeof(key), "tls.key");
    pw_fixture_path(&fx, cert, sizeof(cert), "tls.crt");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
             "-subj /CN=127.0.0.1 >/dev/null 2>&1", key, cert);
    cr_assert_eq(system(cmd), 0, "openssl is needed (./run test installs it)");
    char *extra[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    start_web(extra);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
    char *args[] = {"login", "--url", url, "--user", "wang", "--password", STAFF_PASS, NULL};
    char *out = NULL;
    cr_assert_eq(drive(args, &out), 0, "%s", out ? out : "");
    free(out);
    /* Plain HTTP to the HTTPS port gets no page. */
    char *resp = NULL;
    int status = http("GET", "/", NULL, NULL, &resp);
    cr_assert_neq(status, 200, "%s", resp);
    free(resp);
    cr_assert_eq(pw_proc_stop(&web_proc, 20000), 0);

    /* Any address but loopback without TLS is refused before anything starts. */
    char *bad[] = {"web", "--data", data_dir, "--users", users_path, "--listen", "0.0.0.0:0",
                   NULL};
    char *err = NULL;
    cr_assert_eq(pw_fixture_run(&fx, bad, 20000, &out, &err), 2);
    cr_assert(strstr(err, "not a loopback address"), "%s", err);
    free(out);
    free(err);
}

/* District d's 2017 figures for e0 and e1, in fx->dir/NAME. */
static void write_2017(const char *name, int e0)
{
    char path[160];
    pw_fixture_path(&fx, path, sizeof(path), name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "period,element,value\n2017,e0,%d\n2017,e1,%d\n", e0, 480);
    fclose(f);
}

static void collect_file(char *district, const char *name)
{
    char file[160], spool[160], sp[32];
    pw_fixture_path(&fx, file, sizeof(file), name);
    snprintf(sp, sizeof(sp), "spool-%s", district);
    pw_fixture_path(&fx, spool, sizeof(spool), sp);
    char *out = NULL, *err = NULL;
    cr_assert_eq(pw_fixture_collect(&fx, district, file, spool, NULL, &out, &err), 0, "%s", err);
    free(out);
    free(err);
}

/* A routes file sending every alert to the receiver's /hook. */
static char *routes_for(pw_test_receiver_t *rx)
{
    static char path[160];
    pw_fixture_path(&fx, path, sizeof(path), "web.routes");
    char text[512];
    snprintf(text, sizeof(text),
             "receiver hook json http://127.0.0.1:%u/hook\nroute * -> hook\n",
             (unsigned)pw_test_receiver_port(rx));
    cr_assert_eq(pw_fixture_write(path, text), 0);
    return path;
}

/* The receiver's accepted requests stay at n for quiet_ms. */
static void stays_at(pw_test_receiver_t *rx, size_t n, int quiet_ms)
{
    usleep((useconds_t)quiet_ms * 1000);
    cr_assert_eq(pw_test_receiver_accepted(rx), n, "%zu messages, not %zu",
                 pw_test_receiver_accepted(rx), n);
}

Test(web, a_decision_is_notified_once_and_again_after_an_outage)
{
    setup_plan();
    start_pipeline();
    pw_test_receiver_t *rx = NULL;
    cr_assert_eq(pw_test_receiver_start(&rx), 0);
    char *extra[] = {"--routes", routes_for(rx), "--escalate-after", "0", NULL};
    start_web(extra);
    collect_all(); /* the last commit opens i0's alert */
    cr_assert(pw_test_receiver_wait_accepted(rx, 1, 15000), "no notification of the alert");
    char *body = pw_test_receiver_body(rx, 0, NULL);
    cr_assert(strstr(body, "\"indicator\":\"i0\"") && strstr(body, "\"action\":\"open\""), "%s",
              body);
    free(body);
    stays_at(rx, 1, 2000);

    /* A restart sees the same open alert in its snapshot: nothing new to say. */
    cr_assert_eq(pw_proc_stop(&web_proc, 20000), 0);
    start_web(extra);
    stays_at(rx, 1, 3000);

    /* The receiver is down when the alert resolves; the message waits for it. */
    pw_test_receiver_close(rx);
    write_2017("d0-2017.csv", 480);
    write_2017("d1-2017.csv", 480);
    write_2017("d2-2017.csv", 480);
    collect_file("d0", "d0-2017.csv");
    collect_file("d1", "d1-2017.csv");
    collect_file("d2", "d2-2017.csv");
    sleep(3);
    int rc = pw_test_receiver_reopen(rx);
    cr_assert_eq(rc, 0, "reopen: %s", strerror(-rc));
    cr_assert(pw_test_receiver_wait_accepted(rx, 2, 30000), "the resolve never arrived");
    body = pw_test_receiver_body(rx, pw_test_receiver_requests(rx) - 1, NULL);
    cr_assert(strstr(body, "\"action\":\"resolve\""), "%s", body);
    free(body);
    stays_at(rx, 2, 2000);
    cr_assert_eq(pw_proc_stop(&web_proc, 20000), 0);
    pw_test_receiver_destroy(&rx);
}

Test(web, an_unacknowledged_alert_escalates_and_a_silenced_one_is_not_notified)
{
    setup_plan();
    start_pipeline();
    pw_test_receiver_t *rx = NULL;
    cr_assert_eq(pw_test_receiver_start(&rx), 0);
    char *extra[] = {"--routes", routes_for(rx), "--escalate-after", "1s", NULL};
    start_web(extra);
    char auth[256], *resp = NULL;
    basic(auth, sizeof(auth), "wang", STAFF_PASS);
    /* i1 severe too, but silenced before anything happens: shown, never notified. */
    write_data("d0.csv", 340, 340);
    write_data("d1.csv", 340, 340);
    write_data("d2.csv", 340, 340);
    cr_assert_eq(http("POST", "/silence", auth, "what=indicator%3Ai1&until=2099-12-31&note=known",
                      NULL), 303);
    cr_assert_eq(http("POST", "/silence", auth, "what=indicator%3Ai1&until=2001-01-01", NULL),
                 400, "a silence ending in the past");
    collect_all();
    cr_assert(pw_test_receiver_wait_accepted(rx, 1, 15000), "no notification of the alert");
    /* Left unacknowledged: the escalation follows, within the 5 s check. */
    cr_assert(pw_test_receiver_wait_accepted(rx, 2, 20000), "no escalation");
    char *body = pw_test_receiver_body(rx, 1, NULL);
    cr_assert(strstr(body, "\"escalation\":true") && strstr(body, "\"indicator\":\"i0\""), "%s",
              body);
    cr_assert(!strstr(body, "\"indicator\":\"i1\""), "i1 is silenced: %s", body);
    free(body);
    http("GET", "/alerts", auth, NULL, &resp);
    cr_assert(strstr(resp, "已升级 escalated"), "%s", resp);
    cr_assert(strstr(resp, "data-alert-key='i1#1'") && strstr(resp, "静默 silenced"), "%s", resp);
    free(resp);
    stays_at(rx, 2, 1000);
    /* Lifted: i1 is no longer marked silenced. */
    cr_assert_eq(http("POST", "/unsilence", auth, "what=indicator%3Ai1", NULL), 303);
    http("GET", "/alerts", auth, NULL, &resp);
    cr_assert(!strstr(resp, "data-silence='indicator:i1'"), "%s", resp);
    free(resp);
    cr_assert_eq(pw_proc_stop(&web_proc, 20000), 0);
    pw_test_receiver_destroy(&rx);
}

Test(web, wrong_keys_are_said_on_the_page_and_in_the_log)
{
    setup_plan();
    cr_assert_eq(pw_fixture_use_tcp(&fx), 0);
    char stranger[200], *out = NULL, *err = NULL;
    pw_fixture_path(&fx, stranger, sizeof(stranger), "stranger-keys");
    char *k1[] = {"keygen", "--out", fx.keys, "--catalog", cat_path, NULL};
    char *k2[] = {"keygen", "--out", stranger, "--catalog", cat_path, NULL};
    cr_assert_eq(pw_fixture_run(&fx, k1, 30000, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    cr_assert_eq(pw_fixture_run(&fx, k2, 30000, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    char *agg[] = {"--catalog", cat_path, "--keys", fx.keys, NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&fx, agg), 0, "%s", pw_read_file(fx.agg_log));
    char *pub[] = {"--snapshot-bind", fx.snap, "--keys", fx.keys, NULL};
    cr_assert_eq(pw_fixture_start_publisher(&fx, pub), 0, "%s", pw_read_file(fx.pub_log));
    /* Another installation's desk key: the publisher refuses every handshake. */
    char *extra[] = {"--keys", stranger, "--timeout", "2", NULL};
    start_web(extra);
    char auth[256];
    basic(auth, sizeof(auth), "wang", STAFF_PASS);
    cr_assert(page_shows(auth, "/", "Not connected", "check --keys", 100),
              "the page does not say the keys are at fault");
    char *log = pw_read_file(web_proc.log);
    cr_assert(strstr(log, "check --keys"), "%s", log);
    free(log);
    cr_assert_eq(pw_proc_stop(&web_proc, 20000), 0);
}

Test(web, a_revised_plan_is_followed)
{
    setup_plan();
    start_pipeline();
    collect("d0");
    start_web(NULL);
    char auth[256];
    basic(auth, sizeof(auth), "wang", STAFF_PASS);
    /* The mid-term revision: targets 2000 become 2600, from the next record on. */
    char revised[160];
    pw_fixture_path(&fx, revised, sizeof(revised), "revised.conf");
    pw_fixture_plan_t plan = pw_fixture_plan("web test plan 网页测试", NDIST, 2);
    plan.target = plan.target_rest = 2600;
    cr_assert_eq(pw_fixture_write_plan(revised, &plan), 0);
    cr_assert_eq(pw_proc_stop(&fx.agg, 20000), 0);
    char *agg[] = {"--catalog", revised, NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&fx, agg), 0, "%s", pw_read_file(fx.agg_log));
    collect("d1");
    cr_assert(page_shows(auth, "/", "<td class='num'>2600</td>", NULL, 300),
              "the dashboard still shows the old targets");
    cr_assert_eq(pw_proc_stop(&web_proc, 20000), 0);
}

/* Logs in through the form: "Cookie: pw_session=...\r\n" into cookie. */
static void form_login(const char *form, char cookie[160])
{
    char *resp = NULL;
    cr_assert_eq(http("POST", "/login", NULL, form, &resp), 303, "%s", resp);
    const char *set = strstr(resp, "Set-Cookie: pw_session=");
    cr_assert(set, "%s", resp);
    snprintf(cookie, 160, "Cookie: pw_session=%.64s\r\n", set + 23);
    free(resp);
}

/* Tells the dashboard (SIGHUP) and waits for the session of cookie to end. */
static void session_ends(const char *cookie, const char *why)
{
    kill(web_proc.pid, SIGHUP);
    int status = 0;
    for (int i = 0; i < 50 && status != 401; i++) {
        usleep(100000);
        status = http("GET", "/", cookie, NULL, NULL);
    }
    cr_assert_eq(status, 401, "%s", why);
}

Test(web, a_login_is_a_session_that_ends_at_logout_or_removal)
{
    setup_plan();
    start_pipeline();
    start_web(NULL);
    char *resp = NULL, cookie[160] = "";
    cr_assert_eq(http("POST", "/login", NULL, "user=wang&password=correct+horse+1&next=%2Fstatus",
                      &resp), 303, "%s", resp);
    cr_assert(strstr(resp, "Location: /status"), "%s", resp);
    const char *set = strstr(resp, "Set-Cookie: pw_session=");
    cr_assert(set && strstr(set, "HttpOnly") && strstr(set, "SameSite=Strict"), "%s", resp);
    snprintf(cookie, sizeof(cookie), "Cookie: pw_session=%.64s\r\n", set + 23);
    free(resp);
    /* A redirect elsewhere than this site is never followed. */
    cr_assert_eq(http("POST", "/login", NULL,
                      "user=wang&password=correct+horse+1&next=%2F%2Fevil.example", &resp), 303);
    cr_assert(strstr(resp, "Location: /\r\n"), "%s", resp);
    free(resp);
    /* Nor one a browser would read as another site's ("/\t/evil" is "//evil"). */
    cr_assert_eq(http("POST", "/login", NULL,
                      "user=wang&password=correct+horse+1&next=%2F%09%2Fevil.example", &resp),
                 303);
    cr_assert(strstr(resp, "Location: /\r\n"), "%s", resp);
    free(resp);
    /* A browser's form with cached Basic credentials is no script's: refused. */
    char auth[256], hdrs[400];
    basic(auth, sizeof(auth), "wang", STAFF_PASS);
    snprintf(hdrs, sizeof(hdrs), "%sOrigin: http://evil.example\r\n", auth);
    cr_assert_eq(http("POST", "/unsilence", hdrs, "what=indicator%3Ai0", NULL), 403);
    cr_assert_eq(http("GET", "/", cookie, NULL, &resp), 200);
    cr_assert(strstr(resp, "name='csrf' value='"), "every form carries the token: %s", resp);
    free(resp);
    /* A form without the session's token is refused. */
    cr_assert_eq(http("POST", "/logout", cookie, "csrf=00000000000000000000000000000000", NULL),
                 403);
    /* The user is removed and the dashboard told (SIGHUP): the session is gone. */
    char err[256];
    cr_assert_eq(pw_users_remove(users_path, "wang", err, sizeof(err)), 0, "%s", err);
    session_ends(cookie, "a removed user's session still works");
    /* A new password ends the sessions made with the old one. */
    form_login("user=li&password=director+pass", cookie);
    cr_assert_eq(pw_users_set(users_path, "li", PW_ROLE_DIRECTOR, "new director pass", err,
                              sizeof(err)), 0, "%s", err);
    session_ends(cookie, "a changed password's old session still works");
    /* Another user logs in and out. */
    form_login("user=li&password=new+director+pass", cookie);
    cr_assert_eq(http("GET", "/", cookie, NULL, &resp), 200);
    const char *c = strstr(resp, "name='csrf' value='");
    cr_assert(c);
    char form[80];
    snprintf(form, sizeof(form), "csrf=%.32s", c + 19);
    free(resp);
    cr_assert_eq(http("POST", "/logout", cookie, form, NULL), 303);
    cr_assert_eq(http("GET", "/", cookie, NULL, NULL), 401, "logged out");
    cr_assert_eq(pw_proc_stop(&web_proc, 20000), 0);
}

/* Fills the file system at fs to its last block. */
static void fill(const char *fs)
{
    char path[200];
    snprintf(path, sizeof(path), "%s/fill", fs);
    static char block[65536];
    memset(block, 'x', sizeof(block));
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    cr_assert_geq(fd, 0);
    for (size_t chunk = sizeof(block); chunk >= 512; chunk /= 2)
        while (write(fd, block, chunk) == (ssize_t)chunk)
            ;
    close(fd);
}

Test(web, a_full_disk_refuses_an_action_loudly_and_takes_it_later)
{
    if (geteuid() != 0)
        cr_skip("mounting a tmpfs needs root (CI runs as root): test skipped");
    /* A mount namespace of this test's own: the tmpfs goes with it. */
    cr_assert_eq(unshare(CLONE_NEWNS), 0);
    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    setup_plan();
    char fs[160];
    pw_fixture_path(&fx, fs, sizeof(fs), "webfs");
    cr_assert_eq(mkdir(fs, 0700), 0);
    cr_assert_eq(mount("tmpfs", fs, "tmpfs", 0, "size=8m"), 0, "mount: %s", strerror(errno));
    snprintf(data_dir, sizeof(data_dir), "%s/web", fs);
    start_pipeline();
    collect_all();
    start_web(NULL);
    char auth[256], *resp = NULL;
    basic(auth, sizeof(auth), "wang", STAFF_PASS);
    cr_assert(page_shows(auth, "/alerts", "data-alert-key='i0#1'", NULL, 100),
              "the alert never showed");
    fill(fs);
    cr_assert_eq(http("POST", "/act", auth, "key=i0%231&action=comment&text=full+disk", &resp),
                 503, "%s", resp);
    cr_assert(strstr(resp, "not be written"), "%s", resp);
    free(resp);
    cr_assert_eq(http("GET", "/", auth, NULL, NULL), 200, "the dashboard stays up");
    char path[200];
    snprintf(path, sizeof(path), "%s/fill", fs);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(http("POST", "/act", auth, "key=i0%231&action=comment&text=room+again", NULL),
                 303);
    http("GET", "/alert?key=i0%231", auth, NULL, &resp);
    cr_assert(strstr(resp, "room again") && !strstr(resp, "full disk"), "%s", resp);
    free(resp);
    cr_assert_eq(pw_proc_stop(&web_proc, 20000), 0);
    umount2(fs, MNT_DETACH);
}
