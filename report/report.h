/* SPDX-License-Identifier: MIT */
#ifndef PW_REPORT_H
#define PW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "client.h"
#include "followup.h"
#include "forecast.h"
#include "model.h"
#include "pw/catalog.h"
#include "pw/period.h"

/*
 * The evaluation report (the seed's 评估表): for one period, every indicator
 * series with its observed city-wide value in each period up to it, its
 * progress rate and band there, its forecast, and for ratio indicators the
 * districts' own values. Built from a model (a store's current values) or from
 * a publisher's snapshot; the text, CSV and HTML writers only read it.
 */

/** One indicator series of the report. */
typedef struct pw_report_series {
    int ind;                /**< index into the catalog's indicators */
    int s;                  /**< series index within the indicator */
    pw_cell_t *cells;       /**< one per report period (pw_report_t.periods) */
    pw_cell_t *districts;   /**< ratio series with district elements: [period * ndistricts +
                                 district], district offices only; else NULL */
    pw_forecast_t forecast; /**< from the latest observation up to the report period */
} pw_report_series_t;

typedef struct pw_report {
    const pw_catalog_t *cat; /**< borrowed; must outlive the report */
    pw_period_t period;      /**< the period evaluated */
    size_t nperiods;         /**< periods with data up to and including period */
    pw_period_t *periods;    /**< in order; the base period first when it has data */
    size_t nseries;
    pw_report_series_t *series; /**< in catalog order */
    pw_followup_t *followup;    /**< borrowed, may be NULL: the text and HTML then end with
                                     the bureau's follow-up (followup_report.h) */
} pw_report_t;

/**
 * Builds the report at *period (NULL = the latest period with data) from a
 * model's values. PW_ENOTFOUND when the model holds no data (or none up to
 * *period), -ENOMEM. Caller owns *out; free with pw_report_destroy().
 */
int pw_report_from_model(const pw_model_t *m, const pw_period_t *period, pw_report_t **out);

/**
 * Builds the report from the store in dir, opened read-only (it can run beside
 * a live aggregator), under catalog cat (borrowed). As pw_report_from_model(),
 * plus the store's errors (PW_ESTORE, -ENOENT...).
 */
int pw_report_from_store(const pw_catalog_t *cat, const char *dir, const pw_period_t *period,
                         pw_report_t **out);

/**
 * Builds the report from a running publisher: its snapshot for the city-wide
 * rows and one district request per district and period for ratio series.
 * pub is its stream endpoint, snap its snapshot endpoint (NULL = derived),
 * auth how to authenticate (pw_client_new).
 * As pw_report_from_model(), plus PW_ETIMEOUT and connection errors.
 */
int pw_report_from_publisher(const pw_catalog_t *cat, const char *pub, const char *snap,
                             const pw_client_auth_t *auth, const pw_period_t *period,
                             int timeout_ms, pw_report_t **out);

/**
 * As pw_report_from_publisher(), over a client already connected (a
 * dashboard's, which follows the live stream on it meanwhile).
 */
int pw_report_from_client(const pw_catalog_t *cat, pw_client_t *client, const pw_period_t *period,
                          int timeout_ms, pw_report_t **out);

/** Frees the report and NULLs *self_p. NULL-safe. */
void pw_report_destroy(pw_report_t **self_p);

/** True when series r shows districts' own values (a ratio, share or weighted mean). */
bool pw_report_has_districts(const pw_report_t *self, const pw_report_series_t *r);

/** The cell of series r at the report period (the last of periods). */
const pw_cell_t *pw_report_current(const pw_report_t *self, const pw_report_series_t *r);

/**
 * Series not fully reported at the report period (pw_view_provisional()):
 * when any, the period is provisional, and the writers say so in a banner.
 */
size_t pw_report_provisional(const pw_report_t *self);

/**
 * The note series r carries at the report period, as PROGRESS.md asks: a
 * range target's value above its upper bound is rated 100, with a note.
 * Writes it in English into en ("above the range 30-40") and in Chinese into
 * zh ("高于目标区间30-40"), each len bytes; false (and "") when there is none.
 */
bool pw_report_note(const pw_report_t *self, const pw_report_series_t *r, char *en, char *zh,
                    size_t len);

/**
 * Counts indicators (not series) at the report period: each by its weakest
 * series' band into bands[pw_band_t], by its worst forecast class into
 * classes[pw_forecast_class_t]; *achieved_out counts those whose every series
 * has met its target.
 */
void pw_report_count(const pw_report_t *self, int bands[4], int classes[5], int *achieved_out);

/** Plan's elapsed share at the report period, in percent (50 at 2018H1). */
double pw_report_elapsed_pct(const pw_report_t *self);

/**
 * The value that earns rate pct (40, 100...) at elapsed fraction f under ind's
 * method: the planned path for 100, the severe line for 40. For the charts.
 */
double pw_report_value_at_rate(const pw_indicator_t *ind, double f, double pct);

/** A category id's Chinese name (社会救助...), or the id itself when unknown. Borrowed. */
const char *pw_report_category_zh(const char *category);

/** A period as the report's column heads write it: 2016年, 2018年上半年, 2018年第3季度, 2018年7月.
 */
void pw_report_period_zh(pw_period_t p, char *buf, size_t len);

/** "约束性" (binding) or "预期性" (expected). */
const char *pw_report_attribute_zh(const pw_indicator_t *ind);

/** planwatch report: argv[0] is the subcommand's name. Exit status 0, 1 or 2. */
int pw_cmd_report(int argc, char **argv);

/**
 * Writes DIR/report.html and DIR/report.csv (creating DIR) for the latest
 * period of the store (read-only) under cat, and prints their paths on info.
 * 0 or an error (said on stderr).
 */
int pw_report_files(const pw_catalog_t *cat, const char *store, const char *dir, FILE *info);

#endif
