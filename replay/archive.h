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
 *     {"planwatch_export": 1, "records": N, "catalog": "<64 hex digits>" | nil}
 *   (N is packed as a uint64, 0xcf, so it can be filled in once the records
 *   are written), then the N records in log order, each exactly as
 *   pw_msg_encode() encodes a PW_MSG_RECORD. The reader takes nothing else:
 *   maps of at most 16 scalar entries, each at most PW_MSG_MAXSIZE bytes,
 *   and every record through the strict pw_msg_decode().
 * CSV: UTF-8, the header line
 *     seq,district,epoch,record_seq,element,period,value,observed_ms,received_ms,kind
 *   then one line per record, each ended by a newline: seq is its log
 *   sequence in the exported store, value has 17 significant digits so it
 *   reads back exactly, kind is new, revision or same. No quoting: every
 *   field is an id, a number or a period.
 *
 * An import checks the whole file before it creates anything, then feeds the
 * records in order to the rebuild engine (rebuild.h), so the new store has
 * the same log, current values, rates and alert history as the exported one.
 */

#define PW_ARCHIVE_VERSION 1 /**< "planwatch_export" in the msgpack header */

typedef enum pw_archive_format {
    PW_ARCHIVE_MSGPACK = 1,
    PW_ARCHIVE_CSV,
} pw_archive_format_t;

/** What an export file says of itself. */
typedef struct pw_archive_info {
    pw_archive_format_t format;
    uint64_t records;         /**< records in the file (checked against the msgpack header) */
    bool has_digest;          /**< msgpack headers name the catalog; CSV has no header for it */
    unsigned char digest[32]; /**< the exported store's catalog digest */
} pw_archive_info_t;

/** Receives each record read; a non-zero return stops the read and is returned. */
typedef int (*pw_archive_record_fn)(void *ctx, const pw_msg_t *rec);

/** "msgpack" or "csv". */
const char *pw_archive_format_name(pw_archive_format_t format);

/**
 * Writes the records of store's log that pass filter (may be NULL; its
 * indicator must be NULL) to path in format. The file is written as
 * "path.tmp", synced, then renamed to path, so path never holds half an
 * export. stop (may be NULL): when it becomes non-zero, the export is
 * abandoned with -EINTR. *count_out (may be NULL) gets the records written.
 * 0, -errno (the file), -EINTR, -ENOMEM, or a store error; on failure "what:
 * why" is written into err (errlen bytes) and no file is left behind.
 */
int pw_archive_export(pw_store_t *store, const pw_replay_filter_t *filter,
                      pw_archive_format_t format, const char *path,
                      const volatile sig_atomic_t *stop, uint64_t *count_out, char *err,
                      size_t errlen);

/**
 * Reads the export at path (format detected from its content), calling fn
 * (may be NULL) for each record in order; with cat (may be NULL), each record
 * must also pass pw_msg_check(). *info_out (may be NULL) describes the file.
 * 0, PW_EDATA (the file is not a well-formed export: err says
 * "file:line: what is wrong" for CSV, "file: record N (byte X): ..." for
 * msgpack), -errno (cannot read it), or fn's non-zero return (err untouched).
 */
int pw_archive_read(const char *path, const pw_catalog_t *cat, pw_archive_record_fn fn, void *ctx,
                    pw_archive_info_t *info_out, char *err, size_t errlen);

/**
 * Loads the export at path into a new store in dir, with catalog cat
 * (borrowed). The file is read twice: first to check all of it, then to
 * rebuild. Refused when the export names another catalog than cat, or when
 * dir already holds a store with data. On failure the store files it created
 * are removed again (and dir, if it created it). stop as for export.
 * 0, PW_EDATA (bad file), PW_EINCOMPAT (other catalog, or dir holds data),
 * -EINTR, -errno, or a store error; on failure err says what, where and why.
 */
int pw_archive_import(const pw_catalog_t *cat, const char *path, const char *dir,
                      const volatile sig_atomic_t *stop, pw_archive_info_t *info_out, char *err,
                      size_t errlen);

#endif
