/* SPDX-License-Identifier: MIT */
/* The Prometheus text writer: escaping, names, values, histograms, atomic files. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "pw/prom.h"
#include "tmpdir.h"

static pw_prom_t *p;

static void setup(void)
{
    p = pw_prom_new();
    cr_assert(not(zero(ptr, p)));
}

static void teardown(void)
{
    pw_prom_destroy(&p);
}

/* The text so far, as Criterion's eq(str) wants it (not const). */
static char *shown(void)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s", pw_prom_text(p, NULL));
    return buf;
}

TestSuite(prom, .init = setup, .fini = teardown, .timeout = 5.0);

Test(prom, family_writes_help_and_type_with_help_escaped)
{
    cr_assert(eq(int, pw_prom_family(p, "a_total", "counter", "back\\slash\nnew \"q\""), 0));
    cr_assert(eq(str, shown(),
                 "# HELP a_total back\\\\slash\\nnew \"q\"\n# TYPE a_total counter\n"));
}

Test(prom, label_values_escape_backslash_quote_and_newline)
{
    cr_assert(eq(int, pw_prom_sample(p, "x", 1.0, "a", "q\"b\\n\nz", "b", "", (char *)NULL), 0));
    cr_assert(eq(str, shown(), "x{a=\"q\\\"b\\\\n\\nz\",b=\"\"} 1\n"));
}

Test(prom, rejects_bad_names_and_types)
{
    cr_assert(eq(int, pw_prom_family(p, "9lives", "counter", "h"), -EINVAL));
    cr_assert(eq(int, pw_prom_family(p, "ok", "countr", "h"), -EINVAL));
    cr_assert(eq(int, pw_prom_sample(p, "a-b", 1.0, (char *)NULL), -EINVAL));
    cr_assert(eq(int, pw_prom_sample(p, "ok", 1.0, "bad:label", "v", (char *)NULL), -EINVAL));
    cr_assert(eq(int, pw_prom_sample(p, "ns:ok_total", 1.0, (char *)NULL), 0));
}

Test(prom, values_read_back_exactly)
{
    const double v[] = {0, 114, -3, 0.1, 0.1 + 0.2, 1795933808.479, 1e300, INFINITY, -INFINITY, NAN};
    const char *want[] = {"0", "114", "-3", "0.1", "0.30000000000000004", "1795933808.479", "1e+300",
                          "+Inf", "-Inf", "NaN"};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        pw_prom_reset(p);
        cr_assert(eq(int, pw_prom_sample(p, "v", v[i], (char *)NULL), 0));
        char line[64];
        snprintf(line, sizeof(line), "v %s\n", want[i]);
        cr_assert(eq(str, shown(), line), "value %zu", i);
        if (isfinite(v[i]))
            cr_assert(eq(dbl, strtod(pw_prom_text(p, NULL) + 2, NULL), v[i]));
    }
}

Test(prom, histogram_buckets_are_cumulative_and_end_in_inf)
{
    const double bounds[] = {0.5, 1, 2};
    pw_prom_hist_t h;
    pw_prom_hist_init(&h, bounds, 3);
    pw_prom_hist_observe(&h, 0.25);
    pw_prom_hist_observe(&h, 1);
    pw_prom_hist_observe(&h, 1.5);
    pw_prom_hist_observe(&h, 10);
    cr_assert(eq(int, pw_prom_histogram(p, "h", "k", "v", &h), 0));
    cr_assert(eq(str, shown(),
                 "h_bucket{k=\"v\",le=\"0.5\"} 1\n"
                 "h_bucket{k=\"v\",le=\"1\"} 2\n"
                 "h_bucket{k=\"v\",le=\"2\"} 3\n"
                 "h_bucket{k=\"v\",le=\"+Inf\"} 4\n"
                 "h_sum{k=\"v\"} 12.75\n"
                 "h_count{k=\"v\"} 4\n"));
}

Test(prom, write_file_replaces_the_file_and_leaves_no_temporary)
{
    char dir[64], path[128], tmp[160];
    cr_assert(eq(int, pw_tmpdir_make(dir), 0));
    snprintf(path, sizeof(path), "%s/m.prom", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    cr_assert(eq(int, pw_prom_sample(p, "first", 1.0, (char *)NULL), 0));
    cr_assert(eq(int, pw_prom_write_file(p, path), 0));
    pw_prom_reset(p);
    cr_assert(eq(int, pw_prom_sample(p, "second", 2.0, (char *)NULL), 0));
    cr_assert(eq(int, pw_prom_write_file(p, path), 0));
    char *text = pw_read_file(path);
    cr_assert(eq(str, text, "second 2\n"));
    cr_assert(eq(int, access(tmp, F_OK), -1));
    free(text);
    char bad[160];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/m.prom", dir);
    cr_assert(eq(int, pw_prom_write_file(p, bad), -ENOENT));
    pw_tmpdir_remove(dir);
}
