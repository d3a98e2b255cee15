/* SPDX-License-Identifier: MIT */
/*
 * What the spool's files (spool.c, spool_add.c, spool_read.c, spool_reject.c)
 * share and nothing else sees: the spool's layout and the calls between them.
 */
#ifndef PW_SPOOL_INTERNAL_H
#define PW_SPOOL_INTERNAL_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/util.h"
#include "spool.h"

/* Answers recorded per transaction. Each record is a synced commit, and
 * losing the last ones in a crash costs only their resending, which the
 * aggregator absorbs as duplicates: so they are recorded rarely. */
#define ACK_BATCH  8192
#define REMOVE_MIN 512   /* answered updates removed together at least */
#define REMOVE_MAX 65536 /* answered updates left in the spool at most */

enum { DB_META, DB_PENDING, DB_LAST, DB_REJECTED, DB_COUNT };

struct pw_spool {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    char district[PW_ID_MAX];
    uint64_t epoch;
    uint64_t head;   /* highest seq spooled */
    uint64_t acked;  /* answered, in memory */
    uint64_t stored_acked; /* answered, on disk */
    uint64_t removed;      /* every update up to it is gone from pending */
    uint64_t remove_batch; /* answered updates left in pending before removal */
    uint64_t max_pending;  /* the spool's bound, in updates */
    bool has_rejected;     /* "rejected" may hold records: changed values clear theirs */
    bool resending;        /* pw_spool_resend(): spool values even when unchanged */
    pw_buf_t buf;
    /* What every stored update of this spool starts with, up to its sequence
     * number: map header, version, type, district, epoch and the "s" key. */
    unsigned char prefix[48 + PW_ID_MAX];
    size_t prefix_len;
};

/*
 * A chunk's writer of the last-value table. Data files run period after
 * period, so the period's text is kept from one key to the next. A key above
 * every key in the table is new: it is appended, with no search, filling
 * pages instead of splitting them in half (most keys of a first load).
 */
struct last_table {
    MDB_cursor *cur;
    size_t maxlen;        /* the table's highest key; none when 0 */
    char max[PW_PERIOD_STRMAX + PW_ID_MAX];
    pw_period_t period;   /* of ptext, when plen > 0 */
    size_t plen;
    char ptext[PW_PERIOD_STRMAX];
};

/* Puts a u64 under key in the meta table. */
int pw__spool_meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t value);

/* The message's fixed part of an update of this spool. */
void pw__spool_update_template(const pw_spool_t *self, pw_msg_t *m, int64_t now_ms);

/* "period\0element" into buf; its length. */
size_t pw__spool_last_key(struct last_table *t, char *buf, const pw_obs_t *o);

#endif
