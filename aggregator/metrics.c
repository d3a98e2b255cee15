/* SPDX-License-Identifier: MIT */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pw/error.h"
#include "pw/prom.h"
#include "pw/util.h"

/* Every wire reason code, in the order of the X-macro list, so a new code
 * gets its own series (at 0) without a change here. */
#define REASON_CODE(name, code, text) PW_##name,
static const int reasons[] = {PW_ERROR_MAP(REASON_CODE)};
#undef REASON_CODE
#define NREASONS (sizeof(reasons) / sizeof(reasons[0]))
#define NOTHER   8 /* distinct errno reasons (EBUSY...) kept */

struct district_metrics {
    bool connected;
    int64_t seen_ms;
    uint64_t lag, last_seq;
};

struct pw_agg_metrics {
    const pw_catalog_t *cat;
    int64_t start_ms;
    uint64_t frames, messages, accepted, duplicates;
    uint64_t handshakes_accepted, handshakes_refused;
    uint64_t rejected[NREASONS];
    struct {
        int code;
        uint64_t n;
    } other[NOTHER];
    pw_prom_hist_t batch_messages, commit_seconds;
    struct district_metrics *districts;
    pw_prom_t *prom;
};

pw_agg_metrics_t *pw_agg_metrics_new(const pw_catalog_t *cat)
{
    static const double sizes[] = {1, 4, 16, 64, 256, 1024, 4096, 16384};
    static const double secs[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05,   0.1,   0.25,   0.5,   1,    2.5};
    pw_agg_metrics_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cat = cat;
    self->start_ms = pw_now_ms();
    self->districts = calloc(cat->ndistricts ? cat->ndistricts : 1, sizeof(*self->districts));
    self->prom = pw_prom_new();
    if (!self->districts || !self->prom) {
        pw_agg_metrics_destroy(&self);
        return NULL;
    }
    pw_prom_hist_init(&self->batch_messages, sizes, sizeof(sizes) / sizeof(sizes[0]));
    pw_prom_hist_init(&self->commit_seconds, secs, sizeof(secs) / sizeof(secs[0]));
    return self;
}

void pw_agg_metrics_destroy(pw_agg_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_prom_destroy(&(*self_p)->prom);
    free((*self_p)->districts);
    free(*self_p);
    *self_p = NULL;
}

void pw_agg_metrics_batch(pw_agg_metrics_t *self, size_t frames, size_t messages,
                          uint64_t stored, uint64_t duplicates, double seconds)
{
    self->frames += frames;
    self->messages += messages;
    self->accepted += stored;
    self->duplicates += duplicates;
    pw_prom_hist_observe(&self->batch_messages, (double)messages);
    pw_prom_hist_observe(&self->commit_seconds, seconds);
}

void pw_agg_metrics_nack(pw_agg_metrics_t *self, int reason)
{
    for (size_t i = 0; i < NREASONS; i++) {
        if (reasons[i] == reason) {
            self->rejected[i]++;
            return;
        }
    }
    for (size_t i = 0; i < NOTHER; i++) {
        if (self->other[i].code == reason || self->other[i].code == 0) {
            self->other[i].code = reason;
            self->other[i].n++;
            return;
        }
    }
}

void pw_agg_metrics_handshakes(pw_agg_metrics_t *self, uint64_t accepted, uint64_t refused)
{
    self->handshakes_accepted = accepted;
    self->handshakes_refused = refused;
}

void pw_agg_metrics_district(pw_agg_metrics_t *self, size_t d, bool connected, int64_t seen_ms,
                             uint64_t lag, uint64_t last_seq)
{
    if (d >= self->cat->ndistricts)
        return;
    self->districts[d] = (struct district_metrics){connected, seen_ms, lag, last_seq};
}

static int counter(pw_prom_t *p, const char *name, const char *help, uint64_t v)
{
    int rc = pw_prom_family(p, name, "counter", help);
    return rc ? rc : pw_prom_sample(p, name, (double)v, (const char *)NULL);
}

static int gauge(pw_prom_t *p, const char *name, const char *help, double v)
{
    int rc = pw_prom_family(p, name, "gauge", help);
    return rc ? rc : pw_prom_sample(p, name, v, (const char *)NULL);
}

/* One gauge per district; seen_only: skip districts never heard from. */
static int per_district(pw_agg_metrics_t *self, const char *name, const char *help, int which)
{
    int rc = pw_prom_family(self->prom, name, "gauge", help);
    for (size_t d = 0; d < self->cat->ndistricts && rc == 0; d++) {
        const struct district_metrics *m = &self->districts[d];
        double v = which == 0   ? (double)m->seen_ms / 1000.0
                   : which == 1 ? (double)m->lag
                   : which == 2 ? (double)m->last_seq
                                : (m->connected ? 1.0 : 0.0);
        if (which == 0 && m->seen_ms == 0)
            continue; /* never heard from: no sample rather than 1970 */
        rc = pw_prom_sample(self->prom, name, v, "district", self->cat->districts[d].id,
                            (const char *)NULL);
    }
    return rc;
}

