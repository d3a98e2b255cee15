/* SPDX-License-Identifier: MIT */
#ifndef PW_WEB_LIVE_H
#define PW_WEB_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "followup.h"
#include "notify.h"
#include "report.h"
#include "view.h"

/*
 * What the dashboard shows, kept current: a bureau client of the publisher
 * (the Clone pattern of client.h: snapshot, then every event once and in
 * order), the view of rows and open alerts it feeds, the evaluation report
 * rebuilt from the publisher at most once a second while figures change, the
 * reporters' status polled every 2 s, and the alerts recorded in the
 * follow-up store, grouped per decision for the notifier.
 *
 * One thread (the command's) drives it with pw_live_step(); the HTTP threads
 * read it under pw_live_lock() and wait for a change with pw_live_wait().
 * Everything a page reads is replaced under the lock, never changed in place
 * while a reader holds it.
 */

typedef struct pw_live pw_live_t;

typedef struct pw_live_config {
    const char *pub;           /**< the publisher's stream endpoint */
    const char *snap;          /**< its snapshot endpoint; NULL = derived */
    pw_client_auth_t auth;     /**< how to prove ourselves (client.h) */
    const char *catalog_path;  /**< for a store that records no plan; NULL = default */
    int timeout_ms;            /**< per request to the publisher */
    int64_t escalate_ms;       /**< unacknowledged this long escalates; 0 = never */
    pw_followup_t *fu;         /**< borrowed; written under the live lock */
    pw_notify_t *notify;       /**< borrowed; NULL = no notifications */
} pw_live_config_t;

/** Creates the live state (not connected yet: pw_live_step() connects). Caller owns *out. */
int pw_live_new(const pw_live_config_t *cfg, pw_live_t **out);

/** Frees and NULLs. Stop every reader first (pw_live_stop, then the server). NULL-safe. */
void pw_live_destroy(pw_live_t **self_p);

/**
 * One turn of the loop, at most about timeout_ms: connects when not yet
 * connected (retrying every 2 s, saying why on stderr once per cause),
 * delivers events, flushes a finished decision to the notifier, polls the
 * status, rebuilds the report, escalates. 0, or a fatal error (a plan that
 * does not match --catalog, -ENOMEM).
 */
int pw_live_step(pw_live_t *self, int timeout_ms);

/** Hands the decision being gathered, if any, to the notifier now (before a stop). */
void pw_live_flush(pw_live_t *self);

/** Wakes every pw_live_wait() for good: the server is stopping. */
void pw_live_stop(pw_live_t *self);

/** Takes and gives back the lock the readers below need. */
void pw_live_lock(pw_live_t *self);
void pw_live_unlock(pw_live_t *self);

/**
 * Waits (lock NOT held) until the version differs from seen or timeout_ms
 * passes; *now gets the version. false once pw_live_stop() was called.
 */
bool pw_live_wait(pw_live_t *self, uint64_t seen, int timeout_ms, uint64_t *now);

/* Readers: call with the lock held; what they return is valid until it is released. */

/** Bumped by every change a page could show. */
uint64_t pw_live_version(const pw_live_t *self);

/** Says a page's data changed outside the loop (a follow-up action). Lock held. */
void pw_live_touch(pw_live_t *self);

/** The plan; NULL until connected. */
const pw_catalog_t *pw_live_catalog(const pw_live_t *self);

/** The latest report; NULL while there is no data. */
const pw_report_t *pw_live_report(const pw_live_t *self);

/** The view of rows and open alerts; NULL until connected. */
const pw_view_t *pw_live_view(const pw_live_t *self);

/** The latest status reply (has_period false and nstatus 0 when none yet). */
const pw_reply_t *pw_live_status(const pw_live_t *self);

/** The follow-up store. */
pw_followup_t *pw_live_followup(const pw_live_t *self);

/** Whether the publisher answers; why not into *why (borrowed) when it does not. */
bool pw_live_connected(const pw_live_t *self, const char **why);

/** The last event sequence delivered, and when the last event came (unix ms, 0 = none). */
uint64_t pw_live_seq(const pw_live_t *self, int64_t *last_event_ms);

/** The escalation threshold in ms (0 = never). */
int64_t pw_live_escalate_ms(const pw_live_t *self);

/**
 * Counts the SSE streams open now: +1 on open, -1 on close. An open that would
 * pass max (> 0) is refused (false), counted and checked in one step.
 */
bool pw_live_watchers_add(pw_live_t *self, int delta, int max);

#endif
