/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE /* usleep */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pw/error.h"
#include "pw/util.h"

int pw_session_on_event(void *ctx, pw_event_t *ev)
{
    pw_session_t *self = ctx;
    self->events++;
    if (self->view)
        pw_view_apply(self->view, ev);
    if (self->view && self->nplans > 1 && pw_event_push(&self->seen.ev, &self->seen.n, &self->seen.cap, ev) != 0)
        return -ENOMEM;
    bool transition = ev->type == PW_EV_ALERT && ev->action != PW_ALERT_UPDATE;
    if (self->collect && transition && pw_whatif_push(&self->got, ev) != 0)
        return -ENOMEM;
    if (self->json)
        pw_view_print_event_json(self->cat, ev, stdout);
    else if (self->timeline_out && transition) {
        char when[32];
        pw_format_time(ev->time_ms, when);
        printf("%s", when);
        pw_view_print_alert(self->cat, ev, stdout, self->color);
    }
    return 0;
}

void pw_session_progress(pw_session_t *self, bool last)
{
    int64_t now = pw_mono_ms();
    if (!self->progress || (!last && now - self->last_draw < 200))
        return;
    self->last_draw = now;
    double secs = (double)(now - self->started) / 1000.0;
    double rate = secs > 0 ? (double)self->done / secs : 0;
    double frac = self->total ? (double)self->done / (double)self->total : 1.0;
    int filled = (int)(frac * 30);
    char bar[31];
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : ' ';
    bar[30] = '\0';
    double left = rate > 0 ? (double)(self->total - self->done) / rate : 0;
    fprintf(stderr, "\r[%s] %3.0f%% %llu/%llu records, %.0f/s, %.0f s left ", bar, frac * 100,
            (unsigned long long)self->done, (unsigned long long)self->total, rate, left);
    if (last)
        fputc('\n', stderr);
}

/* Paces the replay: sleeps between original batches by their time apart. */
static void pace(pw_session_t *self, int64_t rt)
{
    if (self->speed <= 0 || rt == self->last_rt)
        return;
    if (self->last_rt) {
        double wait_ms = (double)(rt - self->last_rt) / self->speed;
        int64_t due = self->last_wall + (int64_t)wait_ms;
        int64_t now = pw_mono_ms();
        while (now < due && !pw_cli_stop) {
            fflush(stdout);
            usleep((useconds_t)((due - now > 200 ? 200 : due - now) * 1000));
            now = pw_mono_ms();
        }
    }
    self->last_rt = rt;
    self->last_wall = pw_mono_ms();
}

/*
 * The record about to be replayed was stored under the next version of the
 * plan: switch to it as the aggregator did. An --as-of view is made anew for
 * the new plan, from the events so far, as a restart reads the store.
 */
static int next_plan(pw_session_t *self)
{
    const pw_cli_plan_t *p = &self->plans[self->next_plan++];
    if (self->view) {
        pw_view_t *view = NULL;
        int rc = pw_view_new(p->cat, &view);
        for (size_t i = 0; rc == 0 && i < self->seen.n; i++)
            rc = pw_view_apply(view, &self->seen.ev[i]);
        if (rc != 0) {
            pw_view_destroy(&view);
            return rc;
        }
        pw_view_destroy(&self->view);
        self->view = view;
    }
    self->cat = p->cat;
    return pw_rebuild_plan(self->rb, p->cat, p->time_ms);
}

int pw_session_on_record(void *ctx, uint64_t logseq, const pw_msg_t *rec, const void *raw,
                         size_t len)
{
    pw_session_t *self = ctx;
    if (pw_cli_stop)
        return PW_ETIMEOUT;
    int rc;
    while (self->next_plan < self->nplans && self->plans[self->next_plan].from <= logseq && !self->sender)
        if ((rc = next_plan(self)) != 0)
            return rc;
    pace(self, rec->received_ms);
    self->done++;
    pw_session_progress(self, false);
    if (self->sender)
        return pw_sender_add(self->sender, rec);
    return pw_rebuild_add_raw(self->rb, rec, raw, len);
}

int pw_session_load_plans(pw_session_t *self, const char *store_dir, const char *catalog_path,
                          const char *whatif_path)
{
    if (!whatif_path)
        return pw_cli_store_plans("replay", store_dir, catalog_path, &self->plans, &self->nplans);
    if ((self->plans = calloc(1, sizeof(*self->plans))) == NULL)
        return -ENOMEM;
    self->plans[0] = (pw_cli_plan_t){.from = 1, .time_ms = -1};
    int rc = pw_cli_load_catalog(whatif_path, &self->plans[0].cat);
    self->nplans = rc == 0 ? 1 : 0;
    return rc;
}

/* Under the store's own plan a skipped record never happens to a sound
 * store, so it is an error; under a what-if plan it is said. */
int pw_session_check_skipped(pw_session_t *self, bool whatif)
{
    uint64_t applied, skipped;
    pw_rebuild_counts(self->rb, &applied, &skipped);
    if (skipped == 0)
        return 0;
    if (whatif && applied > 0) {
        fprintf(stderr, "planwatch replay: %llu records name districts or elements the what-if "
                        "plan does not have: left out\n", (unsigned long long)skipped);
        return 0;
    }
    fprintf(stderr, "planwatch replay: %llu of %llu records name districts or elements %s does "
                    "not have: %s\n",
            (unsigned long long)skipped, (unsigned long long)(applied + skipped),
            whatif ? "the what-if plan" : "the store's plan",
            whatif ? "nothing left to replay" : "the store is not sound");
    return PW_EINCOMPAT;
}


void pw_session_clear(pw_session_t *self)
{
    pw_whatif_clear(&self->got);
    pw_rebuild_destroy(&self->rb);
    pw_sender_destroy(&self->sender);
    pw_view_destroy(&self->view);
    free(self->seen.ev);
    self->seen.ev = NULL;
    pw_cli_plans_free(&self->plans, self->nplans);
}