static int render(pw_agg_metrics_t *self, const char *store_dir, size_t map_size, uint64_t head)
{
    pw_prom_t *p = self->prom;
    int rc;
    if ((rc = gauge(p, "planwatch_aggregator_start_time_seconds",
                    "Unix time the aggregator started.", (double)self->start_ms / 1000.0)) ||
        (rc = counter(p, "planwatch_aggregator_messages_total",
                      "Messages from collectors in committed batches (hellos and updates).",
                      self->messages)) ||
        (rc = counter(p, "planwatch_aggregator_frames_total",
                      "ZeroMQ frames from collectors in committed batches (a frame holds up "
                      "to 64 updates).",
                      self->frames)) ||
        (rc = counter(p, "planwatch_aggregator_updates_accepted_total",
                      "Updates stored and acknowledged.", self->accepted)) ||
        (rc = counter(p, "planwatch_aggregator_duplicates_total",
                      "Updates received again after a lost ack: acknowledged, not stored.",
                      self->duplicates)) ||
        (rc = counter(p, "planwatch_aggregator_handshakes_accepted_total",
                      "CURVE handshakes accepted by the ZAP handler (a known district key).",
                      self->handshakes_accepted)) ||
        (rc = counter(p, "planwatch_aggregator_handshakes_refused_total",
                      "CURVE handshakes refused by the ZAP handler (unknown or revoked key).",
                      self->handshakes_refused)))
        return rc;
    const char *name = "planwatch_aggregator_rejected_total";
    rc = pw_prom_family(p, name, "counter",
                        "Messages answered with a NACK, by the wire reason code.");
    for (size_t i = 0; i < NREASONS && rc == 0; i++)
        rc = pw_prom_sample(p, name, (double)self->rejected[i], "reason",
                            pw_err_name(reasons[i]), (const char *)NULL);
    for (size_t i = 0; i < NOTHER && rc == 0 && self->other[i].code; i++)
        rc = pw_prom_sample(p, name, (double)self->other[i].n, "reason",
                            pw_err_name(self->other[i].code), (const char *)NULL);
    if (rc == 0)
        rc = pw_prom_family(p, "planwatch_aggregator_batch_messages", "histogram",
                            "Messages per committed batch (one LMDB transaction).");
    if (rc == 0)
        rc = pw_prom_histogram(p, "planwatch_aggregator_batch_messages", NULL, NULL,
                               &self->batch_messages);
    if (rc == 0)
        rc = pw_prom_family(p, "planwatch_aggregator_commit_seconds", "histogram",
                            "Time from a batch's transaction begin to its durable commit.");
    if (rc == 0)
        rc = pw_prom_histogram(p, "planwatch_aggregator_commit_seconds", NULL, NULL,
                               &self->commit_seconds);
    if (rc == 0)
        rc = per_district(self, "planwatch_aggregator_district_last_seen_seconds",
                          "Unix time the district's collector was last heard from.", 0);
    if (rc == 0)
        rc = per_district(self, "planwatch_aggregator_district_lag_updates",
                          "Updates in the district's spool not yet committed (its last hello).",
                          1);
    if (rc == 0)
        rc = per_district(self, "planwatch_aggregator_district_last_seq",
                          "Last sequence committed for the district's collector epoch.", 2);
    if (rc == 0)
        rc = per_district(self, "planwatch_aggregator_district_connected",
                          "1 when the district's collector was heard from in the last 5 s.", 3);
    char data[4096];
    struct stat st;
    snprintf(data, sizeof(data), "%s/data.mdb", store_dir);
    double bytes = stat(data, &st) == 0 ? (double)st.st_size : 0.0;
    if (rc == 0)
        rc = gauge(p, "planwatch_aggregator_store_bytes", "Size of the LMDB data file.", bytes);
    if (rc == 0)
        rc = gauge(p, "planwatch_aggregator_store_map_bytes",
                   "LMDB map size: the store's current capacity.", (double)map_size);
    if (rc == 0)
        rc = gauge(p, "planwatch_aggregator_event_head",
                   "Sequence number of the last event committed.", (double)head);
    return rc;
}

int pw_agg_metrics_write(pw_agg_metrics_t *self, const char *path, const char *store_dir,
                         size_t map_size, uint64_t head)
{
    pw_prom_reset(self->prom);
    int rc = render(self, store_dir, map_size, head);
    return rc ? rc : pw_prom_write_file(self->prom, path);
}
