/* SPDX-License-Identifier: MIT */
#include "rebuild.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pw/error.h"
#include "store.h"

#define TXN_RECORDS 65536 /* records per transaction at most */

struct seq_entry {
    char district[PW_ID_MAX];
    uint64_t epoch, seq;
    int64_t seen;
};

/* Catalog ids to their index: a replay looks up two ids per record, and the
 * catalog's own lookup is a linear search (64 x 40 ids in a large city). */
struct idmap {
    const char **ids; /* NULL: empty slot */
    int *idx;
    size_t mask;
};

/* A current value waiting for the end of its transaction: a key revised many
 * times within one transaction is written to LMDB once, with its last value. */
struct cur_entry {
    int32_t d, e; /* catalog indices; d < 0 marks an empty slot */
    pw_period_t period;
    double value;
    uint64_t logseq;
};

struct pw_rebuild {
    const pw_catalog_t *cat;
    pw_model_t *model;
    pw_store_t *store; /* NULL: events only */
    pw_txn_t *txn;
    pw_model_emit_fn on_event;
    void *ctx;
    int64_t group_rt; /* commit time of the original batch being rebuilt */
    bool in_group;
    uint64_t in_txn, applied, skipped, next_event;
    struct seq_entry *seqs;
    size_t nseqs, capseqs;
    struct idmap districts, elements;
    struct cur_entry *cur; /* open addressing, a power of two slots */
    size_t ncur, capcur;
};

static size_t hash_str(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return (size_t)h;
}

static int idmap_init(struct idmap *m, size_t n, const char *(*id_of)(const pw_catalog_t *, size_t),
                      const pw_catalog_t *cat)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->ids = calloc(cap, sizeof(*m->ids));
    m->idx = calloc(cap, sizeof(*m->idx));
    if (!m->ids || !m->idx)
        return -ENOMEM;
    m->mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        const char *id = id_of(cat, i);
        size_t h = hash_str(id, strlen(id)) & m->mask;
        while (m->ids[h])
            h = (h + 1) & m->mask;
        m->ids[h] = id;
        m->idx[h] = (int)i;
    }
    return 0;
}

static int idmap_find(const struct idmap *m, const char *s)
{
    size_t len = strlen(s);
    for (size_t h = hash_str(s, len) & m->mask; m->ids[h]; h = (h + 1) & m->mask)
        if (strcmp(m->ids[h], s) == 0)
            return m->idx[h];
    return -1;
}

static void idmap_free(struct idmap *m)
{
    free(m->ids);
    free(m->idx);
}

static const char *district_id(const pw_catalog_t *cat, size_t i)
{
    return cat->districts[i].id;
}

static const char *element_id(const pw_catalog_t *cat, size_t i)
{
    return cat->elements[i].id;
}

static size_t cur_slot(const pw_rebuild_t *self, int d, int e, pw_period_t p)
{
    uint64_t h = ((uint64_t)(uint32_t)d * 1000003u + (uint64_t)(uint32_t)e) * 1000003u +
                 (uint64_t)(uint32_t)p.end * 16u + p.months;
    h *= 0x9e3779b97f4a7c15u;
    size_t i = (size_t)(h >> 20) & (self->capcur - 1);
    while (self->cur[i].d >= 0 && !(self->cur[i].d == d && self->cur[i].e == e &&
                                    pw_period_eq(self->cur[i].period, p)))
        i = (i + 1) & (self->capcur - 1);
    return i;
}

static void cur_clear(struct cur_entry *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        c[i].d = -1;
}

static int cur_grow(pw_rebuild_t *self)
{
    size_t cap = self->capcur ? self->capcur * 2 : 4096;
    struct cur_entry *old = self->cur, *n = malloc(cap * sizeof(*n));
    if (!n)
        return -ENOMEM;
    cur_clear(n, cap);
    size_t oldcap = self->capcur;
    self->cur = n;
    self->capcur = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].d >= 0)
            self->cur[cur_slot(self, old[i].d, old[i].e, old[i].period)] = old[i];
    free(old);
    return 0;
}

static int cur_note(pw_rebuild_t *self, int d, int e, pw_period_t p, double value, uint64_t logseq)
{
    if (2 * (self->ncur + 1) > self->capcur) {
        int rc = cur_grow(self);
        if (rc != 0)
            return rc;
    }
    struct cur_entry *c = &self->cur[cur_slot(self, d, e, p)];
    if (c->d < 0) {
        *c = (struct cur_entry){d, e, p, 0, 0};
        self->ncur++;
    }
    c->value = value;
    c->logseq = logseq;
    return 0;
}

