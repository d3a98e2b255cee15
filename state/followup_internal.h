/* SPDX-License-Identifier: MIT */
/*
 * What the follow-up's files (followup.c, followup_codec.c, followup_silence.c) share and
 * nothing else sees: the environment's layout, the record codec and the
 * transaction helpers.
 */
#ifndef PW_FOLLOWUP_INTERNAL_H
#define PW_FOLLOWUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "followup.h"

/*
 * The named databases:
 *   meta     "format" -> u32 (FU_FORMAT)
 *   alerts   key ("INDICATOR/SERIES#N") -> alert record
 *   actions  key, NUL, be64 index -> action record (the alert's log, in order)
 *   opened   be64 opened_ms (sign flipped), key -> nothing: newest first by walking back
 *   series   indicator, NUL, series -> series record (the last instance N)
 *   silences 'i' or 'd', id -> silence record
 * Every record starts with a version byte; a later version only appends
 * fields, so an older reader reads what it knows and a newer one defaults
 * what an older record lacks.
 */
#define FU_FORMAT 1u
#define FU_REC_V  1u

enum { FU_META, FU_ALERTS, FU_ACTIONS, FU_OPENED, FU_SERIES, FU_SILENCES, FU_DB_COUNT };

struct pw_followup {
    MDB_env *env;
    MDB_dbi dbi[FU_DB_COUNT];
    bool readonly;
    int writer; /* the writer's lock (lmdb_util.h), -1 when read-only */
};

/* A growing byte buffer for encoding records; err sticks at the first failure. */
typedef struct fu_wr {
    unsigned char *p;
    size_t len, cap;
    int err;
} fu_wr_t;

/* Encodes a silence record into w (w->err on failure). */
void pw__fu_put_silence(fu_wr_t *w, const pw_fu_silence_t *s);

/* Decodes a silence record; PW_ESTORE for a malformed one. */
int pw__fu_get_silence(const MDB_val *v, pw_fu_silence_t *out);

/* Encodes an alert record into w. */
void pw__fu_put_alert(fu_wr_t *w, const pw_fu_alert_t *a);

/* Decodes an alert record stored under key k; PW_ESTORE for a malformed one. */
int pw__fu_get_alert(const MDB_val *k, const MDB_val *v, pw_fu_alert_t *out);

/* Encodes an action record into w. */
void pw__fu_put_action(fu_wr_t *w, const pw_fu_action_t *a);

/* Decodes an action record; PW_ESTORE for a malformed one. */
int pw__fu_get_action(const MDB_val *v, pw_fu_action_t *out);

/* A series record: the version byte and the series' last instance N. */
#define FU_SERIES_REC 9
void pw__fu_put_series(unsigned char buf[FU_SERIES_REC], uint32_t last);

/* Decodes a series record: its last instance into *last. PW_ESTORE when malformed. */
int pw__fu_get_series(const MDB_val *v, uint32_t *last);

/* Appends action a to the alert *al (its log index al->nactions, then counted) and
 * stores the alert; both inside txn. An error code. */
int pw__fu_log_action(pw_followup_t *self, MDB_txn *txn, pw_fu_alert_t *al,
                      const pw_fu_action_t *a);

/* Begins a read (write false) or write transaction, adopting a map grown by the writer. */
int pw__fu_begin(pw_followup_t *self, bool write, MDB_txn **out);

/*
 * Runs body in one write transaction and commits it: all of it or nothing.
 * A full map is grown (doubling, up to FU_MAP_MAX) and the body run again
 * from the start, so a body must not keep effects outside the transaction
 * across calls, or must reset them first. -EROFS when read-only.
 */
int pw__fu_write(pw_followup_t *self, int (*body)(pw_followup_t *self, MDB_txn *txn, void *ctx),
                 void *ctx);

/* The silence key of (district, id) into buf (PW_ID_MAX + 1 bytes); its length. */
size_t pw__fu_silence_key(char *buf, bool district, const char *id);

#endif
