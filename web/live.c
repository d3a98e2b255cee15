/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's live state: one client of the publisher feeding the view,
 * the report, the status and the follow-up store, and the decisions it hands
 * to the notifier. See live.h.
 */
#include "live.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pw/bureau.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"

#define REPORT_EVERY_MS   1000  /* a report rebuild at most this often while figures change */
#define STATUS_EVERY_MS   2000
#define ESCALATE_EVERY_MS 5000
#define PLAN_EVERY_MS     10000 /* how often the publisher is asked whether the plan was revised */
#define DECISION_QUIET_MS 300   /* a decision's alerts come in one burst; then it is complete */
#define RETRY_MAX_MS      30000
#define STALE_AFTER       3     /* status requests failed in a row: the publisher is down */

struct pw_live {
    pw_live_config_t cfg;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    uint64_t version;
    bool stopping;
    int watchers;

    /* Connection, owned by the loop's thread. */
    pw_catalog_t *cat;
    pw_client_t *client;
    char why[512];
    int64_t next_try_ms, retry_ms;
    int64_t next_status_ms, next_report_ms, next_escalate_ms, next_plan_ms;
    bool rates_changed;
    int status_failures;

    /* Read by pages, replaced under mu. */
    pw_view_t *view;
    pw_report_t *report;
    pw_reply_t status;
    bool connected;
    char down_why[1024];
    uint64_t seq;
    int64_t last_event_ms;

    /* The decision being gathered: alerts of one commit (same commit time). */
    pw_notice_item_t *items;
    size_t nitems, capitems;
    int64_t group_time_ms, group_last_ms;
    uint64_t group_seq;
};

int pw_live_new(const pw_live_config_t *cfg, pw_live_t **out)
{
    *out = NULL;
    pw_live_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->cfg = *cfg;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->changed, NULL);
    self->retry_ms = 1000;
    snprintf(self->down_why, sizeof(self->down_why), "connecting to %s", cfg->pub);
    *out = self;
    return 0;
}

static void disconnect(pw_live_t *self)
{
    pw_client_destroy(&self->client);
}

