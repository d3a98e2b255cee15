/* SPDX-License-Identifier: MIT */
#ifndef PW_FOLLOWUP_H
#define PW_FOLLOWUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/event.h"

/*
 * The bureau's follow-up of alerts: what staff did about each alert the
 * pipeline raised (acknowledge, assign, comment, close, reopen), what they
 * silenced until when, and which alerts escalated for want of an
 * acknowledgement. An LMDB environment of its own (DATADIR/followup), written
 * by `planwatch web` alone (one-writer lock, as the store's) and read by
 * `monitor` and `report`: the measurement store stays what the collectors
 * sent, and the bureau's notes never enter its log or its replays.
 *
 * An alert is one series' (indicator, series) stay in the alert state: it
 * opens, may be updated over later periods, and resolves when the pipeline
 * says so. Its key is "INDICATOR/SERIES#N", N counting the series' alerts
 * from 1. Every action is kept in order with who and when.
 */

#define PW_FU_WHO_MAX  64   /**< a user name */
#define PW_FU_TEXT_MAX 2048 /**< a comment (情况说明) or an assignee */
#define PW_FU_KEY_MAX  (2 * PW_ID_MAX + 16)

typedef struct pw_followup pw_followup_t;

/** Where the bureau is with an alert. */
typedef enum pw_fu_state {
    PW_FU_NEW = 0,  /**< nobody has acknowledged it */
    PW_FU_ACKED,    /**< acknowledged (maybe assigned, commented) */
    PW_FU_CLOSED,   /**< closed by staff */
} pw_fu_state_t;

/** What an action did. */
typedef enum pw_fu_kind {
    PW_FU_ACK = 1,
    PW_FU_ASSIGN,   /**< text: the responsible unit or person */
    PW_FU_COMMENT,  /**< text: the note */
    PW_FU_CLOSE,    /**< text: optional note */
    PW_FU_REOPEN,
    PW_FU_ESCALATE, /**< by the system (who = "planwatch"): unacknowledged too long */
} pw_fu_kind_t;

typedef struct pw_fu_action {
    int64_t time_ms;
    char who[PW_FU_WHO_MAX];
    pw_fu_kind_t kind;
    char text[PW_FU_TEXT_MAX];
} pw_fu_action_t;

/** One alert as the bureau follows it. */
typedef struct pw_fu_alert {
    char key[PW_FU_KEY_MAX];
    char indicator[PW_ID_MAX];
    char series[PW_ID_MAX];
    uint32_t instance;        /**< N of the key */
    pw_period_t period;       /**< the latest period the pipeline reported it for */
    int64_t opened_ms;        /**< when this process first saw it open */
    int64_t resolved_ms;      /**< when the pipeline resolved it; 0 = still open */
    bool has_rate;
    int64_t centi;            /**< latest rate, hundredths */
    pw_band_t band;
    char why[PW_MSG_TEXTMAX]; /**< the pipeline's latest why */
    pw_fu_state_t state;
    char assignee[PW_FU_TEXT_MAX]; /**< "" = none */
    char acked_by[PW_FU_WHO_MAX];
    int64_t acked_ms;         /**< 0 = not acknowledged */
    int64_t escalated_ms;     /**< 0 = not escalated */
    uint32_t nactions;
} pw_fu_alert_t;

/** A silence: no notification and no escalation for what it names, until until_ms. */
typedef struct pw_fu_silence {
    bool district;            /**< false: id is an indicator; true: a district */
    char id[PW_ID_MAX];
    int64_t until_ms;
    int64_t set_ms;
    char who[PW_FU_WHO_MAX];
    char note[PW_FU_TEXT_MAX];
} pw_fu_silence_t;

/**
 * Opens (creating dir and the environment when writable) the follow-up in dir.
 * Writable: takes the one-writer lock (-EBUSY when another process holds it).
 * Read-only: -ENOENT when there is none. 0, -EBUSY, -ENOENT, -ENOSPC, PW_ESTORE.
 * Caller owns *out.
 */
int pw_followup_open(const char *dir, bool writable, pw_followup_t **out);

