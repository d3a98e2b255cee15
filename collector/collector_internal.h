/* SPDX-License-Identifier: MIT */
/*
 * What the collector's files (collector.c, feed.c, answers.c) share and
 * nothing else sees: one run's state and the calls between them.
 */
#ifndef PW_COLLECTOR_INTERNAL_H
#define PW_COLLECTOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "collector.h"
#include "pw/handshake.h"
#include "pw/msg.h"
#include "pw/util.h"
#include "spool.h"

#define HELLO_MS      1000  /* hello while not welcomed, and as keep-alive when idle */
#define WATCH_MS      500   /* how often a followed file is checked without inotify */
#define SILENCE_LOGMS 10000 /* follow mode: remind how long the aggregator is silent */
/* Observations spooled per turn of the loop: sending starts after the first
 * slice of a large file instead of after all of it, so the aggregator works
 * while the rest is spooled. Slices double up to the last size, as each is a
 * synced commit: the first answers quickly, the next ones cost few syncs. */
#define SPOOL_SLICE_FIRST 1024
#define SPOOL_SLICE_MAX   16384
#define DISK_RETRY_MS     1000  /* the spool's file system is full: try again this often */
#define DISK_LOGMS        60000 /* and remind that it is, this often */
#define REFUSED_RETRY_MS  1000  /* the aggregator cannot take updates now: resend after this */

struct file_sig {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct run {
    const pw_collector_opts_t *o;
    pw_collector_result_t *res;
    pw_collector_reject_fn on_reject;
    void *ctx;
    pw_spool_t *spool;
    void *sock;
    pw_handshake_t *hs;    /* the socket's failed handshakes: keys, when no answer comes */
    pw_datafile_t *df;     /* the file as last read, for line numbers */
    size_t spool_pos;      /* df->obs before this are spooled (or were unchanged) */
    size_t slice;          /* observations spooled by the next pw__col_spool_more() */
    size_t file_added;     /* updates spooled from df so far */
    bool resending;        /* --resend: the file is not spooled completely yet */
    size_t resend_pos;     /* df->obs from here on are resent, before only if changed */
    pw_spool_rejection_t *rej; /* rejections answered, not yet recorded in the spool */
    size_t nrej, caprej;
    struct file_sig sig;
    bool loaded;           /* the file has been read at least once */
    bool unspooled;        /* the spool was full: part of the file still waits */
    bool welcomed;
    uint64_t next;         /* next sequence to send */
    uint64_t highest_sent;
    uint64_t run_acked0;   /* answered before this run (or before the spool restarted) */
    uint64_t answered0;    /* answered in this run before the spool restarted */
    int64_t last_hello, last_answer, last_send, last_watch, last_silence_log;
    int64_t last_progress; /* when the answered sequence last moved */
    bool full_warned;
    bool refused;          /* the last answer was a retryable refusal */
    int64_t refused_until; /* and nothing is sent again before then */
    bool legacy;           /* the aggregator predates several updates per frame */
    uint32_t frame_max;    /* updates per frame, as the welcome said */
    pw_buf_t buf;
    pw_buf_t frame;        /* updates waiting to go as one frame */
    uint32_t nframe;       /* how many: r->next to r->next + nframe - 1 */
    int inotify;           /* --follow: the data file's directory, watched; -1 if not */
    const char *base;      /* the data file's name in that directory */
    int64_t disk_since;    /* when spooling found its file system full; 0 while it has room */
    int64_t disk_retry;    /* when to try to spool again */
    int64_t disk_logged;   /* when the full file system was last logged; 0: not yet */
};

/* Whether spooling waits for room on a full file system. */
bool pw__col_disk_waiting(const struct run *r);

/* Removes what the aggregator acknowledged, up to seq, from the spool. */
int pw__col_spool_ack(struct run *r, uint64_t seq);

/* Spools the next slice of the file read; the slice doubles up to SPOOL_SLICE_MAX. */
int pw__col_spool_more(struct run *r);

/* Whether part of the file read still waits to be spooled. */
bool pw__col_spooling(const struct run *r);

/* Reads the data file again when it changed and starts spooling it. */
int pw__col_load_file(struct run *r);

/* Records the rejections answered since the last call in the spool, in one transaction. */
int pw__col_record_rejections(struct run *r);

/* Acts on one answer from the aggregator: welcome, ack, refusal or rejection. */
int pw__col_on_answer(struct run *r, const pw_msg_t *m);

#endif