void pw_live_destroy(pw_live_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_live_t *self = *self_p;
    disconnect(self);
    pw_view_destroy(&self->view);
    pw_report_destroy(&self->report);
    pw_reply_clear(&self->status);
    pw_catalog_destroy(&self->cat);
    free(self->items);
    pthread_cond_destroy(&self->changed);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

/* Lock held. */
static void bump(pw_live_t *self)
{
    self->version++;
    pthread_cond_broadcast(&self->changed);
}

static void set_down(pw_live_t *self, const char *why)
{
    pthread_mutex_lock(&self->mu);
    if (self->connected || strcmp(self->down_why, why) != 0) {
        self->connected = false;
        snprintf(self->down_why, sizeof(self->down_why), "%s", why);
        bump(self);
    }
    pthread_mutex_unlock(&self->mu);
}

/* Adds an alert to the decision being gathered, unless it is silenced. */
static int gather(pw_live_t *self, const pw_event_t *ev, const pw_fu_alert_t *rec, bool escalation)
{
    const char *districts[PW_TOP_MAX];
    for (uint32_t k = 0; k < ev->ntop && k < PW_TOP_MAX; k++)
        districts[k] = ev->top[k].district;
    if (pw_followup_silenced(self->cfg.fu, ev->indicator, districts,
                             ev->ntop < PW_TOP_MAX ? ev->ntop : PW_TOP_MAX, pw_now_ms()))
        return 0;
    if (self->nitems == self->capitems) {
        size_t cap = self->capitems ? self->capitems * 2 : 16;
        pw_notice_item_t *p = realloc(self->items, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        self->items = p;
        self->capitems = cap;
    }
    pw_notice_item_t *it = &self->items[self->nitems++];
    memset(it, 0, sizeof(*it));
    it->ev = *ev;
    it->escalation = escalation;
    if (rec)
        snprintf(it->key, sizeof(it->key), "%s", rec->key);
    int i = self->cat ? pw_catalog_indicator(self->cat, ev->indicator, strlen(ev->indicator)) : -1;
    if (i >= 0) {
        snprintf(it->category, sizeof(it->category), "%s", self->cat->indicators[i].category);
        snprintf(it->name_zh, sizeof(it->name_zh), "%s", self->cat->indicators[i].name_zh);
    }
    return 0;
}

/* Hands the gathered decision to the notifier under id. */
static void flush(pw_live_t *self, const char *id)
{
    if (self->nitems && self->cfg.notify) {
        pw_notice_t n = {.time_ms = self->group_time_ms, .nitems = self->nitems,
                         .items = self->items};
        snprintf(n.id, sizeof(n.id), "%s", id);
        int rc = pw_notify_submit(self->cfg.notify, &n);
        if (rc != 0)
            PW_ERROR("decision %s not queued for notification: %s", id,
                         pw_strerror(rc));
    }
    self->nitems = 0;
}

static void flush_group(pw_live_t *self)
{
    char id[64];
    /* The decision's first event and its commit time name it: the same events
     * seen again after a restart make the same id, which the outbox sends
     * once, and another store's events (numbered from 1 too) never do. */
    snprintf(id, sizeof(id), "q%llu-t%lld", (unsigned long long)self->group_seq,
             (long long)self->group_time_ms);
    flush(self, id);
    self->group_time_ms = 0;
}

/* Records an alert event (live or from a snapshot); lock held. */
static int observe(pw_live_t *self, const pw_event_t *ev, bool live)
{
    bool created = false;
    pw_fu_alert_t rec;
    int rc = pw_followup_observe(self->cfg.fu, ev, pw_now_ms(), &created, &rec);
    if (rc != 0) {
        PW_ERROR("alert %s/%s not recorded in the follow-up: %s", ev->indicator,
                     ev->series, pw_strerror(rc));
        return 0; /* the page still shows it from the view */
    }
    /* From a snapshot only the alerts this dashboard never saw are news. */
    if (!live && !created)
        return 0;
    if (live && self->nitems && ev->time_ms != self->group_time_ms)
        flush_group(self);
    if (self->nitems == 0) {
        self->group_time_ms = ev->time_ms;
        self->group_seq = ev->seq;
    }
    self->group_last_ms = pw_mono_ms();
    return gather(self, ev, &rec, false);
}

static int on_event(void *ctx, const pw_event_t *ev)
{
    pw_live_t *self = ctx;
    pthread_mutex_lock(&self->mu);
    int rc = pw_view_apply(self->view, ev);
    if (rc == 0 && ev->type == PW_EV_ALERT)
        rc = observe(self, ev, true);
    if (ev->type == PW_EV_RATE)
        self->rates_changed = true;
    if (ev->type != PW_EV_HB)
        self->last_event_ms = pw_now_ms();
    self->seq = ev->seq;
    bump(self);
    pthread_mutex_unlock(&self->mu);
    return rc;
}

/* Connects, reads the plan and takes a snapshot. 0, a retryable error, or PW_EINCOMPAT. */
static int connect_publisher(pw_live_t *self)
{
    pw_catalog_t *cat = NULL;
    pw_client_t *client = NULL;
    pw_view_t *view = NULL;
    pw_reply_t snap = {0};
    int rc = pw_client_catalog("web", self->cfg.pub, self->cfg.snap, &self->cfg.auth,
                               self->cfg.catalog_path, self->cfg.timeout_ms, &cat);
    if (rc == 0)
        rc = pw_client_new(self->cfg.pub, self->cfg.snap, &self->cfg.auth, &client);
    if (rc == 0)
        rc = pw_view_new(cat, &view);
    if (rc == 0)
        rc = pw_client_snapshot(client, self->cfg.timeout_ms, &snap);
    if (rc == 0)
        rc = pw_view_load(view, &snap);
    if (rc != 0)
        goto cleanup;
    pthread_mutex_lock(&self->mu);
    pw_view_destroy(&self->view);
    pw_report_destroy(&self->report);
    pw_catalog_destroy(&self->cat);
    disconnect(self);
    self->cat = cat;
    self->client = client;
    self->view = view;
    cat = NULL;
    client = NULL;
    view = NULL;
    self->connected = true;
    self->down_why[0] = '\0';
    self->seq = pw_client_seq(self->client);
    self->rates_changed = true;
    self->status_failures = 0;
    if (self->nitems) /* gathered before the connection broke: theirs to send still */
        flush_group(self);
    for (size_t k = 0; k < snap.nalerts && rc == 0; k++)
        rc = observe(self, &snap.alerts[k], false);
    if (self->nitems) {
        char id[64];
        self->group_time_ms = pw_now_ms();
        snprintf(id, sizeof(id), "open-at-q%llu-t%lld", (unsigned long long)snap.seq,
                 (long long)self->group_time_ms);
        flush(self, id);
    }
    bump(self);
    pthread_mutex_unlock(&self->mu);
    PW_INFO("following %s from event %llu (%zu rows, %zu open alerts)", self->cfg.pub,
                (unsigned long long)snap.seq, snap.nrows, snap.nalerts);
cleanup:
    pw_reply_clear(&snap);
    pw_view_destroy(&view);
    pw_client_destroy(&client);
    pw_catalog_destroy(&cat);
    return rc;
}

/* Hands a decision still being gathered to the notifier (takes the lock). */
static void flush_pending(pw_live_t *self)
{
    pthread_mutex_lock(&self->mu);
    if (self->nitems)
        flush_group(self);
    pthread_mutex_unlock(&self->mu);
}

void pw_live_flush(pw_live_t *self)
{
    flush_pending(self);
}

static void poll_status(pw_live_t *self)
{
    pw_request_t req = {.type = PW_REQ_STATUS};
    pw_reply_t rep = {0};
    int rc = pw_client_request(self->client, &req, self->cfg.timeout_ms, &rep);
    if (rc != 0) {
        pw_reply_clear(&rep);
        if (++self->status_failures >= STALE_AFTER) {
            char why[512];
            snprintf(why, sizeof(why), "the publisher at %s does not answer: %s", self->cfg.pub,
                     pw_strerror(rc));
            set_down(self, why);
        }
        return;
    }
    self->status_failures = 0;
    pthread_mutex_lock(&self->mu);
    bool same = rep.nstatus == self->status.nstatus && self->connected &&
                pw_period_eq(rep.period, self->status.period) &&
                (rep.nstatus == 0 ||
                 memcmp(rep.status, self->status.status, rep.nstatus * sizeof(*rep.status)) == 0);
    pw_reply_clear(&self->status);
    self->status = rep;
    if (!self->connected) {
        self->connected = true;
        self->down_why[0] = '\0';
    }
    if (!same)
        bump(self);
    pthread_mutex_unlock(&self->mu);
}

static void rebuild_report(pw_live_t *self)
{
    pw_report_t *rep = NULL;
    int rc = pw_report_from_client(self->cat, self->client, NULL, self->cfg.timeout_ms, &rep);
    if (rc != 0 && rc != PW_ENOTFOUND) {
        PW_WARN("the report could not be rebuilt: %s (kept the last one)",
                    pw_strerror(rc));
        return;
    }
    pthread_mutex_lock(&self->mu);
    pw_report_destroy(&self->report);
    self->report = rep;
    bump(self);
    pthread_mutex_unlock(&self->mu);
}

/*
 * True when the store's plan is no longer the one the pages are read with (a
 * revision): the caller then connects afresh, reading it, its rows and the
 * report under it.
 */
static bool plan_revised(pw_live_t *self)
{
    pw_request_t req = {.type = PW_REQ_PLAN};
    pw_reply_t rep = {0};
    bool revised = pw_client_request(self->client, &req, self->cfg.timeout_ms, &rep) == 0 &&
                   rep.plan &&
                   (rep.plan_len != self->cat->text_len ||
                    memcmp(rep.plan, self->cat->text, rep.plan_len) != 0);
    pw_reply_clear(&rep);
    return revised;
}

static void on_escalate(void *ctx, const pw_fu_alert_t *a)
{
    pw_live_t *self = ctx;
    pw_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = PW_EV_ALERT;
    ev.action = PW_ALERT_UPDATE;
    snprintf(ev.indicator, sizeof(ev.indicator), "%s", a->indicator);
    snprintf(ev.series, sizeof(ev.series), "%s", a->series);
    ev.period = a->period;
    ev.has_rate = a->has_rate;
    ev.centi = a->centi;
    ev.band = a->band;
    size_t before = self->nitems;
    if (gather(self, &ev, a, true) != 0)
        PW_ERROR("escalation of %s not notified: out of memory", a->key);
    else if (self->nitems > before) /* not silenced */
        self->items[before].unacked_hours =
            (uint32_t)((pw_now_ms() - a->opened_ms) / 3600000);
    PW_WARN("alert %s unacknowledged for too long: escalated", a->key);
}

static void escalate(pw_live_t *self, int64_t now)
{
    pthread_mutex_lock(&self->mu);
    if (self->nitems)
        flush_group(self);
    int n = pw_followup_escalate(self->cfg.fu, now, self->cfg.escalate_ms, on_escalate, self);
    if (n < 0)
        PW_ERROR("escalation check failed: %s", pw_strerror(n));
    if (self->nitems) {
        char id[64];
        snprintf(id, sizeof(id), "escalate-%lld", (long long)now);
        self->group_time_ms = now;
        flush(self, id);
    }
    if (n > 0)
        bump(self);
    pthread_mutex_unlock(&self->mu);
}

static int try_connect(pw_live_t *self, int64_t now)
{
    if (now < self->next_try_ms)
        return 0;
    int rc = connect_publisher(self);
    if (rc == PW_EINCOMPAT || rc == -ENOMEM)
        return rc;
    if (rc != 0) {
        /* auth.why says when handshakes failed: the keys are then the likely cause. */
        const char *keys = self->cfg.auth.why ? self->cfg.auth.why : "";
        char why[1024];
        snprintf(why, sizeof(why), "no answer from the publisher at %s: %s%s%s", self->cfg.pub,
                 pw_strerror(rc), keys[0] ? ": " : "", keys);
        set_down(self, why);
        self->next_try_ms = now + self->retry_ms;
        self->retry_ms = self->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : self->retry_ms * 2;
        return 0;
    }
    self->retry_ms = 1000;
    self->next_status_ms = self->next_report_ms = 0;
    self->next_plan_ms = now + PLAN_EVERY_MS;
    return 0;
}

int pw_live_step(pw_live_t *self, int timeout_ms)
{
    int64_t now = pw_mono_ms();
    if (!self->client) {
        int rc = try_connect(self, now);
        if (rc != 0 || !self->client) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
            return rc;
        }
    }
    int rc = pw_client_poll(self->client, timeout_ms, on_event, self);
    if (rc != 0 && rc != PW_ETIMEOUT) {
        if (rc == -ENOMEM)
            return rc;
        PW_WARN("the event stream broke (%s): reconnecting", pw_strerror(rc));
        flush_pending(self);
        disconnect(self);
        set_down(self, "the event stream broke: reconnecting");
        return 0;
    }
    now = pw_mono_ms();
    pthread_mutex_lock(&self->mu);
    if (self->nitems && now - self->group_last_ms >= DECISION_QUIET_MS)
        flush_group(self);
    pthread_mutex_unlock(&self->mu);
    if (now >= self->next_status_ms) {
        poll_status(self);
        self->next_status_ms = now + STATUS_EVERY_MS;
    }
    if (now >= self->next_plan_ms) {
        self->next_plan_ms = now + PLAN_EVERY_MS;
        if (plan_revised(self)) {
            PW_INFO("the plan was revised: reading it again");
            flush_pending(self);
            disconnect(self);
            return 0;
        }
    }
    if (self->rates_changed && now >= self->next_report_ms) {
        self->rates_changed = false;
        rebuild_report(self);
        self->next_report_ms = pw_mono_ms() + REPORT_EVERY_MS;
    }
    if (self->cfg.escalate_ms > 0 && now >= self->next_escalate_ms) {
        escalate(self, pw_now_ms());
        self->next_escalate_ms = now + ESCALATE_EVERY_MS;
    }
    return 0;
}

void pw_live_stop(pw_live_t *self)
{
    pthread_mutex_lock(&self->mu);
    self->stopping = true;
    pthread_cond_broadcast(&self->changed);
    pthread_mutex_unlock(&self->mu);
}

void pw_live_lock(pw_live_t *self)
{
    pthread_mutex_lock(&self->mu);
}

void pw_live_unlock(pw_live_t *self)
{
    pthread_mutex_unlock(&self->mu);
}

bool pw_live_wait(pw_live_t *self, uint64_t seen, int timeout_ms, uint64_t *now)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&self->mu);
    while (!self->stopping && self->version == seen)
        if (pthread_cond_timedwait(&self->changed, &self->mu, &until) == ETIMEDOUT)
            break;
    bool going = !self->stopping;
    *now = self->version;
    pthread_mutex_unlock(&self->mu);
    return going;
}

