/* SPDX-License-Identifier: MIT */
#ifndef PW_MAN_H
#define PW_MAN_H

#include <stddef.h>
#include <stdio.h>

/*
 * Man pages rendered from the --help texts, so that the two never disagree.
 * A help text is read as: "usage: ..." (the synopsis), paragraphs (the
 * description), then sections introduced by a line "name:" at column 0
 * whose entries are lines "  term  description" with continuation lines
 * indented further.
 */

/**
 * Writes page (e.g. "planwatch-aggregator") in roff man(7) form to out:
 * NAME from summary, then SYNOPSIS, DESCRIPTION and OPTIONS from help, and
 * SEE ALSO naming the n pages of see_also (section 1). 0 or -EIO.
 */
int pw_man_write(FILE *out, const char *page, const char *summary, const char *help,
                 const char *const *see_also, size_t n);

#endif
