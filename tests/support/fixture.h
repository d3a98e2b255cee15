/* SPDX-License-Identifier: MIT */
#ifndef PW_TEST_FIXTURE_H
#define PW_TEST_FIXTURE_H

#include <stddef.h>

#include "proc.h"

/*
 * What the integration tests share: a temp dir, a store and endpoints in it,
 * the real planwatch binary run as daemons and as commands. Every function
 * returns 0 or a negative code, so that each test keeps its own assertions.
 */

typedef struct pw_fixture {
    char dir[64];      /**< /tmp/pw-test-XXXXXX, removed by pw_fixture_close() */
    char store[160];   /**< dir/store */
    char keys[160];    /**< dir/keys, for tests that make them */
    char intake[160];  /**< the aggregator's --bind, the collectors' --connect */
    char stream[160];  /**< the publisher's --bind */
    char snap[160];    /**< a --snapshot-bind for the publisher */
    pw_proc_t agg;     /**< the aggregator pw_fixture_start_aggregator() started */
    pw_proc_t pub;     /**< the publisher pw_fixture_start_publisher() started */
    char agg_log[256]; /**< the log of the latest aggregator started */
    char pub_log[256]; /**< the log of the latest publisher started */
    int starts;        /**< daemons started: numbers their logs */
    int runs;          /**< commands run: numbers their outputs */
} pw_fixture_t;

/*
 * The usual Criterion suite (the test includes criterion.h): a static fixture
 * fx, opened before each test and closed after it.
 */
#define PW_FIXTURE_SUITE(suite, seconds)                                                           \
    static pw_fixture_t fx;                                                                        \
    static void fixture_init(void)                                                                 \
    {                                                                                              \
        cr_assert_eq(pw_fixture_open(&fx), 0);                                                     \
    }                                                                                              \
    static void fixture_fini(void)                                                                 \
    {                                                                                              \
        pw_fixture_close(&fx);                                                                     \
    }                                                                                              \
    TestSuite(suite, .init = fixture_init, .fini = fixture_fini, .timeout = seconds)

/** Makes the temp dir; endpoints on ipc:// sockets in it. 0 or -errno. */
int pw_fixture_open(pw_fixture_t *fx);

/**
 * Opens fx in a new directory parent->dir/name (a second site of one test,
 * say): its own store, endpoints and logs. pw_fixture_close(parent) removes
 * it. 0 or -errno.
 */
int pw_fixture_open_in(pw_fixture_t *fx, const pw_fixture_t *parent, const char *name);

/** Moves intake, stream and snapshot to free loopback TCP ports. 0, or -1 without a port. */
int pw_fixture_use_tcp(pw_fixture_t *fx);

/** Kills every child the test started and removes the temp dir (unless $PW_TEST_KEEP). */
void pw_fixture_close(pw_fixture_t *fx);

/** fx->dir/name into buf; buf. */
char *pw_fixture_path(const pw_fixture_t *fx, char *buf, size_t len, const char *name);

/**
 * Starts planwatch with args (NULL-terminated, after the program name) into
 * p, its output in the log fx->dir/<args[0]>-N.log (p->log). 0 or -1.
 */
int pw_fixture_spawn(pw_fixture_t *fx, pw_proc_t *p, char *const args[]);

/**
 * Starts `planwatch aggregator --store S --bind I` plus extra (NULL-terminated,
 * may be NULL) into fx->agg, logging into fx->agg_log, and waits up to 20 s for
 * its ready line. 0, or -1 when it did not get ready.
 */
int pw_fixture_start_aggregator(pw_fixture_t *fx, char *const extra[]);

/**
 * Starts `planwatch publisher --store S --bind STREAM` plus extra (with
 * "--snapshot-bind", fx->snap where a test wants it) into fx->pub, logging
 * into fx->pub_log; waits for ready as above.
 */
int pw_fixture_start_publisher(pw_fixture_t *fx, char *const extra[]);

/**
 * Runs `planwatch` with args (NULL-terminated, after the program name) to
 * completion within timeout_ms, output into fx->dir/run-N.out(.err); its
 * stdout and stderr into *out and *err (caller frees). The exit code, or -1.
 */
int pw_fixture_run(pw_fixture_t *fx, char *const args[], int timeout_ms, char **out, char **err);

/**
 * Runs one collector to completion: `planwatch collector --district D --data
 * FILE --connect INTAKE --spool SPOOL` plus extra, as pw_fixture_run() does,
 * within 120 s.
 */
int pw_fixture_collect(pw_fixture_t *fx, char *district, char *file, char *spool,
                       char *const extra[], char **out, char **err);

/** Writes text into path (replacing it). 0 or -errno. */
int pw_fixture_write(const char *path, const char *text);

/** The reporters of the demo's data, each with its file data/wuhan/districts/<id>.csv. */
#define PW_FIXTURE_NREPORTERS 14
extern const char *const pw_fixture_reporters[PW_FIXTURE_NREPORTERS];

/** The demo's data file of reporter i into buf; buf. */
char *pw_fixture_reporter_file(char *buf, size_t len, int i);

/*
 * A small generated plan: districts, elements and indicators named by a
 * prefix and their number (name_en: the prefix's first letter upper-cased and
 * the number), element and indicator k written side by side.
 */
typedef struct pw_fixture_plan {
    const char *name;                /**< the [plan] name */
    int base_year, target_year;      /**< the plan's years */
    int first;                       /**< the first number of everything: 0 or 1 */
    int ndistricts, nindicators;     /**< how many of each */
    int nelements;                   /**< how many elements: at least nindicators */
    const char *district;            /**< the district id prefix, as "d" */
    const char *element, *indicator; /**< the element and indicator id prefixes */
    int district_width;              /**< district numbers zero-padded to this many digits */
    int width;                       /**< element and indicator numbers padded likewise */
    int target, target_rest;         /**< the first indicator's target, the others' */
    int ratio;                       /**< indicator k = ratio of element k to the next * 1000 */
} pw_fixture_plan_t;

/**
 * The usual small plan: name, 2015 to 2020, districts d0.., elements e0.. and
 * as many indicators i0.. summing them, every target 2000. Tests change the
 * fields they need.
 */
pw_fixture_plan_t pw_fixture_plan(const char *name, int ndistricts, int nelements);

/** Writes the catalog of plan into path. 0 or -errno. */
int pw_fixture_write_plan(const char *path, const pw_fixture_plan_t *plan);

#endif