/** Closes, releases the lock and NULLs. NULL-safe. */
void pw_followup_destroy(pw_followup_t **self_p);

/**
 * Records what the pipeline said of an alert: ev is a PW_EV_ALERT (open,
 * update, resolve) or, from a snapshot, an open alert. A series without an
 * open record gets a new one (instance + 1) on open or update; a resolve
 * closes the pipeline's side of the open record (resolved_ms = now_ms).
 * *created (may be NULL) says whether a new alert was recorded; *out (may be
 * NULL) receives the record. Other events are ignored (0). 0 or an error.
 */
int pw_followup_observe(pw_followup_t *self, const pw_event_t *ev, int64_t now_ms,
                        bool *created, pw_fu_alert_t *out);

/**
 * Applies an action by who to the alert key. ACK of a new alert, ASSIGN and
 * COMMENT (text required, not empty) on any not closed, CLOSE of one not
 * closed, REOPEN of a closed one; ESCALATE is the system's (pw_followup_escalate).
 * PW_ENOTFOUND for an unknown key, -EINVAL for a bad text, -EALREADY for an
 * action the alert's state refuses (acknowledge twice, close a closed one).
 */
int pw_followup_act(pw_followup_t *self, const char *key, pw_fu_kind_t kind, const char *who,
                    const char *text, int64_t now_ms);

/** The alert key into *out and its actions (caller frees *actions; may be NULL). */
int pw_followup_get(pw_followup_t *self, const char *key, pw_fu_alert_t *out,
                    pw_fu_action_t **actions);

/** Calls fn for each alert, newest opened first, until fn returns non-zero (returned). */
int pw_followup_each(pw_followup_t *self, int (*fn)(void *ctx, const pw_fu_alert_t *a),
                     void *ctx);

/** The alert open now for (indicator, series), if any: 0 or PW_ENOTFOUND. */
int pw_followup_current(pw_followup_t *self, const char *indicator, const char *series,
                        pw_fu_alert_t *out);

/** Sets (or replaces) a silence; until_ms must be after now_ms (-EINVAL). */
int pw_followup_silence(pw_followup_t *self, const pw_fu_silence_t *s, int64_t now_ms);

/** Lifts the silence of an indicator or district before its time; PW_ENOTFOUND when none. */
int pw_followup_unsilence(pw_followup_t *self, bool district, const char *id, const char *who,
                          int64_t now_ms);

/** Calls fn for each silence in force at now_ms (expired ones are skipped). */
int pw_followup_silences(pw_followup_t *self, int64_t now_ms,
                         int (*fn)(void *ctx, const pw_fu_silence_t *s), void *ctx);

/**
 * Whether an alert of indicator, naming districts (n of them, may be 0), is
 * silenced at now_ms: its indicator is, or any of the districts is.
 */
bool pw_followup_silenced(pw_followup_t *self, const char *indicator, const char *const *districts,
                          size_t n, int64_t now_ms);

/**
 * Escalates every alert open in the pipeline, not acknowledged, not closed
 * and not silenced (by its indicator), opened at least after_ms before
 * now_ms and not escalated yet: records an ESCALATE action and calls fn
 * (may be NULL) with each. Returns how many, or a negative error.
 */
int pw_followup_escalate(pw_followup_t *self, int64_t now_ms, int64_t after_ms,
                         void (*fn)(void *ctx, const pw_fu_alert_t *a), void *ctx);

/**
 * A number that changes whenever the writer commits (LMDB's last transaction
 * id), so a reader can tell cheaply whether to show the follow-up again.
 */
uint64_t pw_followup_generation(pw_followup_t *self);

/** "new", "acknowledged", "closed". */
const char *pw_fu_state_name(pw_fu_state_t s);

/** "ack", "assign", "comment", "close", "reopen", "escalate". */
const char *pw_fu_kind_name(pw_fu_kind_t k);

/** The kind named by name (as pw_fu_kind_name), or 0. */
pw_fu_kind_t pw_fu_kind_parse(const char *name);

#endif
