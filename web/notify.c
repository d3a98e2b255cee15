/* SPDX-License-Identifier: MIT */
/*
 * The notifier: routes each decision's alerts to receivers, writes one
 * message per receiver to the outbox, and a thread of its own sends what is
 * due. Submitting only writes the outbox and wakes the thread, so the
 * dashboard never waits for a receiver; the thread checks the stop flag
 * between messages and hands it to the transports, which abort on it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify_internal.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"

#define KEEP_SENT_MS (30LL * 24 * 3600 * 1000) /* sent messages remembered, for exactly-once */
#define PRUNE_EVERY_MS (24LL * 3600 * 1000)   /* a dashboard runs for months: prune daily too */
#define STUCK_WAIT_MS  10000                  /* an outbox that cannot be written: wait, not spin */
#define BATCH        16
#define IDLE_MS      60000 /* the longest sleep: a clock step cannot park the thread for long */

struct pw_notify {
    pw__routes_t *routes; /* NULL: no routes file, nothing is sent */
    pw__outbox_t *outbox;
    char *dashboard;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool kicked;             /* under mu: something was submitted */
    atomic_bool stop;        /* read by the transports without mu */
    pw_notify_stats_t stats; /* under mu */
    long first_ms, max_ms;   /* under mu: the retry delays */
};

static int64_t backoff_ms(pw_notify_t *self, uint32_t attempts)
{
    pthread_mutex_lock(&self->mu);
    int64_t d = self->first_ms, max = self->max_ms;
    pthread_mutex_unlock(&self->mu);
    for (uint32_t i = 1; i < attempts && d < max; i++)
        d *= 2;
    return d < max ? d : max;
}

/* One attempt at one message, and its outcome written back to the outbox. */
/* Sends m once and records the outcome; false when the outbox could not record it. */
static bool attempt(pw_notify_t *self, pw__msg_t *m)
{
    char err[512] = "";
    long timeout_ms = self->routes->timeout_s * 1000;
    int rc;
    if (m->type == PW__RCV_EMAIL)
        rc = pw__send_mail(self->routes->sendmail, m->body, m->bodylen, timeout_ms, &self->stop,
                           err, sizeof(err));
    else
        rc = pw__send_http(m->target, m->ctype, m->body, m->bodylen, m->type == PW__RCV_WECOM,
                           timeout_ms, &self->stop, err, sizeof(err));
    if (rc == -ECANCELED)
        return true; /* stopping: not the receiver's fault, and it stays pending */
    int64_t now = pw_now_ms();
    const char *receiver = m->key + strlen(m->key) + 1;
    if (rc == 0) {
        m->state = PW__MSG_SENT;
        m->done_ms = now;
    } else {
        m->attempts++;
        m->next_ms = now + backoff_ms(self, m->attempts);
        PW_WARN("notify: decision %s to %s: %s (attempt %u, again in %lld ms)", m->key, receiver,
                err, (unsigned)m->attempts, (long long)(m->next_ms - now));
    }
    int urc = pw__outbox_update(self->outbox, m);
    if (urc != 0)
        PW_ERROR("notify: outbox update of %s to %s failed: %s", m->key, receiver,
                 pw_strerror(urc));
    pthread_mutex_lock(&self->mu);
    if (rc == 0) {
        self->stats.sent++;
        self->stats.pending -= self->stats.pending > 0;
    } else {
        self->stats.failures++;
    }
    pthread_mutex_unlock(&self->mu);
    return urc == 0;
}

/* Sleeps until wake_ms (wall clock), a submit or a stop. */
static void wait_until(pw_notify_t *self, int64_t wake_ms)
{
    int64_t now = pw_now_ms();
    int64_t ms = wake_ms - now;
    if (ms > IDLE_MS)
        ms = IDLE_MS;
    pthread_mutex_lock(&self->mu);
    if (ms > 0 && !self->kicked && !atomic_load(&self->stop)) {
        /* The condition variable runs on the monotonic clock. */
        int64_t at = pw_mono_ms() + ms;
        struct timespec ts = {.tv_sec = (time_t)(at / 1000),
                              .tv_nsec = (long)(at % 1000) * 1000000L};
        pthread_cond_timedwait(&self->cv, &self->mu, &ts);
    }
    self->kicked = false;
    pthread_mutex_unlock(&self->mu);
}

