/* SPDX-License-Identifier: MIT */
/*
 * What the model's files (model.c, model_eval.c, model_alerts.c) share and
 * nothing else sees: the model's layout and the calls between them.
 */
#ifndef PW_MODEL_INTERNAL_H
#define PW_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct series_ref {
    int ind;
    int s;
};

struct alert_state {
    bool open;
    bool has_gov;
    pw_period_t gov; /* the period whose rate decides the alert */
    int64_t centi;
};

struct pw_model {
    const pw_catalog_t *cat;
    size_t nd, ne, ns;
    struct series_ref *sref;
    int *first_series;   /* per indicator: its first global series index */
    size_t *el_off;      /* element -> series that use it (CSR offsets) */
    int *el_series;
    size_t np, capp;
    pw_period_t *periods; /* by storage index (insertion order) */
    pw_period_t *sorted;  /* the same periods, ordered */
    size_t *order;        /* storage index of each sorted entry */
    double *vals;         /* [pidx][d][e] */
    unsigned char *have;  /* [pidx][d][e] */
    pw_cell_t *pub;       /* [pidx][sidx]: last emitted row */
    unsigned char *pub_valid;
    unsigned char *dirty;
    unsigned char *touched; /* [sidx]: alert state needs a look */
    struct alert_state *alerts;
    uint64_t evals;
};

/* The storage index of period p, -1 when the model has none. */
int pw__model_find_period(const pw_model_t *self, pw_period_t p);

/* Evaluates series s of indicator i at period p (storage index pidx, -1: none) into out. */
void pw__model_eval_at(const pw_model_t *self, int i, int s, int pidx, pw_period_t p,
                       pw_cell_t *out);

/* Copies the indicator and series ids of series sidx into ev. */
void pw__model_fill_ids(const pw_model_t *self, size_t sidx, pw_event_t *ev);

/* The rate event of series sidx's row c at period p, stamped now_ms. */
void pw__model_cell_to_event(const pw_model_t *self, size_t sidx, pw_period_t p,
                             const pw_cell_t *c, int64_t now_ms, pw_event_t *ev);

#endif
