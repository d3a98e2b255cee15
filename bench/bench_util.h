/* SPDX-License-Identifier: MIT */
#ifndef PW_BENCH_UTIL_H
#define PW_BENCH_UTIL_H

/*
 * What the benchmark programs share: a microsecond clock, the median / spread
 * report, spawning the real daemons and waiting for their "ready" line, and a
 * free loopback port. Benchmarks only: never linked into planwatch or tests.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pw/period.h"

#define BENCH_REPS_MAX 20

/**
 * The common start of a benchmark: REPETITIONS from argv[i] (default 3,
 * at most BENCH_REPS_MAX) and a fresh /tmp/pw-bench-XXXXXX in dir (64 bytes).
 * Exits the benchmark when the directory cannot be made. From then on, every
 * process bench_spawn() starts is stopped when the benchmark exits, however
 * it exits (exit(), SIGINT, SIGTERM, SIGALRM).
 */
int bench_setup(int argc, char **argv, int i, char dir[64]);

/** Encodes planwatch's sample update (the benchmarks' payload) into out; its length. */
size_t bench_sample_update(char *out, size_t cap);

/** Monotonic clock in microseconds. */
int64_t bench_now_us(void);

/** Sorts v[0..n) and returns its median. */
double bench_median(double *v, int n);

/**
 * Prints one result line: name, median, min, max and spread, (max-min)/median,
 * of v[0..n) (sorted in place), in unit. Returns the median.
 */
double bench_report(const char *name, double *v, int n, const char *unit);

/** A free port on 127.0.0.1 not returned by the last 64 calls, or -1 (bound with port 0, released). */
int bench_free_port(void);

/**
 * Starts BIN with args (argv[0] included, NULL-terminated), stdout and stderr
 * to log. Returns the pid, or -1. Remembered until bench_stop() or a reaping
 * waitpid through bench_reaped(), so that an early exit stops it.
 */
pid_t bench_spawn(const char *bin, char *const args[], const char *log);

/** Forgets pid (reaped by the caller's own waitpid). */
void bench_reaped(pid_t pid);

/** Waits up to 10 s for "INFO: ready" in log; exits the benchmark if it never comes. */
void bench_wait_ready(const char *log);

/** Waits up to timeout_ms for a line of log containing text. True when it came. */
bool bench_wait_line(const char *log, const char *text, int timeout_ms);

/**
 * True when `BIN SUBCOMMAND --help` lists --insecure: once intake auth is on,
 * programs on tcp:// need it (benchmarks bind 127.0.0.1 only).
 */
bool bench_needs_insecure(const char *bin, const char *subcommand);

/** Anonymous resident memory (RssAnon) of pid in kB, or -1. */
long bench_rss_anon_kb(pid_t pid);

/** Bytes allocated on disk to the regular files directly in dir. */
uint64_t bench_dir_bytes(const char *dir);

/** CPU seconds (user + system) process pid has used so far; 0 if unreadable. */
double bench_cpu_secs(pid_t pid);

/** The same for one thread tid of pid (tid == pid: its main thread). */
double bench_thread_cpu_secs(pid_t pid, pid_t tid);

/**
 * Stops pid, one bench_spawn() started: SIGTERM, then SIGKILL after 5 s; reaps
 * it. Its exit status, or -1 when it had to be killed or could not be reaped.
 */
int bench_stop(pid_t pid);

/*
 * The intake runs that pw_bench_intake and pw_bench_web share: the plan's
 * data, the aggregator and publisher on a fresh store, and waves of real
 * collector processes.
 */

#define BENCH_NDIST 13 /* districts, each a collector process per version */

/** The data each collector sends: one file per version, every element of
 * every period (months, quarters, halves, years) of the plan's years. */
typedef struct bench_shape {
    const char *name; /* file prefix */
    int y0, y1;       /* base and target year */
    int nelem;
    int nversions; /* each collector runs once per version, revising every value */
    pw_period_t periods[19 * 40];
    size_t nperiods;
} bench_shape_t;

/** Updates the 13 collectors send for one version of sh. */
size_t bench_updates_per_version(const bench_shape_t *sh);

/** Writes sh's catalog (DIR/NAME.conf) and data files (DIR/NAME-dDD-vV.csv); fills its periods. */
void bench_make_data(bench_shape_t *sh, const char *dir);

/** Which subcommands want --insecure on tcp:// (see bench_needs_insecure()). */
typedef struct bench_insecure {
    bool agg, pub, col;
} bench_insecure_t;

/** Asks the three subcommands of bin. */
bench_insecure_t bench_insecure_of(const char *bin);

/** An aggregator and a publisher on a fresh store DIR/store-RUN. */
typedef struct bench_servers {
    char store[96], intake[64], stream[64], snap[64];
    pid_t agg, pub;
} bench_servers_t;

/** Starts them for sh's catalog and waits until both are ready (exits the benchmark if not). */
void bench_servers_start(bench_servers_t *sv, const char *bin, const char *dir,
                         const bench_shape_t *sh, int run_no, const bench_insecure_t *ins);

/** Stops both and removes the store. */
void bench_servers_stop(bench_servers_t *sv);

/**
 * Runs 13 collector processes per version of sh against intake, one wave
 * after another, each waited for. Wall-clock seconds, or -1 when a collector
 * failed or a wave took over 300 s (its log is in dir).
 */
double bench_run_collectors(const char *bin, const char *dir, const bench_shape_t *sh, int run_no,
                            const char *intake, const bench_insecure_t *ins);

/*
 * The 13 collectors started once with --follow, as district offices run them
 * as services: each watches DIR/follow-RUN-dDD.csv, into which the versions
 * of a shape are renamed one after another.
 */
typedef struct bench_followers {
    pid_t kids[BENCH_NDIST];
    char data[BENCH_NDIST][128];
} bench_followers_t;

/** Starts them against intake and gives them 0.5 s to start and connect. */
void bench_followers_start(bench_followers_t *fl, const char *bin, const char *dir, int run_no,
                           const char *intake, const bench_insecure_t *ins);

/**
 * Renames versions 1 to sh->nversions of sh's files into place, each once
 * the previous one is committed (the status rows of the store at store_dir
 * say so). Wall-clock seconds from the first file to the last commit, or -1
 * when the store could not be read or a version took over 120 s.
 */
double bench_followers_feed(bench_followers_t *fl, const char *dir, const bench_shape_t *sh,
                            const char *store_dir);

/** CPU seconds the 13 collectors have used so far. */
double bench_followers_cpu(const bench_followers_t *fl);

/** Stops the 13 collectors. */
void bench_followers_stop(bench_followers_t *fl);

#endif
