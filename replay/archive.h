/* SPDX-License-Identifier: MIT */
#ifndef PW_ARCHIVE_H
#define PW_ARCHIVE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/catalog.h"
#include "pw/msg.h"
#include "replay.h"
#include "store.h"

/*
 * Portable exports of a store's update log, and imports of them into a new
 * store. Two formats:
 *
 * msgpack: a stream of maps. First the header
 *     {"planwatch_export": 2, "records": N, "catalog": "<64 hex digits>" | nil,
 *      "plans": K}
 *   (N is packed as a uint64, 0xcf, so it can be filled in once the records
 *   are written), then the N records in log order, each exactly as
 *   pw_msg_encode() encodes a PW_MSG_RECORD, and among them the K versions
 *   of the store's plan, each a map {"plan": "<catalog text>", "time": ms}
 *   placed right before the first exported record it applies to (the first
 *   version before the first record; versions that apply only after the
 *   last exported record at the end). The reader takes nothing else: maps of
 *   at most 16 scalar entries, each at most PW_MSG_MAXSIZE bytes, except a
 *   plan's text (PW_ARCHIVE_PLAN_MAX bytes at most); every record through
 *   the strict pw_msg_decode(), and checked against the plan version in
 *   force. Version 1 is the same without "plans" and plan maps: it is read
 *   still, with a catalog of the caller's.
 * CSV: UTF-8, the header line
 *     seq,district,epoch,record_seq,element,period,value,observed_ms,received_ms,kind
 *   then one line per record, each ended by a newline: seq is its log
 *   sequence in the exported store, value has 17 significant digits so it
 *   reads back exactly, kind is new, revision or same. No quoting: every
 *   field is an id, a number or a period.
 *
 * An import checks the whole file before it creates anything, then feeds the
 * records in order to the rebuild engine (rebuild.h), switching plan
 * versions where the file does, so the new store has the same log, plan
 * versions, current values, rates and alert history as the exported one.
 */

#define PW_ARCHIVE_VERSION  2             /**< "planwatch_export" in the msgpack headers written */
#define PW_ARCHIVE_PLAN_MAX (1024 * 1024) /**< bytes of a plan's text in an export, at most */

typedef enum pw_archive_format {
    PW_ARCHIVE_MSGPACK = 1,
    PW_ARCHIVE_CSV,
} pw_archive_format_t;

/** One version of the plan an export carries. */
typedef struct pw_archive_plan {
    pw_catalog_t *cat; /**< parsed from the file; owned by the pw_archive_info_t */
    int64_t time_ms;   /**< when it took effect in the exported store */
    uint64_t before;   /**< records of the file before it: it applies from record before + 1 */
} pw_archive_plan_t;

/** What an export file says of itself. */
typedef struct pw_archive_info {
    pw_archive_format_t format;
    unsigned version;         /**< msgpack: the header's format version; CSV: 0 */
    uint64_t records;         /**< records in the file (checked against the msgpack header) */
    bool has_digest;          /**< msgpack headers name the catalog; CSV has no header for it */
    unsigned char digest[32]; /**< the exported store's catalog digest */
    pw_archive_plan_t *plans; /**< the plan versions the file carries, in order (version 2) */
    size_t nplans;
} pw_archive_info_t;

/** Receives each record read; a non-zero return stops the read and is returned. */
typedef int (*pw_archive_record_fn)(void *ctx, const pw_msg_t *rec);

/** Frees the plans info holds and zeroes it. NULL-safe. */
void pw_archive_info_clear(pw_archive_info_t *info);

/** "msgpack" or "csv". */
const char *pw_archive_format_name(pw_archive_format_t format);

/**
 * Writes the records of store's log that pass filter (may be NULL; its
 * indicator must be NULL) to path in format, as the log stood when the
 * export started; msgpack exports carry every version of the plan the store
 * records (CSV carries none). The file is written as "path.tmp", synced,
 * then renamed to path, so path never holds half an export. stop (may be
 * NULL): when it becomes non-zero, the export is abandoned with -EINTR.
 * *count_out and *plans_out (may be NULL) get the records and plan versions
 * written. 0, -errno (the file), -EINTR, -ENOMEM, -EFBIG (a plan text over
 * PW_ARCHIVE_PLAN_MAX), or a store error; on failure "what: why" is written
 * into err (errlen bytes) and no file is left behind.
 */
int pw_archive_export(pw_store_t *store, const pw_replay_filter_t *filter,
                      pw_archive_format_t format, const char *path,
                      const volatile sig_atomic_t *stop, uint64_t *count_out, size_t *plans_out,
                      char *err, size_t errlen);

/**
 * Reads the export at path (format detected from its content), calling fn
 * (may be NULL) for each record in order. Each record must pass
 * pw_msg_check() against the plan version in force at its place in the file
 * when the file carries plans, else against cat (NULL: not checked), which
 * must then have the digest a msgpack header names. *info_out (may be
 * NULL) describes the file, with the plans it carries; free them with
 * pw_archive_info_clear(), also after a failure. 0, PW_EDATA (the file is
 * not a well-formed export: err says "file:line: what is wrong" for CSV,
 * "file: record N (byte X): ..." or "file: byte X: plan version K: ..." for
 * msgpack), PW_EINCOMPAT (the header names another catalog than cat),
 * -errno (cannot read it), or fn's non-zero return (err untouched).
 */
int pw_archive_read(const char *path, const pw_catalog_t *cat, pw_archive_record_fn fn, void *ctx,
                    pw_archive_info_t *info_out, char *err, size_t errlen);

/**
 * Loads the export at path into a new store in dir. An export that carries
 * its plan is imported under it, each record under the version in force at
 * its place, and the new store records the same versions; cat (borrowed)
 * must then be its latest version when cat_given (the user named it), and
 * is otherwise unused. An export that carries none (version 1, CSV, or a
 * store that recorded none) is imported with cat, which must match the
 * digest the export names. The file is read twice: first to check all of
 * it, then to rebuild. Refused when dir already holds a store with data. On
 * failure the store files it created are removed again (and dir, if it
 * created it). stop as for export. *info_out (may be NULL) describes the
 * file; free it with pw_archive_info_clear(). 0, PW_EDATA (bad file),
 * PW_EINCOMPAT (another plan or catalog, or dir holds data), -EINTR,
 * -errno, or a store error; on failure err says what, where and why.
 */
int pw_archive_import(const pw_catalog_t *cat, bool cat_given, const char *path, const char *dir,
                      const volatile sig_atomic_t *stop, pw_archive_info_t *info_out, char *err,
                      size_t errlen);

#endif