uint64_t pw_live_version(const pw_live_t *self)
{
    return self->version;
}

void pw_live_touch(pw_live_t *self)
{
    bump(self);
}

const pw_catalog_t *pw_live_catalog(const pw_live_t *self)
{
    return self->cat;
}

const pw_report_t *pw_live_report(const pw_live_t *self)
{
    return self->report;
}

const pw_view_t *pw_live_view(const pw_live_t *self)
{
    return self->view;
}

const pw_reply_t *pw_live_status(const pw_live_t *self)
{
    return &self->status;
}

pw_followup_t *pw_live_followup(const pw_live_t *self)
{
    return self->cfg.fu;
}

bool pw_live_connected(const pw_live_t *self, const char **why)
{
    if (why)
        *why = self->down_why;
    return self->connected;
}

uint64_t pw_live_seq(const pw_live_t *self, int64_t *last_event_ms)
{
    if (last_event_ms)
        *last_event_ms = self->last_event_ms;
    return self->seq;
}

int64_t pw_live_escalate_ms(const pw_live_t *self)
{
    return self->cfg.escalate_ms;
}

bool pw_live_watchers_add(pw_live_t *self, int delta, int max)
{
    pthread_mutex_lock(&self->mu);
    bool ok = delta <= 0 || max <= 0 || self->watchers + delta <= max;
    if (ok)
        self->watchers += delta;
    pthread_mutex_unlock(&self->mu);
    return ok;
}
