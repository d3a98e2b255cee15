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

#define BENCH_REPS_MAX 20

/**
 * The common start of a benchmark: REPETITIONS from argv[i] (default 3,
 * at most BENCH_REPS_MAX) and a fresh /tmp/pw-bench-XXXXXX in dir (64 bytes).
 * Exits the benchmark when the directory cannot be made.
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
 * to log. Returns the pid, or -1.
 */
pid_t bench_spawn(const char *bin, char *const args[], const char *log);

/** Waits up to 10 s for "INFO: ready" in log; exits the benchmark if it never comes. */
void bench_wait_ready(const char *log);

/**
 * True when `BIN SUBCOMMAND --help` lists --insecure: once intake auth is on,
 * programs on tcp:// need it (benchmarks bind 127.0.0.1 only).
 */
bool bench_needs_insecure(const char *bin, const char *subcommand);

/** Anonymous resident memory (RssAnon) of pid in kB, or -1. */
long bench_rss_anon_kb(pid_t pid);

/** Bytes allocated on disk to the regular files directly in dir. */
uint64_t bench_dir_bytes(const char *dir);

#endif
