/* SPDX-License-Identifier: MIT */
/*
 * --metrics: a real aggregator, collector, publisher and monitor, then the
 * metrics files read by the text exposition format's own rules (a strict
 * parser here, independent of the writer) and their counts checked. When
 * promtool is installed, `promtool check metrics` must accept them too.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

PW_FIXTURE_SUITE(metrics, 120.0);

/* One parsed sample: its name, its labels as "k=v" lines (unescaped, in file order), value. */
struct sample {
    char name[128];
    char labels[512];
    double value;
    char family[128];
};

struct family {
    char name[128];
    char type[16];
    char help[256];
    bool closed; /* another family's samples came after it */
};

struct expo {
    struct sample s[1024];
    size_t n;
    struct family f[128];
    size_t nf;
};

static struct family *family_get(struct expo *e, const char *name)
{
    for (size_t i = 0; i < e->nf; i++)
        if (strcmp(e->f[i].name, name) == 0)
            return &e->f[i];
    return NULL;
}

static bool name_ok(const char *s, size_t n, bool colon)
{
    if (n == 0 || isdigit((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || (colon && s[i] == ':')))
            return false;
    return true;
}

/* Which family a sample belongs to: a histogram's _bucket, _sum and _count are its own. */
static struct family *owner(struct expo *e, const char *name)
{
    struct family *f = family_get(e, name);
    if (f)
        return f;
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(name), k = strlen(suffixes[i]);
        if (n > k && strcmp(name + n - k, suffixes[i]) == 0) {
            char base[128];
            snprintf(base, sizeof(base), "%.*s", (int)(n - k), name);
            f = family_get(e, base);
            if (f && (strcmp(f->type, "histogram") == 0 || strcmp(f->type, "summary") == 0))
                return f;
        }
    }
    return NULL;
}

static double parse_value(const char *v)
{
    if (strcmp(v, "+Inf") == 0)
        return INFINITY;
    if (strcmp(v, "-Inf") == 0)
        return -INFINITY;
    if (strcmp(v, "NaN") == 0)
        return NAN;
    char *end;
    double d = strtod(v, &end);
    cr_assert(end != v && *end == '\0', "bad value '%s'", v);
    cr_assert(isfinite(d), "value '%s' must be spelled +Inf, -Inf or NaN", v);
    return d;
}

/* Parses one sample line; asserts on any breach of the format. */
static void parse_sample(struct expo *e, char *line, int lineno)
{
    cr_assert_lt(e->n, sizeof(e->s) / sizeof(e->s[0]));
    struct sample *s = &e->s[e->n];
    memset(s, 0, sizeof(*s));
    char *p = line;
    size_t n = strcspn(p, "{ ");
    cr_assert(name_ok(p, n, true), "line %d: bad metric name in '%s'", lineno, line);
    snprintf(s->name, sizeof(s->name), "%.*s", (int)n, p);
    p += n;
    size_t lo = 0;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            size_t ln = strcspn(p, "=");
            cr_assert(name_ok(p, ln, false), "line %d: bad label name", lineno);
            cr_assert(strncmp(p, "__", 2) != 0, "line %d: reserved label name", lineno);
            lo += (size_t)snprintf(s->labels + lo, sizeof(s->labels) - lo, "%s%.*s=",
                                   lo ? "\n" : "", (int)ln, p);
            p += ln;
            cr_assert(p[0] == '=' && p[1] == '"', "line %d: label value not quoted", lineno);
            p += 2;
            while (*p != '"') {
                cr_assert(*p && *p != '\n', "line %d: unterminated label value", lineno);
                char c = *p++;
                if (c == '\\') {
                    c = *p++;
                    cr_assert(c == '\\' || c == '"' || c == 'n', "line %d: bad escape \\%c",
                              lineno, c);
                    c = c == 'n' ? '\n' : c;
                }
                if (lo + 1 < sizeof(s->labels))
                    s->labels[lo++] = c;
            }
            s->labels[lo] = '\0';
            p++;
            if (*p == ',')
                p++;
            else
                cr_assert(*p == '}', "line %d: expected , or } after a label", lineno);
        }
        p++;
    }
    cr_assert(*p == ' ', "line %d: no space before the value", lineno);
    p++;
    char *ts = strchr(p, ' ');
    if (ts) { /* an optional timestamp: an integer of milliseconds */
        *ts++ = '\0';
        char *end;
        strtoll(ts, &end, 10);
        cr_assert(*end == '\0', "line %d: bad timestamp", lineno);
    }
    s->value = parse_value(p);
    struct family *f = owner(e, s->name);
    cr_assert(f, "line %d: %s has no TYPE line before it", lineno, s->name);
    cr_assert(!f->closed, "line %d: %s's samples are not all in one group", lineno, s->name);
    for (size_t i = 0; i < e->nf; i++)
        if (&e->f[i] != f)
            e->f[i].closed = e->f[i].closed || e->f[i].type[0];
    snprintf(s->family, sizeof(s->family), "%s", f->name);
    for (size_t i = 0; i < e->n; i++)
        cr_assert(strcmp(e->s[i].name, s->name) != 0 || strcmp(e->s[i].labels, s->labels) != 0,
                  "line %d: %s{%s} twice", lineno, s->name, s->labels);
    e->n++;
}

