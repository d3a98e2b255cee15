/* SPDX-License-Identifier: MIT */
#ifndef PW_DATAFILE_H
#define PW_DATAFILE_H

#include <stddef.h>

#include "pw/catalog.h"
#include "pw/period.h"

/*
 * A district's data file: UTF-8 CSV with the header "period,element,value",
 * one observation per line; blank lines and lines starting with "#" are
 * ignored. A value is a plain decimal number ("12", "-0.5", "1e3" is not
 * accepted: bureau files are typed by people and a stray "e" is a typo).
 */

typedef struct pw_obs {
    pw_period_t period;
    const char *element; /**< NUL-terminated, one of the file's elements[] */
    double value;
    int line; /**< 1-based line in the file, for messages */
} pw_obs_t;

typedef struct pw_datafile {
    size_t n;
    pw_obs_t *obs;     /**< in file order */
    size_t nelements;
    char **elements;   /**< the distinct element ids, in order of first use */
} pw_datafile_t;

/**
 * Loads a data file. On failure returns PW_EDATA (or -errno if it cannot be
 * read) and writes "file:line: what is wrong" into err. When cat is not NULL,
 * elements must exist in it, periods must lie in the plan, counts must be whole
 * and non-negative, and values at most their element's max. With or without
 * a catalog, no value may pass PW_VALUE_MAX (2^53 - 1).
 * Caller owns *out; free with pw_datafile_destroy().
 */
int pw_datafile_load(const char *path, const pw_catalog_t *cat, pw_datafile_t **out, char *err,
                     size_t errlen);

/** Same from a buffer; name is used in error messages. */
int pw_datafile_parse(const char *name, const char *text, size_t len, const pw_catalog_t *cat,
                      pw_datafile_t **out, char *err, size_t errlen);

/**
 * Whether the comment lines before a data file's header line (its title,
 * such as "# 江岸区 Jiang'an district office") name another reporter of cat
 * than district, by id, Chinese or English name, and never district itself.
 * *line_out gets the first such line, *named_out that reporter; both are 0
 * and NULL when the file names none (or cannot be read: loading it tells
 * why). Only the file's first lines are read.
 */
void pw_datafile_names_other(const char *path, const pw_catalog_t *cat, const char *district,
                             int *line_out, const pw_district_t **named_out);

/** Frees and NULLs. NULL-safe. */
void pw_datafile_destroy(pw_datafile_t **self_p);

#endif
