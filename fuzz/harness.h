/* SPDX-License-Identifier: MIT */
#ifndef PW_FUZZ_HARNESS_H
#define PW_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/catalog.h"

/*
 * The fuzz harnesses as plain functions, so that libFuzzer (fuzz/entry.c) and
 * the Criterion regression test (tests/unit/test_fuzz_regress.c) run exactly
 * the same code on an input. Each one feeds data to a parser or decoder,
 * checks the invariants that are cheap to check, frees everything, and
 * returns 0. A broken invariant is a bug: it prints what failed and aborts,
 * so both libFuzzer and Criterion report a crash.
 */

/** Intake frames (pw_msg_decode, pw_msg_check) and their re-encoding. */
int pw_fuzz_msg(const uint8_t *data, size_t size);

/** Bureau frames: pw_request_decode, pw_reply_decode, pw_event_decode. */
int pw_fuzz_bureau(const uint8_t *data, size_t size);

/** The catalog parser (pw_catalog_parse). */
int pw_fuzz_catalog(const uint8_t *data, size_t size);

/** The data-file parser (pw_datafile_parse), with and without the Wuhan catalog. */
int pw_fuzz_datafile(const uint8_t *data, size_t size);

/** The export reader (pw_archive_read), without and with the Wuhan catalog. */
int pw_fuzz_archive(const uint8_t *data, size_t size);

/** The Wuhan catalog (PW_FUZZ_CATALOG), loaded on first use; aborts if it cannot be. */
const pw_catalog_t *pw_fuzz_wuhan(void);

/** True when err reads "name:LINE: what", the form parsers report a bad line in. */
bool pw_fuzz_error_has_line(const char *err, const char *name);

/** Prints "file:line: invariant broken: what" and aborts. */
_Noreturn void pw_fuzz_fail(const char *file, int line, const char *what);

#define PW_FUZZ_CHECK(cond) ((cond) ? (void)0 : pw_fuzz_fail(__FILE__, __LINE__, #cond))

#endif
