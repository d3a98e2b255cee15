/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* unshare */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "followup.h"
#include "followup_view.h"
#include "pw/error.h"
#include "tmpdir.h"

static char dir[64];
static char fudir[96];
static pw_followup_t *fu;

static void setup(void)
{
    cr_assert_eq(pw_tmpdir_make(dir), 0);
    snprintf(fudir, sizeof(fudir), "%s/followup", dir);
    int rc = pw_followup_open(fudir, true, &fu);
    cr_assert_eq(rc, 0, "%s", pw_strerror(rc));
}

static void teardown(void)
{
    pw_followup_destroy(&fu);
    pw_tmpdir_remove(dir);
}

TestSuite(followup, .init = setup, .fini = teardown, .timeout = 10.0);

#define T0  INT64_C(1796000000000) /* a December 2026 afternoon, unix ms */
#define MIN INT64_C(60000)

static pw_event_t alert(const char *ind, const char *series, pw_alert_action_t action,
                        const char *period)
{
    pw_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = PW_EV_ALERT;
    ev.action = action;
    snprintf(ev.indicator, sizeof(ev.indicator), "%s", ind);
    snprintf(ev.series, sizeof(ev.series), "%s", series);
    cr_assert_eq(pw_period_parse(period, strlen(period), &ev.period), 0);
    ev.has_rate = true;
    ev.centi = 2615;
    ev.band = PW_BAND_SEVERE;
    snprintf(ev.why, sizeof(ev.why), "rate fell below 40");
    return ev;
}

/* Opens an alert on ind/series at now; its key in key (PW_FU_KEY_MAX). */
static void open_alert(const char *ind, const char *series, int64_t now, char *key)
{
    pw_event_t ev = alert(ind, series, PW_ALERT_OPEN, "2018");
    bool created = false;
    pw_fu_alert_t a;
    int rc = pw_followup_observe(fu, &ev, now, &created, &a);
    cr_assert_eq(rc, 0, "%s", pw_strerror(rc));
    cr_assert(created);
    if (key)
        snprintf(key, PW_FU_KEY_MAX, "%s", a.key);
}

Test(followup, observe_open_update_resolve_and_instances)
{
    pw_event_t ev = alert("care_beds", "urban", PW_ALERT_OPEN, "2017");
    bool created = false;
    pw_fu_alert_t a;
    cr_assert_eq(pw_followup_observe(fu, &ev, T0, &created, &a), 0);
    cr_assert(created);
    cr_assert_str_eq(a.key, "care_beds/urban#1");
    cr_assert_eq(a.instance, 1);
    cr_assert_eq(a.opened_ms, T0);
    cr_assert_eq(a.resolved_ms, 0);
    cr_assert_eq(a.state, PW_FU_NEW);

    /* The same open again (a snapshot after a restart) is the same alert. */
    cr_assert_eq(pw_followup_observe(fu, &ev, T0 + MIN, &created, NULL), 0);
    cr_assert_not(created);

    pw_event_t up = alert("care_beds", "urban", PW_ALERT_UPDATE, "2018");
    up.centi = 1234;
    snprintf(up.why, sizeof(up.why), "2018 reported");
    cr_assert_eq(pw_followup_observe(fu, &up, T0 + 2 * MIN, &created, &a), 0);
    cr_assert_not(created);
    cr_assert_eq(a.centi, 1234);
    cr_assert_str_eq(a.why, "2018 reported");
    cr_assert_eq(a.opened_ms, T0, "an update keeps when it opened");
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(a.period, ptext);
    cr_assert_str_eq(ptext, "2018");

    cr_assert_eq(pw_followup_current(fu, "care_beds", "urban", &a), 0);
    cr_assert_str_eq(a.key, "care_beds/urban#1");

    pw_event_t res = alert("care_beds", "urban", PW_ALERT_RESOLVE, "2018");
    cr_assert_eq(pw_followup_observe(fu, &res, T0 + 3 * MIN, &created, &a), 0);
    cr_assert_not(created);
    cr_assert_eq(a.resolved_ms, T0 + 3 * MIN);
    cr_assert_eq(pw_followup_current(fu, "care_beds", "urban", &a), PW_ENOTFOUND);
    /* A second resolve finds nothing open and changes nothing. */
    cr_assert_eq(pw_followup_observe(fu, &res, T0 + 4 * MIN, &created, NULL), 0);
    cr_assert_eq(pw_followup_get(fu, "care_beds/urban#1", &a, NULL), 0);
    cr_assert_eq(a.resolved_ms, T0 + 3 * MIN);

    /* Re-opened after the resolve: a new alert, #2; an update alone opens one too. */
    cr_assert_eq(pw_followup_observe(fu, &up, T0 + 5 * MIN, &created, &a), 0);
    cr_assert(created);
    cr_assert_str_eq(a.key, "care_beds/urban#2");
    cr_assert_eq(a.instance, 2);

    /* A single-series indicator's key has no slash; other events are ignored. */
    open_alert("doctors", "", T0, NULL);
    cr_assert_eq(pw_followup_current(fu, "doctors", "", &a), 0);
    cr_assert_str_eq(a.key, "doctors#1");
    pw_event_t rate = alert("doctors", "", PW_ALERT_OPEN, "2018");
    rate.type = PW_EV_RATE;
    cr_assert_eq(pw_followup_observe(fu, &rate, T0, &created, NULL), 0);
    cr_assert_not(created);
    pw_event_t snap = alert("nurses", "", PW_ALERT_UPDATE, "2018");
    snap.type = 0; /* a snapshot's open alert, as a caller may pass it */
    cr_assert_eq(pw_followup_observe(fu, &snap, T0, &created, NULL), 0);
    cr_assert(created);
    pw_event_t bad = alert("doctors", "", PW_ALERT_OPEN, "2018");
    snprintf(bad.indicator, sizeof(bad.indicator), "Bad Id");
    cr_assert_eq(pw_followup_observe(fu, &bad, T0, NULL, NULL), -EINVAL);
}