static void *run(void *arg)
{
    pw_notify_t *self = arg;
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    /* A receiver or MTA closing early must fail a write, not kill the process. */
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    pw__msg_t batch[BATCH];
    int64_t next_prune = pw_now_ms() + PRUNE_EVERY_MS;
    while (!atomic_load(&self->stop)) {
        int64_t now = pw_now_ms(), next = INT64_MAX;
        size_t n = 0;
        bool stuck = false;
        if (now >= next_prune) {
            int prc = pw__outbox_prune(self->outbox, now, KEEP_SENT_MS);
            if (prc != 0)
                PW_ERROR("notify: outbox prune failed: %s", pw_strerror(prc));
            next_prune = now + PRUNE_EVERY_MS;
        }
        if (self->routes != NULL) {
            int rc = pw__outbox_due(self->outbox, now, batch, BATCH, &n, &next);
            if (rc != 0) {
                PW_ERROR("notify: outbox read failed: %s", pw_strerror(rc));
                next = now + 1000;
            }
        }
        for (size_t i = 0; i < n; i++) {
            if (!atomic_load(&self->stop) && !stuck)
                stuck = !attempt(self, &batch[i]);
            pw__msg_free(&batch[i]);
        }
        /* A message the outbox could not record stays due: picked up again at
         * once it would be sent again and again, so the sender waits. */
        if (stuck)
            wait_until(self, pw_now_ms() + STUCK_WAIT_MS);
        else if (n == 0)
            wait_until(self, next);
    }
    return NULL;
}