static void parse(struct expo *e, char *text)
{
    memset(e, 0, sizeof(*e));
    int lineno = 0;
    cr_assert(text[0] == '\0' || text[strlen(text) - 1] == '\n', "the last line has no newline");
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        lineno++;
        if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
            bool help = line[2] == 'H';
            char *name = line + 7, *sp = strchr(name, ' ');
            cr_assert(sp, "line %d: %s without text", lineno, help ? "HELP" : "TYPE");
            *sp = '\0';
            cr_assert(name_ok(name, strlen(name), true), "line %d: bad name", lineno);
            struct family *f = family_get(e, name);
            if (!f) {
                cr_assert_lt(e->nf, sizeof(e->f) / sizeof(e->f[0]));
                f = &e->f[e->nf++];
                snprintf(f->name, sizeof(f->name), "%s", name);
            }
            if (help) {
                cr_assert(!f->help[0], "line %d: a second HELP for %s", lineno, name);
                /* HELP text escapes only backslash and newline. */
                size_t o = 0;
                for (char *p = sp + 1; *p && o + 1 < sizeof(f->help); p++) {
                    if (*p == '\\') {
                        p++;
                        cr_assert(*p == '\\' || *p == 'n', "line %d: bad HELP escape", lineno);
                        f->help[o++] = *p == 'n' ? '\n' : '\\';
                    } else {
                        f->help[o++] = *p;
                    }
                }
                cr_assert(o > 0, "line %d: empty HELP", lineno);
            } else {
                const char *t = sp + 1;
                cr_assert(!f->type[0], "line %d: a second TYPE for %s", lineno, name);
                cr_assert(strcmp(t, "counter") == 0 || strcmp(t, "gauge") == 0 ||
                              strcmp(t, "histogram") == 0 || strcmp(t, "summary") == 0 ||
                              strcmp(t, "untyped") == 0,
                          "line %d: unknown type %s", lineno, t);
                snprintf(f->type, sizeof(f->type), "%s", t);
            }
        } else if (line[0] == '#') {
            continue; /* any other comment */
        } else {
            parse_sample(e, line, lineno);
        }
    }
    /* Histograms: cumulative buckets ending in +Inf, which equals _count. */
    for (size_t i = 0; i < e->nf; i++) {
        if (strcmp(e->f[i].type, "histogram") != 0)
            continue;
        double last = -1, inf = -1, count = -2;
        char bucket[160], cnt[160];
        snprintf(bucket, sizeof(bucket), "%s_bucket", e->f[i].name);
        snprintf(cnt, sizeof(cnt), "%s_count", e->f[i].name);
        for (size_t k = 0; k < e->n; k++) {
            if (strcmp(e->s[k].name, bucket) == 0) {
                cr_assert_geq(e->s[k].value, last, "%s buckets not cumulative", bucket);
                last = e->s[k].value;
                if (strstr(e->s[k].labels, "le=+Inf"))
                    inf = e->s[k].value;
            } else if (strcmp(e->s[k].name, cnt) == 0) {
                count = e->s[k].value;
            }
        }
        cr_assert_eq(inf, count, "%s: +Inf bucket %g, _count %g", e->f[i].name, inf, count);
    }
}

