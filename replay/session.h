/* SPDX-License-Identifier: MIT */
#ifndef PW_SESSION_H
#define PW_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "pw/event.h"
#include "pw/msg.h"
#include "rebuild.h"
#include "sender.h"
#include "view.h"
#include "whatif.h"

/*
 * One run of planwatch replay: the plan versions it switches between, its
 * pace and progress bar, and what it does with each record (rebuild or send)
 * and each event (count, view, what-if timeline, print). The command fills
 * the flags and the sinks; the callbacks below do the rest.
 */

/** Events kept for rebuilding a view under a revised plan. */
struct pw_session_kept {
    pw_event_t *ev;
    size_t n, cap;
};

/** A replay's state; zero-initialise, free with pw_session_clear(). */
typedef struct pw_session {
    const pw_catalog_t *cat; /**< the plan of the record being replayed */
    pw_cli_plan_t *plans;    /**< the store's plan versions, or the what-if plan */
    size_t nplans, next_plan;
    struct pw_session_kept seen; /**< --as-of over a revised plan: the events so far */
    bool json, quiet, color, progress, collect, timeline_out;
    double speed; /**< 0 = max, 1 = original, N = N times faster */
    int64_t last_rt;
    int64_t last_wall;
    pw_rebuild_t *rb;
    pw_sender_t *sender; /**< --connect: into a running aggregator */
    pw_view_t *view;     /**< --as-of */
    pw_whatif_timeline_t got; /**< with collect: the alert transitions produced */
    uint64_t total, done, events;
    int64_t started, last_draw;
} pw_session_t;

/**
 * The plans to replay under: the store's own versions, each from the record
 * it applies to, or the one whatif_path (NULL: none) names. Errors printed;
 * 0 or an error code.
 */
int pw_session_load_plans(pw_session_t *self, const char *store_dir, const char *catalog_path,
                          const char *whatif_path);

/** pw_model_emit_fn for the rebuild (ctx: the session): 0 or -ENOMEM. */
int pw_session_on_event(void *ctx, pw_event_t *ev);

/**
 * pw_replay_raw_fn (ctx: the session): switches plans where the store did,
 * paces, draws progress, and rebuilds or sends the record. PW_ETIMEOUT once
 * stopped (SIGINT, SIGTERM).
 */
int pw_session_on_record(void *ctx, uint64_t logseq, const pw_msg_t *rec, const void *raw,
                         size_t len);

/** Redraws the progress bar on stderr (when on; at most every 200 ms unless last). */
void pw_session_progress(pw_session_t *self, bool last);

/**
 * Says on stderr when records the plan in force does not know were skipped:
 * PW_EINCOMPAT under the store's plan, or under a what-if plan that left
 * nothing; else 0.
 */
int pw_session_check_skipped(pw_session_t *self, bool whatif);

/** Frees what the session holds: rebuild, sender, view, plans, events. */
void pw_session_clear(pw_session_t *self);

#endif
