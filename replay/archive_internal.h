/* SPDX-License-Identifier: MIT */
#ifndef PW_ARCHIVE_INTERNAL_H
#define PW_ARCHIVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

#include "archive.h"

/*
 * What the files of the archive share, and nothing outside them uses:
 * archive.c (the entry points, detection, the read window), archive_msgpack.c
 * and archive_csv.c (the two formats), archive_maps.c (the bounds and fields
 * of the msgpack maps an export is made of) and archive_import.c.
 */

#define PW__ARCHIVE_OBJ_MAX  PW_MSG_MAXSIZE /**< bytes of any map of an export but a plan's */
#define PW__ARCHIVE_MAP_MAX  16             /**< entries in any map of an export */
#define PW__ARCHIVE_STR32    5              /**< a str 32's header: 0xdb and 4 bytes of length */
#define PW__ARCHIVE_WHERE    4400           /**< a path and a position in it, as text */
#define PW__ARCHIVE_UTF8_BOM "\xEF\xBB\xBF"
/** The read window at most: a plan map is at most this. */
#define PW__ARCHIVE_WINDOW_MAX (PW_ARCHIVE_PLAN_MAX + 2 * PW__ARCHIVE_OBJ_MAX)

/** A file read through a window that always holds at least one whole object or line. */
struct pw__archive_src {
    FILE *f;
    const char *path;
    unsigned char *buf;
    size_t pos, len, cap; /**< unread bytes are buf[pos..len), of cap */
    uint64_t base;        /**< file offset of buf[0] */
    bool eof;
};

/** Writes "what: why" into err (len bytes; nothing when err is NULL or len 0). */
__attribute__((format(printf, 3, 4))) void pw__archive_seterr(char *err, size_t len,
                                                              const char *fmt, ...);

/** -errno of the last failed call, or -EIO when it left errno 0. */
int pw__archive_io_error(void);

/** "path" + suffix, on the heap (free()); NULL when out of memory. */
char *pw__archive_path_with(const char *path, const char *suffix);

/**
 * Moves the unread bytes to the start of the window and reads more, growing
 * the window (up to PW__ARCHIVE_WINDOW_MAX) when it is full. 0, -ENOMEM or
 * -errno.
 */
int pw__archive_fill(struct pw__archive_src *s);

/**
 * Checks a decoded record against cat (the file's plan version in force when
 * file_plan; NULL: not checked) and hands it to fn (may be NULL). 0, PW_EDATA
 * with "where: what is wrong" in err, or fn's non-zero return.
 */
int pw__archive_deliver(const char *where, const pw_catalog_t *cat, bool file_plan,
                        const pw_msg_t *rec, pw_archive_record_fn fn, void *ctx, char *err,
                        size_t errlen);

/**
 * Writes the msgpack header with a placeholder record count, packed as a
 * uint64 whatever its value, so pw__archive_mp_count() can fill it in;
 * *count_off gets the offset of its 8 bytes. digest NULL: the store has
 * none. 0, -ENOMEM or -errno.
 */
int pw__archive_mp_header(FILE *f, const unsigned char *digest, size_t nplans, long *count_off);

/** Writes a plan version: {"plan": text, "time": time_ms}. 0, -ENOMEM or -errno. */
int pw__archive_mp_plan(FILE *f, const char *text, size_t len, int64_t time_ms);

/** Writes a record as pw_msg_encode() encodes it, through buf. 0, a codec error or -errno. */
int pw__archive_mp_record(FILE *f, const pw_msg_t *rec, pw_buf_t *buf);

/** Writes count over the header's placeholder at off. 0 or -errno. */
int pw__archive_mp_count(FILE *f, long off, uint64_t count);

/** Reads a msgpack export from s (see pw_archive_read()); info gets what it says of itself. */
int pw__archive_mp_read(struct pw__archive_src *s, const pw_catalog_t *cat, pw_archive_record_fn fn,
                        void *ctx, pw_archive_info_t *info, char *err, size_t errlen);

/** Writes the CSV header line. 0 or -errno. */
int pw__archive_csv_header(FILE *f);

/** Writes rec, the store's log entry logseq, as one CSV line. 0 or -errno. */
int pw__archive_csv_record(FILE *f, uint64_t logseq, const pw_msg_t *rec);

/** Reads a CSV export from s (see pw_archive_read()); info->records gets the records read. */
int pw__archive_csv_read(struct pw__archive_src *s, const pw_catalog_t *cat,
                         pw_archive_record_fn fn, void *ctx, pw_archive_info_t *info, char *err,
                         size_t errlen);

/**
 * The extent of the next map of an export at p (avail bytes there): at most
 * PW__ARCHIVE_MAP_MAX scalar entries in PW__ARCHIVE_OBJ_MAX bytes, but for
 * the value of a "plan" key, which may take PW_ARCHIVE_PLAN_MAX bytes more.
 * 1 with *n_out set, 0 when avail holds only its beginning, PW_EDATA for
 * anything else; *plan_out says whether a "plan" key was seen (also when
 * the map is not all there).
 */
int pw__archive_map_extent(const unsigned char *p, size_t avail, size_t *n_out, bool *plan_out);

/** Unpacks the map at p, n bytes whose extent pw__archive_map_extent() has checked. */
bool pw__archive_map_unpack(msgpack_unpacked *up, const unsigned char *p, size_t n);

/**
 * Finds the fields of map m: the value of names[j] goes to slots[j] (NULL
 * when absent). Every key must be one of the n names, once. 0, or PW_EDATA
 * with what is wrong in why.
 */
int pw__archive_map_fields(const msgpack_object_map *m, const char *const names[], size_t n,
                           const msgpack_object *slots[], char *why, size_t len);

/** Whether o is the string s. */
bool pw__archive_str_is(const msgpack_object *o, const char *s);

#endif