static int collect_keys(void *ctx, const pw_fu_alert_t *a)
{
    char *buf = ctx;
    size_t n = strlen(buf);
    snprintf(buf + n, 512 - n, "%s%s", n ? " " : "", a->key);
    return 0;
}

static int stop_at_first(void *ctx, const pw_fu_alert_t *a)
{
    (void)a;
    (*(int *)ctx)++;
    return 42;
}

Test(followup, each_lists_newest_opened_first)
{
    open_alert("b_ind", "", T0 + 2 * MIN, NULL);
    open_alert("a_ind", "", T0 + 3 * MIN, NULL);
    open_alert("c_ind", "", T0 + 1 * MIN, NULL);
    char keys[512] = "";
    cr_assert_eq(pw_followup_each(fu, collect_keys, keys), 0);
    cr_assert_str_eq(keys, "a_ind#1 b_ind#1 c_ind#1");
    int calls = 0;
    cr_assert_eq(pw_followup_each(fu, stop_at_first, &calls), 42);
    cr_assert_eq(calls, 1);
}

Test(followup, actions_are_logged_in_order)
{
    char key[PW_FU_KEY_MAX];
    open_alert("care_beds", "urban", T0, key);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ACK, "wang", NULL, T0 + 1), 0);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ASSIGN, "wang", "养老服务处", T0 + 2), 0);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_COMMENT, "li", "已电话核实", T0 + 3), 0);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_CLOSE, "li", "", T0 + 4), 0);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_REOPEN, "wang", NULL, T0 + 5), 0);
    pw_fu_alert_t a;
    pw_fu_action_t *log = NULL;
    cr_assert_eq(pw_followup_get(fu, key, &a, &log), 0);
    cr_assert_eq(a.state, PW_FU_ACKED, "a reopened acknowledged alert is acknowledged");
    cr_assert_str_eq(a.acked_by, "wang");
    cr_assert_eq(a.acked_ms, T0 + 1);
    cr_assert_str_eq(a.assignee, "养老服务处");
    cr_assert_eq(a.nactions, 5);
    static const pw_fu_kind_t kinds[] = {PW_FU_ACK, PW_FU_ASSIGN, PW_FU_COMMENT, PW_FU_CLOSE,
                                         PW_FU_REOPEN};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(log[i].kind, kinds[i]);
        cr_assert_eq(log[i].time_ms, T0 + 1 + i);
    }
    cr_assert_str_eq(log[1].text, "养老服务处");
    cr_assert_str_eq(log[2].who, "li");
    cr_assert_str_eq(log[2].text, "已电话核实");
    free(log);
    /* The key may be the very record it is read into. */
    cr_assert_eq(pw_followup_get(fu, a.key, &a, &log), 0);
    cr_assert_str_eq(a.key, key);
    cr_assert_eq(a.nactions, 5);
    free(log);
}