/* The value of name{labels} ("" for none, "k=v" lines otherwise); asserts it exists. */
static double get(const struct expo *e, const char *name, const char *labels)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->s[i].name, name) == 0 && strcmp(e->s[i].labels, labels) == 0)
            return e->s[i].value;
    cr_assert_fail("no sample %s{%s}", name, labels);
    return NAN;
}

static const char *type_of(struct expo *e, const char *family)
{
    struct family *f = family_get(e, family);
    cr_assert(f, "no family %s", family);
    return f->type;
}

static void promtool_check(const char *path)
{
    if (access("/usr/bin/promtool", X_OK) != 0) {
        cr_log_info("promtool not installed: skipping promtool check metrics");
        return;
    }
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
    cr_assert_eq(system(cmd), 0, "promtool check metrics rejects %s", path);
}

static char *read_metrics(const char *path)
{
    char *text = pw_read_file(path);
    cr_assert(text, "no metrics file %s", path);
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    cr_assert(access(tmp, F_OK) != 0, "the temporary file %s was left behind", tmp);
    return text;
}

Test(metrics, aggregator_counts_accepted_and_rejected_by_reason)
{
    /* A district file with 5 good lines and 2 lines the aggregator refuses. */
    char data[128], prom[128], spool[128];
    pw_fixture_path(&fx, data, sizeof(data), "jiangan.csv");
    cr_assert_eq(pw_fixture_write(data, "period,element,value\n"
                                        "2015,assistance_applicants,2499\n"
                                        "2016,assistance_applicants,2500\n"
                                        "2017,assistance_applicants,2501\n"
                                        "2015,no_such_element,1\n"
                                        "2015,verified_applicants,100\n"
                                        "2016,verified_applicants,101\n"
                                        "2016,another_unknown,2\n"),
                 0);
    pw_fixture_path(&fx, prom, sizeof(prom), "aggregator.prom");
    pw_fixture_path(&fx, spool, sizeof(spool), "spool");
    char *aargs[] = {"--metrics", prom, NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&fx, aargs), 0);
    char *quiet[] = {"--quiet", NULL}, *out, *err;
    /* Exit 1: something was rejected. */
    cr_assert_eq(pw_fixture_collect(&fx, "jiangan", data, spool, quiet, &out, &err), 1);
    free(out);
    free(err);
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0, "the aggregator did not stop cleanly");

    char *text = read_metrics(prom);
    struct expo *e = calloc(1, sizeof(*e));
    parse(e, text);
    cr_assert_eq(get(e, "planwatch_aggregator_updates_accepted_total", ""), 5);
    cr_assert_eq(get(e, "planwatch_aggregator_rejected_total", "reason=EELEMENT"), 2);
    cr_assert_eq(get(e, "planwatch_aggregator_rejected_total", "reason=EGAP"), 0);
    cr_assert_eq(get(e, "planwatch_aggregator_duplicates_total", ""), 0);
    /* Every wire reason code has its series, at zero until it happens. */
    cr_assert_eq(get(e, "planwatch_aggregator_rejected_total", "reason=EINCOMPAT"), 0);
    cr_assert_str_eq(type_of(e, "planwatch_aggregator_rejected_total"), "counter");
    cr_assert_str_eq(type_of(e, "planwatch_aggregator_commit_seconds"), "histogram");
    cr_assert_geq(get(e, "planwatch_aggregator_commit_seconds_count", ""), 1);
    cr_assert_eq(get(e, "planwatch_aggregator_batch_messages_sum", ""),
                 get(e, "planwatch_aggregator_messages_total", ""));
    /* The 7 updates, all spooled before the welcome, go in one frame. */
    cr_assert_eq(get(e, "planwatch_aggregator_messages_total", "") -
                     get(e, "planwatch_aggregator_frames_total", ""),
                 6);
    double seen = get(e, "planwatch_aggregator_district_last_seen_seconds", "district=jiangan");
    cr_assert(fabs(seen - (double)time(NULL)) < 120, "last seen %f", seen);
    cr_assert_eq(get(e, "planwatch_aggregator_district_last_seq", "district=jiangan"), 7);
    cr_assert_eq(get(e, "planwatch_aggregator_district_lag_updates", "district=jiangan"), 0);
    cr_assert_gt(get(e, "planwatch_aggregator_store_bytes", ""), 0);
    cr_assert_gt(get(e, "planwatch_aggregator_event_head", ""), 0);
    promtool_check(prom);
    free(e);
    free(text);

    /* planwatch status says the same for a person. */
    char *sargs[] = {"status", "--metrics", prom, NULL}, *shown;
    cr_assert_eq(pw_fixture_run(&fx, sargs, 10000, &shown, &err), 0);
    free(err);
    cr_assert(shown);
    cr_assert(strstr(shown, "5 accepted, 0 duplicates"), "%s", shown);
    cr_assert(strstr(shown, "rejected   EELEMENT 2\n"), "%s", shown);
    cr_assert(strstr(shown, "jiangan      up"), "%s", shown);
    free(shown);
    char *missing[] = {"status", "--metrics", "/nonexistent/x.prom", NULL};
    cr_assert_eq(pw_fixture_run(&fx, missing, 10000, &out, &err), 1);
    free(out);
    free(err);
}

