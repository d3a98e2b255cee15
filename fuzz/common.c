/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static pw_catalog_t *wuhan;

static void free_wuhan(void)
{
    pw_catalog_destroy(&wuhan);
}

const pw_catalog_t *pw_fuzz_wuhan(void)
{
    char err[256];

    if (wuhan != NULL)
        return wuhan;
    /* Loaded once per process: parsing 20 KB for every input would dominate the run. */
    if (pw_catalog_load(PW_FUZZ_CATALOG, &wuhan, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz: cannot load the catalog: %s\n", err);
        abort();
    }
    /* Freed at exit so that leak checkers see nothing left behind. */
    atexit(free_wuhan);
    return wuhan;
}

bool pw_fuzz_error_has_line(const char *err, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(err, name, n) != 0 || err[n] != ':' || !isdigit((unsigned char)err[n + 1]))
        return false;
    const char *p = err + n + 1;
    while (isdigit((unsigned char)*p))
        p++;
    return p[0] == ':' && p[1] == ' ' && p[2] != '\0';
}

void pw_fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}