Test(followup, refuses_transitions_the_state_forbids)
{
    char key[PW_FU_KEY_MAX];
    open_alert("care_beds", "", T0, key);
    cr_assert_eq(pw_followup_act(fu, "nope#1", PW_FU_ACK, "wang", NULL, T0), PW_ENOTFOUND);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_REOPEN, "wang", NULL, T0), -EALREADY,
                 "reopen of one not closed");
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ACK, "wang", NULL, T0), 0);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ACK, "li", NULL, T0), -EALREADY, "ack twice");
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_COMMENT, "li", "", T0), -EINVAL, "empty comment");
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ASSIGN, "li", NULL, T0), -EINVAL, "no assignee");
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_COMMENT, "", "x", T0), -EINVAL, "nobody");
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ESCALATE, "li", NULL, T0), -EINVAL,
                 "escalation is the system's");
    cr_assert_eq(pw_followup_act(fu, key, (pw_fu_kind_t)99, "li", NULL, T0), -EINVAL);
    char big[PW_FU_TEXT_MAX + 1];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_COMMENT, "li", big, T0), -EINVAL, "too long");
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_COMMENT, "li", "\xff\xfe", T0), -EINVAL,
                 "not UTF-8");
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_CLOSE, "li", NULL, T0), 0);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_CLOSE, "li", NULL, T0), -EALREADY, "close twice");
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ACK, "li", NULL, T0), -EALREADY);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_COMMENT, "li", "late", T0), -EALREADY);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ASSIGN, "li", "x", T0), -EALREADY);
    pw_fu_alert_t a;
    cr_assert_eq(pw_followup_get(fu, key, &a, NULL), 0);
    cr_assert_eq(a.nactions, 2, "refused actions leave no trace");
    cr_assert_eq(a.state, PW_FU_CLOSED);
    cr_assert_eq(pw_followup_get(fu, "nope#1", &a, NULL), PW_ENOTFOUND);
}

static int count_silences(void *ctx, const pw_fu_silence_t *s)
{
    (void)s;
    (*(int *)ctx)++;
    return 0;
}

static pw_fu_silence_t silence(bool district, const char *id, int64_t until)
{
    pw_fu_silence_t s;
    memset(&s, 0, sizeof(s));
    s.district = district;
    snprintf(s.id, sizeof(s.id), "%s", id);
    s.until_ms = until;
    snprintf(s.who, sizeof(s.who), "wang");
    snprintf(s.note, sizeof(s.note), "统计口径调整中");
    return s;
}

Test(followup, silences_expire_and_lift)
{
    pw_fu_silence_t s = silence(false, "care_beds", T0 + 60 * MIN);
    cr_assert_eq(pw_followup_silence(fu, &s, T0 + 60 * MIN), -EINVAL, "until must be later");
    cr_assert_eq(pw_followup_silence(fu, &s, T0), 0);
    pw_fu_silence_t d = silence(true, "jiangan", T0 + 10 * MIN);
    cr_assert_eq(pw_followup_silence(fu, &d, T0), 0);

    const char *ds[] = {"hankou", "jiangan"};
    cr_assert(pw_followup_silenced(fu, "care_beds", NULL, 0, T0 + MIN), "by indicator");
    cr_assert(pw_followup_silenced(fu, "doctors", ds, 2, T0 + MIN), "by district");
    cr_assert_not(pw_followup_silenced(fu, "doctors", ds, 1, T0 + MIN));
    cr_assert_not(pw_followup_silenced(fu, "doctors", ds, 2, T0 + 10 * MIN), "expired");
    cr_assert(pw_followup_silenced(fu, "care_beds", ds, 2, T0 + 10 * MIN));
    cr_assert_not(pw_followup_silenced(fu, "care_beds", NULL, 0, T0 + 60 * MIN), "expired");

    int n = 0;
    cr_assert_eq(pw_followup_silences(fu, T0 + MIN, count_silences, &n), 0);
    cr_assert_eq(n, 2);
    n = 0;
    cr_assert_eq(pw_followup_silences(fu, T0 + 20 * MIN, count_silences, &n), 0);
    cr_assert_eq(n, 1, "the expired one is skipped");

    /* Replacing a silence moves its end. */
    s.until_ms = T0 + 120 * MIN;
    cr_assert_eq(pw_followup_silence(fu, &s, T0 + MIN), 0);
    cr_assert(pw_followup_silenced(fu, "care_beds", NULL, 0, T0 + 90 * MIN));

    cr_assert_eq(pw_followup_unsilence(fu, false, "care_beds", "li", T0 + 2 * MIN), 0);
    cr_assert_not(pw_followup_silenced(fu, "care_beds", NULL, 0, T0 + 2 * MIN));
    cr_assert_eq(pw_followup_unsilence(fu, false, "care_beds", "li", T0 + 2 * MIN), PW_ENOTFOUND);
    cr_assert_eq(pw_followup_unsilence(fu, true, "jiangan", "li", T0 + 20 * MIN), PW_ENOTFOUND,
                 "an expired silence is no silence to lift");
    pw_fu_silence_t bad = silence(false, "Not An Id", T0 + 60 * MIN);
    cr_assert_eq(pw_followup_silence(fu, &bad, T0), -EINVAL);
}

