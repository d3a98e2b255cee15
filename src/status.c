/* SPDX-License-Identifier: MIT */
/* planwatch status: the daemons' metrics files, for a person. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "command.h"
#include "commands.h"

static const char usage_text[] =
    "usage: planwatch status [options]\n"
    "\n"
    "Prints what the aggregator and the publisher say of themselves in their\n"
    "--metrics files (Prometheus text format): updates accepted and rejected by\n"
    "reason, duplicates, commit batches and latency, store size, each district's\n"
    "last contact and lag, subscribers, requests and events published. A file not\n"
    "rewritten for 15 s is marked stale: its daemon is probably not running.\n"
    "Exit status: 0, or 1 when no metrics file can be read.\n"
    "\n"
    "options:\n"
    "  --metrics FILE   a metrics file to read, repeatable (default\n"
    "                   /var/lib/planwatch/metrics/aggregator.prom and\n"
    "                   /var/lib/planwatch/metrics/publisher.prom)\n"
    "  -h, --help       this text\n";

#define STALE_S 15

struct sample {
    char name[96];
    char label[32];  /* the first label's name, if any */
    char lvalue[96]; /* its value, unescaped */
    char le[96];     /* a histogram bucket's bound */
    double value;
};

struct metrics {
    struct sample *s;
    size_t n, cap;
};

/* Reads "name{k="v",...} value" lines; the format's comments are skipped.
 * A line that does not parse is skipped too: this is a display, not a check. */
static int parse_line(const char *line, struct sample *s)
{
    memset(s, 0, sizeof(*s));
    size_t n = strcspn(line, "{ ");
    if (n == 0 || n >= sizeof(s->name))
        return -1;
    memcpy(s->name, line, n);
    const char *p = line + n;
    if (*p == '{') {
        p++;
        while (*p && *p != '}') {
            size_t k = strcspn(p, "=");
            if (p[k] != '=' || p[k + 1] != '"')
                return -1;
            char key[32] = "", val[96] = "";
            snprintf(key, sizeof(key), "%.*s", (int)k, p);
            p += k + 2;
            size_t o = 0;
            for (; *p && *p != '"'; p++) {
                char c = *p;
                if (c == '\\' && p[1]) {
                    c = *++p == 'n' ? '\n' : *p;
                }
                if (o + 1 < sizeof(val))
                    val[o++] = c;
            }
            if (*p != '"')
                return -1;
            p++;
            if (*p == ',')
                p++;
            if (strcmp(key, "le") == 0)
                snprintf(s->le, sizeof(s->le), "%s", val);
            else if (!s->label[0]) {
                snprintf(s->label, sizeof(s->label), "%s", key);
                snprintf(s->lvalue, sizeof(s->lvalue), "%s", val);
            }
        }
        if (*p != '}')
            return -1;
        p++;
    }
    if (*p != ' ')
        return -1;
    char *end;
    s->value = strtod(p + 1, &end);
    return end == p + 1 ? -1 : 0;
}

static int load(const char *path, struct metrics *m)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 256;
            struct sample *p = realloc(m->s, cap * sizeof(*p));
            if (!p) {
                fclose(f);
                return -ENOMEM;
            }
            m->s = p;
            m->cap = cap;
        }
        if (parse_line(line, &m->s[m->n]) == 0)
            m->n++;
    }
    fclose(f);
    return 0;
}

/* The value of name (with label = lvalue when lvalue is given), or NAN. */
static double get(const struct metrics *m, const char *name, const char *lvalue)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->s[i].name, name) == 0 && !m->s[i].le[0] &&
            (!lvalue || strcmp(m->s[i].lvalue, lvalue) == 0))
            return m->s[i].value;
    return NAN;
}