int pw_notify_new(const char *path, const char *outbox_dir, const char *dashboard_url,
                  pw_notify_t **out, char *err, size_t errlen)
{
    pthread_condattr_t ca;
    bool ca_ok = false, mu_ok = false, cv_ok = false;
    int rc = -ENOMEM;
    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    if (outbox_dir == NULL)
        return -EINVAL;
    pw_notify_t *self = calloc(1, sizeof(*self));
    if (self == NULL)
        goto cleanup;
    atomic_init(&self->stop, false);
    self->first_ms = 1000;
    self->max_ms = 300000;
    if (path != NULL && (rc = pw__routes_parse(path, &self->routes, err, errlen)) != 0)
        goto cleanup;
    if ((rc = pw__send_global_init()) != 0) {
        snprintf(err, errlen, "curl_global_init failed");
        goto cleanup;
    }
    if (dashboard_url != NULL && (self->dashboard = strdup(dashboard_url)) == NULL) {
        rc = -ENOMEM;
        goto cleanup;
    }
    if ((rc = pw__outbox_open(outbox_dir, pw_now_ms(), KEEP_SENT_MS, &self->outbox,
                              &self->stats.pending)) != 0) {
        snprintf(err, errlen, "outbox %s: %s", outbox_dir, pw_strerror(rc));
        goto cleanup;
    }
    if ((rc = -pthread_condattr_init(&ca)) != 0)
        goto cleanup;
    ca_ok = true;
    if ((rc = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
        (rc = -pthread_cond_init(&self->cv, &ca)) != 0)
        goto cleanup;
    cv_ok = true;
    if ((rc = -pthread_mutex_init(&self->mu, NULL)) != 0)
        goto cleanup;
    mu_ok = true;
    if ((rc = -pthread_create(&self->thread, NULL, run, self)) != 0) {
        snprintf(err, errlen, "pthread_create: %s", pw_strerror(rc));
        goto cleanup;
    }
    self->started = true;
    *out = self;
    self = NULL;
cleanup:
    if (ca_ok)
        pthread_condattr_destroy(&ca);
    if (self != NULL) {
        if (cv_ok)
            pthread_cond_destroy(&self->cv);
        if (mu_ok)
            pthread_mutex_destroy(&self->mu);
        pw__outbox_destroy(&self->outbox);
        pw__routes_destroy(&self->routes);
        free(self->dashboard);
        free(self);
    }
    if (rc != 0 && errlen > 0 && err[0] == '\0')
        snprintf(err, errlen, "notify: %s", pw_strerror(rc));
    return rc;
}

void pw_notify_destroy(pw_notify_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    pw_notify_t *self = *self_p;
    pthread_mutex_lock(&self->mu);
    atomic_store(&self->stop, true);
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
    if (self->started)
        pthread_join(self->thread, NULL);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    pw__outbox_destroy(&self->outbox);
    pw__routes_destroy(&self->routes);
    free(self->dashboard);
    free(self);
    *self_p = NULL;
}

/* Renders the message of receiver r with the items routed to it into m. */
static int make_msg(pw_notify_t *self, const pw_notice_t *notice, const uint64_t *bits, size_t r,
                    const pw_notice_item_t **items, pw__msg_t *m)
{
    const pw__receiver_t *rcv = &self->routes->rcv[r];
    size_t n = 0, idlen = strlen(notice->id), namelen = strlen(rcv->name);
    for (size_t i = 0; i < notice->nitems; i++)
        if (bits[i] & (UINT64_C(1) << r))
            items[n++] = &notice->items[i];
    pw__sbuf_t body = {0}, ctype = {0};
    int rc = pw__render(self->routes, rcv, notice, items, n, self->dashboard, &body, &ctype);
    memset(m, 0, sizeof(*m));
    m->keylen = idlen + 1 + namelen;
    m->key = malloc(m->keylen + 1);
    m->target = strdup(rcv->target);
    if (rc == 0 && (m->key == NULL || m->target == NULL))
        rc = -ENOMEM;
    if (rc != 0) {
        pw__sbuf_free(&body);
        pw__sbuf_free(&ctype);
        pw__msg_free(m);
        return rc;
    }
    memcpy(m->key, notice->id, idlen + 1);
    memcpy(m->key + idlen + 1, rcv->name, namelen + 1);
    m->type = rcv->type;
    m->body = body.p;
    m->bodylen = body.len;
    m->ctype = ctype.p;
    m->state = PW__MSG_PENDING;
    m->next_ms = pw_now_ms();
    return 0;
}

int pw_notify_submit(pw_notify_t *self, const pw_notice_t *notice)
{
    uint64_t *bits = NULL, all = 0;
    const pw_notice_item_t **items = NULL;
    pw__msg_t msgs[PW__NOTIFY_RCV_MAX];
    size_t nmsgs = 0, existing = 0;
    int rc = 0;
    size_t idlen = strnlen(notice->id, sizeof(notice->id));
    if (idlen == 0 || idlen == sizeof(notice->id))
        return -EINVAL;
    if (self->routes == NULL || notice->nitems == 0)
        return 0;
    bits = calloc(notice->nitems, sizeof(*bits));
    items = calloc(notice->nitems, sizeof(*items));
    if (bits == NULL || items == NULL) {
        rc = -ENOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < notice->nitems; i++) {
        bits[i] = pw__routes_receivers(self->routes, &notice->items[i]);
        all |= bits[i];
    }
    for (size_t r = 0; r < self->routes->nrcv && rc == 0; r++)
        if (all & (UINT64_C(1) << r))
            if ((rc = make_msg(self, notice, bits, r, items, &msgs[nmsgs])) == 0)
                nmsgs++;
    if (rc != 0 || nmsgs == 0)
        goto cleanup;
    if ((rc = pw__outbox_add(self->outbox, msgs, nmsgs, &existing)) != 0)
        goto cleanup;
    pthread_mutex_lock(&self->mu);
    self->stats.queued += nmsgs - existing;
    self->stats.pending += nmsgs - existing;
    self->stats.duplicates += existing > 0;
    self->kicked = true;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
cleanup:
    while (nmsgs > 0)
        pw__msg_free(&msgs[--nmsgs]);
    free(items);
    free(bits);
    return rc;
}

void pw_notify_stats(pw_notify_t *self, pw_notify_stats_t *out)
{
    pthread_mutex_lock(&self->mu);
    *out = self->stats;
    pthread_mutex_unlock(&self->mu);
}

int pw_notify_check(const char *path, char *err, size_t errlen)
{
    pw__routes_t *routes = NULL;
    int rc = pw__routes_parse(path, &routes, err, errlen);
    pw__routes_destroy(&routes);
    return rc;
}

void pw_notify_set_backoff(pw_notify_t *self, long first_ms, long max_ms)
{
    pthread_mutex_lock(&self->mu);
    self->first_ms = first_ms > 0 ? first_ms : 1;
    self->max_ms = max_ms >= self->first_ms ? max_ms : self->first_ms;
    pthread_mutex_unlock(&self->mu);
}