static void count_escalated(void *ctx, const pw_fu_alert_t *a)
{
    char *buf = ctx;
    size_t n = strlen(buf);
    snprintf(buf + n, 512 - n, "%s%s", n ? " " : "", a->key);
    cr_assert_neq(a->escalated_ms, 0);
}

Test(followup, escalates_once_and_only_the_unattended)
{
    char acked[PW_FU_KEY_MAX], closed[PW_FU_KEY_MAX], late[PW_FU_KEY_MAX], quiet[PW_FU_KEY_MAX];
    open_alert("a_ind", "", T0, late);
    open_alert("b_ind", "", T0, acked);
    open_alert("c_ind", "", T0, closed);
    open_alert("d_ind", "", T0, quiet);
    open_alert("e_ind", "", T0 + 50 * MIN, NULL); /* too young */
    open_alert("f_ind", "", T0, NULL);
    pw_event_t res = alert("f_ind", "", PW_ALERT_RESOLVE, "2018"); /* resolved by the pipeline */
    cr_assert_eq(pw_followup_observe(fu, &res, T0 + MIN, NULL, NULL), 0);
    cr_assert_eq(pw_followup_act(fu, acked, PW_FU_ACK, "wang", NULL, T0 + MIN), 0);
    cr_assert_eq(pw_followup_act(fu, closed, PW_FU_CLOSE, "wang", "duplicate", T0 + MIN), 0);
    pw_fu_silence_t s = silence(false, "d_ind", T0 + 600 * MIN);
    cr_assert_eq(pw_followup_silence(fu, &s, T0), 0);

    char got[512] = "";
    int n = pw_followup_escalate(fu, T0 + 60 * MIN, 30 * MIN, count_escalated, got);
    cr_assert_eq(n, 1, "%s", n < 0 ? pw_strerror(n) : "");
    cr_assert_str_eq(got, "a_ind#1");
    got[0] = '\0';
    cr_assert_eq(pw_followup_escalate(fu, T0 + 90 * MIN, 30 * MIN, count_escalated, got), 1);
    cr_assert_str_eq(got, "e_ind#1", "a_ind is not escalated twice");
    cr_assert_eq(pw_followup_escalate(fu, T0 + 99 * MIN, 30 * MIN, NULL, NULL), 0);

    pw_fu_alert_t a;
    pw_fu_action_t *log = NULL;
    cr_assert_eq(pw_followup_get(fu, late, &a, &log), 0);
    cr_assert_eq(a.escalated_ms, T0 + 60 * MIN);
    cr_assert_eq(a.state, PW_FU_NEW);
    cr_assert_eq(a.nactions, 1);
    cr_assert_eq(log[0].kind, PW_FU_ESCALATE);
    cr_assert_str_eq(log[0].who, "planwatch");
    free(log);
    /* An escalated alert can still be acknowledged. */
    cr_assert_eq(pw_followup_act(fu, late, PW_FU_ACK, "wang", NULL, T0 + 61 * MIN), 0);
}