Test(metrics, publisher_counts_requests_and_events_by_topic)
{
    char prom[128], pprom[128];
    pw_fixture_path(&fx, prom, sizeof(prom), "aggregator.prom");
    pw_fixture_path(&fx, pprom, sizeof(pprom), "publisher.prom");
    char *aargs[] = {"--metrics", prom, NULL};
    char *pargs[] = {"--metrics", pprom, NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&fx, aargs), 0);
    cr_assert_eq(pw_fixture_start_publisher(&fx, pargs), 0);
    char data[256], spool[128], *out, *err;
    snprintf(data, sizeof(data), "%s/data/wuhan/districts/jiangan.csv", PW_SOURCE_DIR);
    pw_fixture_path(&fx, spool, sizeof(spool), "spool");
    char *quiet[] = {"--quiet", NULL};
    cr_assert_eq(pw_fixture_collect(&fx, "jiangan", data, spool, quiet, &out, &err), 0);
    free(out);
    free(err);
    char *margs[] = {"monitor", "--connect", fx.stream, "--once", "--json", NULL};
    cr_assert_eq(pw_fixture_run(&fx, margs, 30000, &out, &err), 0);
    free(out);
    free(err);
    cr_assert_eq(pw_proc_stop(&fx.pub, 10000), 0, "the publisher did not stop cleanly");
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0, "the aggregator did not stop cleanly");

    char *text = read_metrics(pprom), *atext = read_metrics(prom);
    struct expo *e = calloc(1, sizeof(*e)), *a = calloc(1, sizeof(*a));
    parse(e, text);
    parse(a, atext);
    cr_assert_eq(get(a, "planwatch_aggregator_updates_accepted_total", ""), 114);
    cr_assert_geq(get(e, "planwatch_publisher_requests_total", "type=snapshot"), 1);
    cr_assert_geq(get(e, "planwatch_publisher_connections_total", ""), 1);
    cr_assert_eq(get(e, "planwatch_publisher_request_errors_total", "type=malformed"), 0);
    /* Every event the aggregator committed went out, in rates messages (no alert
     * opens with one district's data). */
    double head = get(a, "planwatch_aggregator_event_head", "");
    cr_assert_eq(get(e, "planwatch_publisher_last_event", ""), head);
    cr_assert_eq(get(e, "planwatch_publisher_events_total", "topic=rates") +
                     get(e, "planwatch_publisher_events_total", "topic=alert"),
                 head);
    cr_assert_geq(get(e, "planwatch_publisher_messages_total", "topic=hb"), 1);
    promtool_check(pprom);
    free(e);
    free(a);
    free(text);
    free(atext);
}