static bool has(const struct metrics *m, const char *prefix)
{
    for (size_t i = 0; i < m->n; i++)
        if (strncmp(m->s[i].name, prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

static void age(char *buf, size_t len, double seconds)
{
    long s = (long)seconds;
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf(buf, len, "%lds", s);
    else if (s < 7200)
        snprintf(buf, len, "%ldm", s / 60);
    else if (s < 172800)
        snprintf(buf, len, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else
        snprintf(buf, len, "%ldd", s / 86400);
}

static void print_aggregator(const struct metrics *m, double now)
{
    char up[32];
    age(up, sizeof(up), now - get(m, "planwatch_aggregator_start_time_seconds", NULL));
    printf("aggregator (started %s ago)\n", up);
    printf("  updates    %.0f accepted, %.0f duplicates, of %.0f messages\n",
           get(m, "planwatch_aggregator_updates_accepted_total", NULL),
           get(m, "planwatch_aggregator_duplicates_total", NULL),
           get(m, "planwatch_aggregator_messages_total", NULL));
    printf("  rejected  ");
    int nr = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->s[i].name, "planwatch_aggregator_rejected_total") == 0 &&
            m->s[i].value > 0)
            printf("%s %s %.0f", nr++ ? "," : "", m->s[i].lvalue, m->s[i].value);
    }
    printf("%s\n", nr ? "" : " none");
    double batches = get(m, "planwatch_aggregator_commit_seconds_count", NULL);
    double secs = get(m, "planwatch_aggregator_commit_seconds_sum", NULL);
    double msgs = get(m, "planwatch_aggregator_batch_messages_sum", NULL);
    if (batches > 0)
        printf("  commits    %.0f batches, %.1f messages and %.2f ms each on average\n",
               batches, msgs / batches, secs / batches * 1000.0);
    else
        printf("  commits    none yet\n");
    printf("  store      %.1f MiB used, map %.0f MiB; event head %.0f\n",
           get(m, "planwatch_aggregator_store_bytes", NULL) / 1048576.0,
           get(m, "planwatch_aggregator_store_map_bytes", NULL) / 1048576.0,
           get(m, "planwatch_aggregator_event_head", NULL));
    printf("  %-12s %-10s %10s %10s %8s\n", "district", "collector", "last seen", "last seq",
           "lag");
    for (size_t i = 0; i < m->n; i++) {
        const struct sample *s = &m->s[i];
        if (strcmp(s->name, "planwatch_aggregator_district_last_seq") != 0)
            continue;
        double seen = get(m, "planwatch_aggregator_district_last_seen_seconds", s->lvalue);
        double conn = get(m, "planwatch_aggregator_district_connected", s->lvalue);
        char ago[32] = "never";
        if (!isnan(seen)) {
            age(ago, sizeof(ago), now - seen);
            strncat(ago, " ago", sizeof(ago) - strlen(ago) - 1);
        }
        printf("  %-12s %-10s %10s %10.0f %8.0f\n", s->lvalue, conn > 0 ? "up" : "down", ago,
               s->value, get(m, "planwatch_aggregator_district_lag_updates", s->lvalue));
    }
}

/* "a 1, b 2": each sample of name, by its label's value. */
static void by_label(const struct metrics *m, const char *name)
{
    int k = 0;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->s[i].name, name) == 0)
            printf("%s%s %.0f", k++ ? ", " : "", m->s[i].lvalue, m->s[i].value);
}

static void print_publisher(const struct metrics *m, double now)
{
    char up[32];
    age(up, sizeof(up), now - get(m, "planwatch_publisher_start_time_seconds", NULL));
    printf("publisher (started %s ago)\n", up);
    printf("  subscribers %.0f now, %.0f connections since start\n",
           get(m, "planwatch_publisher_subscribers", NULL),
           get(m, "planwatch_publisher_connections_total", NULL));
    printf("  requests   ");
    by_label(m, "planwatch_publisher_requests_total");
    printf("\n  failed     ");
    by_label(m, "planwatch_publisher_request_errors_total");
    printf("\n  messages   ");
    by_label(m, "planwatch_publisher_messages_total");
    printf("\n  events     ");
    by_label(m, "planwatch_publisher_events_total");
    printf("; last event %.0f\n", get(m, "planwatch_publisher_last_event", NULL));
}

/* The metrics files to read. */
struct status_cmd {
    const char *files[16];
    size_t nfiles;
};

static int take_option(void *p, int c, const char *arg)
{
    struct status_cmd *o = p;
    if (c != 'm')
        return PW_CLI_USAGE;
    if (o->nfiles == sizeof(o->files) / sizeof(o->files[0])) {
        fprintf(stderr, "planwatch status: at most 16 --metrics\n");
        return 2;
    }
    o->files[o->nfiles++] = arg;
    return 0;
}

int pw_cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {{"metrics", required_argument, 0, 'm'},
                                             {"help", no_argument, 0, PW_CLI_HELP},
                                             {0, 0, 0, 0}};
    static const pw_cli_command_t command = {"status", usage_text, longopts, take_option, NULL,
                                             NULL};
    struct status_cmd o = {0};
    int status;
    if (!pw_cli_parse(&command, argc, argv, &o, &status))
        return status;
    const char **files = o.files;
    size_t nfiles = o.nfiles;
    if (nfiles == 0) {
        files[nfiles++] = "/var/lib/planwatch/metrics/aggregator.prom";
        files[nfiles++] = "/var/lib/planwatch/metrics/publisher.prom";
    }
    double now = (double)time(NULL);
    size_t read = 0;
    for (size_t i = 0; i < nfiles; i++) {
        struct metrics m = {0};
        struct stat st;
        int rc = stat(files[i], &st) == 0 ? load(files[i], &m) : -errno;
        if (rc != 0) {
            fprintf(stderr, "planwatch status: %s: %s\n", files[i], strerror(-rc));
            free(m.s);
            continue;
        }
        read++;
        double written = now - (double)st.st_mtime;
        char ago[32];
        age(ago, sizeof(ago), written);
        printf("%s%s (written %s ago%s)\n", i ? "\n" : "", files[i], ago,
               written > STALE_S ? ", STALE: is the daemon running?" : "");
        if (has(&m, "planwatch_aggregator_"))
            print_aggregator(&m, now);
        if (has(&m, "planwatch_publisher_"))
            print_publisher(&m, now);
        free(m.s);
    }
    return read ? 0 : 1;
}