Test(followup, persists_across_close_and_reopen)
{
    char key[PW_FU_KEY_MAX];
    open_alert("care_beds", "urban", T0, key);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_COMMENT, "li", "记录", T0 + 1), 0);
    pw_fu_silence_t s = silence(true, "jiangan", T0 + 60 * MIN);
    cr_assert_eq(pw_followup_silence(fu, &s, T0), 0);
    pw_followup_destroy(&fu);
    cr_assert_null(fu);
    pw_followup_destroy(&fu); /* NULL-safe */

    cr_assert_eq(pw_followup_open(fudir, true, &fu), 0);
    pw_fu_alert_t a;
    pw_fu_action_t *log = NULL;
    cr_assert_eq(pw_followup_get(fu, key, &a, &log), 0);
    cr_assert_eq(a.nactions, 1);
    cr_assert_str_eq(log[0].text, "记录");
    free(log);
    const char *ds[] = {"jiangan"};
    cr_assert(pw_followup_silenced(fu, "x", ds, 1, T0 + MIN));
    /* The series counts on from where it was. */
    pw_event_t res = alert("care_beds", "urban", PW_ALERT_RESOLVE, "2018");
    cr_assert_eq(pw_followup_observe(fu, &res, T0 + 2, NULL, NULL), 0);
    open_alert("care_beds", "urban", T0 + 3, key);
    cr_assert_str_eq(key, "care_beds/urban#2");
}

Test(followup, a_second_writer_is_busy)
{
    pw_followup_t *other = NULL;
    cr_assert_eq(pw_followup_open(fudir, true, &other), -EBUSY);
    cr_assert_null(other);
}

Test(followup, read_only_while_the_writer_has_it)
{
    char key[PW_FU_KEY_MAX];
    open_alert("care_beds", "urban", T0, key);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ACK, "wang", NULL, T0 + 1), 0);
    /* Another process, as monitor and report are: LMDB forbids one process
     * to open an environment twice. */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        pw_followup_t *ro = NULL;
        pw_fu_alert_t a;
        int code = 0;
        if (pw_followup_open(fudir, false, &ro) != 0)
            code = 1;
        else if (pw_followup_get(ro, key, &a, NULL) != 0 || a.state != PW_FU_ACKED)
            code = 2;
        else if (pw_followup_act(ro, key, PW_FU_COMMENT, "x", "y", T0) != -EROFS)
            code = 3;
        pw_followup_destroy(&ro);
        _exit(code);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "reader failed at step %d", WEXITSTATUS(status));
    /* The writer goes on writing after the reader; each commit is a new generation. */
    uint64_t gen = pw_followup_generation(fu);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_COMMENT, "wang", "ok", T0 + 2), 0);
    cr_assert_gt(pw_followup_generation(fu), gen);
}