/* Writes the transaction's current values, each once. */
static int write_current(pw_rebuild_t *self)
{
    int rc = 0;
    for (size_t i = 0; i < self->capcur && rc == 0; i++) {
        const struct cur_entry *c = &self->cur[i];
        if (c->d >= 0)
            rc = pw_store_current_put(self->txn, self->cat->districts[c->d].id,
                                      self->cat->elements[c->e].id, c->period, c->value,
                                      c->logseq);
    }
    cur_clear(self->cur, self->capcur);
    self->ncur = 0;
    return rc;
}

int pw_rebuild_new(const pw_catalog_t *cat, const char *into, pw_model_emit_fn on_event,
                   void *ctx, pw_rebuild_t **out)
{
    *out = NULL;
    pw_rebuild_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->cat = cat;
    self->on_event = on_event;
    self->ctx = ctx;
    int rc = pw_model_new(cat, &self->model);
    if (rc == 0)
        rc = idmap_init(&self->districts, cat->ndistricts, district_id, cat);
    if (rc == 0)
        rc = idmap_init(&self->elements, cat->nelements, element_id, cat);
    if (rc == 0 && into) {
        /* The map is address space, not disk: make it big enough for any
         * history rather than growing it mid-transaction. */
        pw_store_opts_t so = {.readonly = false, .map_size = (size_t)8 << 30};
        rc = pw_store_open(&self->store, into, &so);
        uint64_t head = 0;
        if (rc == 0 && (rc = pw_store_begin(self->store, true, &self->txn)) == 0 &&
            (rc = pw_store_log_head(self->txn, &head)) == 0 && head > 0)
            rc = PW_EINCOMPAT; /* never mix a rebuild into a store with history */
        if (rc == 0)
            rc = pw_store_put_digest(self->txn, cat->digest);
    }
    if (rc != 0) {
        pw_rebuild_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

/* Points the id maps at cat's ids. */
static int map_ids(pw_rebuild_t *self, const pw_catalog_t *cat)
{
    idmap_free(&self->districts);
    idmap_free(&self->elements);
    memset(&self->districts, 0, sizeof(self->districts));
    memset(&self->elements, 0, sizeof(self->elements));
    int rc = idmap_init(&self->districts, cat->ndistricts, district_id, cat);
    return rc == 0 ? idmap_init(&self->elements, cat->nelements, element_id, cat) : rc;
}

static int end_group(pw_rebuild_t *self);
static int commit(pw_rebuild_t *self, bool reopen);
static int emit(void *ctx, pw_event_t *ev);

int pw_rebuild_plan(pw_rebuild_t *self, const pw_catalog_t *cat, int64_t time_ms)
{
    /* What came before is rated under the plan it came under, and its current
     * values are written with that plan's ids. */
    int rc = end_group(self);
    if (rc == 0)
        rc = commit(self, self->txn != NULL);
    uint64_t head = 0;
    if (rc == 0 && self->txn && (rc = pw_store_log_head(self->txn, &head)) == 0 &&
        (rc = pw_store_plan_put(self->txn, head + 1, time_ms, cat->text, cat->text_len)) == 0)
        rc = pw_store_put_digest(self->txn, cat->digest);
    if (rc != 0 || memcmp(cat->digest, self->cat->digest, 32) == 0)
        return rc; /* the same plan: the same indices, nothing to recompute */
    pw_model_t *model = NULL;
    if ((rc = pw_model_rebase(self->model, cat, &model)) != 0)
        return rc;
    pw_model_destroy(&self->model);
    self->model = model;
    self->cat = cat;
    if ((rc = map_ids(self, cat)) != 0)
        return rc;
    /* As the aggregator did when it started with the revised plan. */
    return pw_model_flush(self->model, time_ms, emit, self);
}

pw_model_t *pw_rebuild_model(pw_rebuild_t *self)
{
    return self->model;
}

void pw_rebuild_counts(const pw_rebuild_t *self, uint64_t *applied, uint64_t *skipped)
{
    *applied = self->applied;
    *skipped = self->skipped;
}

static int emit(void *ctx, pw_event_t *ev)
{
    pw_rebuild_t *self = ctx;
    int rc = 0;
    if (self->txn)
        rc = pw_store_persist_event(self->txn, ev);
    else
        ev->seq = ++self->next_event;
    if (rc == 0 && self->on_event)
        rc = self->on_event(self->ctx, ev);
    return rc;
}

/* Evaluates the batch being rebuilt, stamped with its original commit time. */
static int end_group(pw_rebuild_t *self)
{
    if (!self->in_group)
        return 0;
    self->in_group = false;
    return pw_model_flush(self->model, self->group_rt, emit, self);
}

static int write_seqs(pw_rebuild_t *self)
{
    int rc = 0;
    for (size_t i = 0; i < self->nseqs && rc == 0; i++)
        rc = pw_store_seq_put(self->txn, self->seqs[i].district, self->seqs[i].epoch,
                              self->seqs[i].seq, self->seqs[i].seen);
    return rc;
}

static int commit(pw_rebuild_t *self, bool reopen)
{
    if (!self->txn)
        return 0;
    int rc = write_current(self);
    if (rc == 0)
        rc = write_seqs(self);
    if (rc == 0)
        rc = pw_store_commit(&self->txn);
    else
        pw_store_abort(&self->txn);
    self->in_txn = 0;
    if (rc == 0 && reopen)
        rc = pw_store_begin(self->store, true, &self->txn);
    return rc;
}

static int note_seq(pw_rebuild_t *self, const pw_msg_t *rec)
{
    for (size_t i = 0; i < self->nseqs; i++) {
        struct seq_entry *e = &self->seqs[i];
        if (e->epoch == rec->epoch && strcmp(e->district, rec->district) == 0) {
            if (rec->seq > e->seq)
                e->seq = rec->seq;
            e->seen = rec->received_ms;
            return 0;
        }
    }
    if (self->nseqs == self->capseqs) {
        size_t cap = self->capseqs ? self->capseqs * 2 : 64;
        struct seq_entry *n = realloc(self->seqs, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        self->seqs = n;
        self->capseqs = cap;
    }
    struct seq_entry *e = &self->seqs[self->nseqs++];
    memcpy(e->district, rec->district, sizeof(e->district));
    e->epoch = rec->epoch;
    e->seq = rec->seq;
    e->seen = rec->received_ms;
    return 0;
}

static int add(pw_rebuild_t *self, const pw_msg_t *rec, const void *raw, size_t len)
{
    int rc;
    if (self->in_group && rec->received_ms != self->group_rt) {
        if ((rc = end_group(self)) != 0)
            return rc;
        /* Transactions end between original batches, never inside one. */
        if (self->in_txn >= TXN_RECORDS && (rc = commit(self, true)) != 0)
            return rc;
    }
    int d = idmap_find(&self->districts, rec->district);
    int e = idmap_find(&self->elements, rec->element);
    if (d < 0 || e < 0) {
        self->skipped++;
        return 0;
    }
    self->in_group = true;
    self->group_rt = rec->received_ms;
    if (self->txn) {
        uint64_t logseq;
        rc = raw ? pw_store_log_append_raw(self->txn, raw, len, &logseq)
                 : pw_store_log_append(self->txn, rec, &logseq);
        if (rc != 0 || (rc = cur_note(self, d, e, rec->period, rec->value, logseq)) != 0)
            return rc;
        if ((rc = note_seq(self, rec)) != 0)
            return rc;
        self->in_txn++;
    }
    self->applied++;
    return pw_model_set(self->model, d, e, rec->period, rec->value, NULL);
}

int pw_rebuild_add(pw_rebuild_t *self, const pw_msg_t *rec)
{
    return add(self, rec, NULL, 0);
}

int pw_rebuild_add_raw(pw_rebuild_t *self, const pw_msg_t *rec, const void *raw, size_t len)
{
    return add(self, rec, raw, len);
}

int pw_rebuild_finish(pw_rebuild_t *self)
{
    int rc = end_group(self);
    if (rc == 0)
        rc = commit(self, false);
    return rc;
}

void pw_rebuild_destroy(pw_rebuild_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_rebuild_t *self = *self_p;
    pw_store_abort(&self->txn);
    pw_store_destroy(&self->store);
    pw_model_destroy(&self->model);
    free(self->seqs);
    free(self->cur);
    idmap_free(&self->districts);
    idmap_free(&self->elements);
    free(self);
    *self_p = NULL;
}