/* A write that finds the disk full is refused whole, and the next one with room succeeds. */
Test(followup, a_full_disk_is_an_error_not_a_crash)
{
    if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        cr_skip("a small tmpfs needs root and a mount namespace: test skipped");
    char fs[128], small[160], fill[160];
    snprintf(fs, sizeof(fs), "%s/fs", dir);
    cr_assert_eq(mkdir(fs, 0700), 0);
    cr_assert_eq(mount("tmpfs", fs, "tmpfs", 0, "size=1m"), 0, "%s", strerror(errno));
    snprintf(small, sizeof(small), "%s/followup", fs);
    snprintf(fill, sizeof(fill), "%s/fill", fs);
    pw_followup_destroy(&fu);
    cr_assert_eq(pw_followup_open(small, true, &fu), 0);
    char key[PW_FU_KEY_MAX];
    open_alert("care_beds", "", T0, key);

    int fd = open(fill, O_WRONLY | O_CREAT | O_APPEND, 0600);
    cr_assert_geq(fd, 0);
    static char block[65536];
    memset(block, 'x', sizeof(block));
    for (size_t chunk = sizeof(block); chunk >= 4096; chunk /= 2)
        while (write(fd, block, chunk) == (ssize_t)chunk)
            ;
    close(fd);
    /* Comments of 2 KiB: new pages soon, which the full file system refuses. */
    char text[PW_FU_TEXT_MAX - 1];
    memset(text, 'c', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    int rc = 0, done = 0;
    for (int i = 0; i < 200 && rc == 0; i++)
        if ((rc = pw_followup_act(fu, key, PW_FU_COMMENT, "li", text, T0 + i)) == 0)
            done++;
    cr_assert(rc == -ENOSPC || rc == -EDQUOT || rc == -EIO || rc == PW_ESTOREFULL,
              "a full disk says so: %s", pw_strerror(rc));
    pw_fu_alert_t a;
    cr_assert_eq(pw_followup_get(fu, key, &a, NULL), 0);
    cr_assert_eq(a.nactions, (uint32_t)done, "the refused action left nothing behind");

    cr_assert_eq(unlink(fill), 0);
    rc = pw_followup_act(fu, key, PW_FU_COMMENT, "li", "room again", T0 + 999);
    cr_assert_eq(rc, 0, "%s", pw_strerror(rc));
    pw_followup_destroy(&fu);
    umount2(fs, MNT_DETACH);
}

Test(followup, read_only_of_a_missing_dir_is_enoent)
{
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/none", dir);
    pw_followup_t *ro = NULL;
    cr_assert_eq(pw_followup_open(missing, false, &ro), -ENOENT);
    cr_assert_null(ro);
    cr_assert_eq(access(missing, F_OK), -1, "a reader creates nothing");
}

Test(followup, names_round_trip)
{
    for (int k = PW_FU_ACK; k <= PW_FU_ESCALATE; k++)
        cr_assert_eq(pw_fu_kind_parse(pw_fu_kind_name((pw_fu_kind_t)k)), k);
    cr_assert_eq(pw_fu_kind_parse("bogus"), 0);
    cr_assert_str_eq(pw_fu_state_name(PW_FU_ACKED), "acknowledged");
    cr_assert_str_eq(pw_fu_kind_name(PW_FU_COMMENT), "comment");
}

/* The monitor's rendering of it (monitor/followup_view.c), over this store. */
Test(followup, monitor_shows_state_escalation_and_silence)
{
    char key[PW_FU_KEY_MAX], note[512];
    open_alert("care_beds", "", T0, key);
    pw_event_t ev = alert("care_beds", "", PW_ALERT_OPEN, "2018");
    pw_view_fmt_followup(fu, &ev, T0, note, sizeof(note));
    cr_assert_str_eq(note, " [new]");
    cr_assert_eq(pw_followup_escalate(fu, T0 + 60 * MIN, 30 * MIN, NULL, NULL), 1);
    pw_view_fmt_followup(fu, &ev, T0, note, sizeof(note));
    cr_assert_str_eq(note, " [new, escalated]");

    int64_t t = INT64_C(1796378520000); /* 2026-12-04T10:02:00Z */
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ACK, "wang", NULL, t), 0);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ASSIGN, "wang", "养老服务处", t), 0);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_COMMENT, "li", "a", t), 0);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_COMMENT, "li", "b", t), 0);
    pw_view_fmt_followup(fu, &ev, T0, note, sizeof(note));
    cr_assert_str_eq(note,
                     " [acknowledged by wang 2026-12-04 10:02, escalated; assigned to 养老服务处; "
                     "2 comments]");

    /* A silence of a district the alert names, on an alert nobody recorded. */
    pw_event_t other = alert("doctors", "", PW_ALERT_OPEN, "2018");
    other.ntop = 1;
    snprintf(other.top[0].district, sizeof(other.top[0].district), "jiangan");
    pw_view_fmt_followup(fu, &other, T0, note, sizeof(note));
    cr_assert_str_eq(note, "", "nothing known, nothing shown");
    pw_fu_silence_t s = silence(true, "jiangan", INT64_C(1798675200000)); /* 2026-12-31 */
    cr_assert_eq(pw_followup_silence(fu, &s, T0), 0);
    pw_view_fmt_followup(fu, &other, T0, note, sizeof(note));
    cr_assert_str_eq(note, " [silenced until 2026-12-31]");

    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    pw_view_json_followup(fu, &ev, T0, f);
    fclose(f);
    cr_assert_str_eq(json, ",\"followup\":{\"key\":\"care_beds#1\",\"state\":\"acknowledged\","
                           "\"assignee\":\"养老服务处\",\"acked_by\":\"wang\","
                           "\"acked_ms\":1796378520000,\"escalated\":true,\"comments\":2,"
                           "\"silenced_until\":null}");
    free(json);
    pw_event_t res = alert("care_beds", "", PW_ALERT_RESOLVE, "2018");
    pw_view_fmt_followup(fu, &res, T0, note, sizeof(note));
    cr_assert_str_eq(note, "", "a resolve line gets none");
    pw_view_fmt_followup(NULL, &ev, T0, note, sizeof(note));
    cr_assert_str_eq(note, "", "no follow-up, nothing shown");
}
