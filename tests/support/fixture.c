/* SPDX-License-Identifier: MIT */
#include "fixture.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tmpdir.h"

#define MAXARGS 48

/* The paths below fx->dir, made. */
static void name_paths(pw_fixture_t *fx)
{
    snprintf(fx->store, sizeof(fx->store), "%s/store", fx->dir);
    snprintf(fx->keys, sizeof(fx->keys), "%s/keys", fx->dir);
    snprintf(fx->intake, sizeof(fx->intake), "ipc://%s/intake.sock", fx->dir);
    snprintf(fx->stream, sizeof(fx->stream), "ipc://%s/stream.sock", fx->dir);
    snprintf(fx->snap, sizeof(fx->snap), "ipc://%s/snap.sock", fx->dir);
}

int pw_fixture_open(pw_fixture_t *fx)
{
    memset(fx, 0, sizeof(*fx));
    int rc = pw_tmpdir_make(fx->dir);
    if (rc != 0)
        return rc;
    name_paths(fx);
    return 0;
}

int pw_fixture_open_in(pw_fixture_t *fx, const pw_fixture_t *parent, const char *name)
{
    memset(fx, 0, sizeof(*fx));
    int n = snprintf(fx->dir, sizeof(fx->dir), "%s/%s", parent->dir, name);
    if (n < 0 || (size_t)n >= sizeof(fx->dir))
        return -ENAMETOOLONG;
    if (mkdir(fx->dir, 0700) != 0)
        return -errno;
    name_paths(fx);
    return 0;
}

int pw_fixture_use_tcp(pw_fixture_t *fx)
{
    int ports[3];
    for (int i = 0; i < 3; i++)
        if ((ports[i] = pw_free_port()) < 0)
            return -1;
    snprintf(fx->intake, sizeof(fx->intake), "tcp://127.0.0.1:%d", ports[0]);
    snprintf(fx->stream, sizeof(fx->stream), "tcp://127.0.0.1:%d", ports[1]);
    snprintf(fx->snap, sizeof(fx->snap), "tcp://127.0.0.1:%d", ports[2]);
    return 0;
}

void pw_fixture_close(pw_fixture_t *fx)
{
    pw_proc_kill_all();
    if (!getenv("PW_TEST_KEEP")) /* keep the logs and stores to look at */
        pw_tmpdir_remove(fx->dir);
}

char *pw_fixture_path(const pw_fixture_t *fx, char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", fx->dir, name);
    return buf;
}

/* argv = "planwatch", the head, then extra; false when it does not fit. */
static int build_argv(char *argv[MAXARGS], char *const head[], char *const extra[])
{
    int n = 0;
    argv[n++] = "planwatch";
    for (int i = 0; head && head[i]; i++) {
        if (n >= MAXARGS - 1)
            return -E2BIG;
        argv[n++] = head[i];
    }
    for (int i = 0; extra && extra[i]; i++) {
        if (n >= MAXARGS - 1)
            return -E2BIG;
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    return 0;
}

int pw_fixture_spawn(pw_fixture_t *fx, pw_proc_t *p, char *const args[])
{
    char *argv[MAXARGS], log[256];
    if (build_argv(argv, args, NULL) != 0)
        return -1;
    snprintf(log, sizeof(log), "%s/%s-%d.log", fx->dir, args[0], fx->starts++);
    return pw_proc_spawn(p, PLANWATCH_BIN, argv, log) == 0 ? 0 : -1;
}

/* Spawns a daemon into p, its log's path into log, and waits for its ready line. */
static int start_daemon(pw_fixture_t *fx, pw_proc_t *p, char *log, size_t len, char *const head[],
                        char *const extra[])
{
    char *argv[MAXARGS];
    int rc = build_argv(argv, head, extra);
    if (rc != 0)
        return rc;
    if (pw_fixture_spawn(fx, p, argv + 1) != 0)
        return -1;
    snprintf(log, len, "%s", p->log);
    return pw_proc_wait_log(p, "INFO: ready", 20000);
}

int pw_fixture_start_aggregator(pw_fixture_t *fx, char *const extra[])
{
    char *head[] = {"aggregator", "--store", fx->store, "--bind", fx->intake, NULL};
    return start_daemon(fx, &fx->agg, fx->agg_log, sizeof(fx->agg_log), head, extra);
}

int pw_fixture_start_publisher(pw_fixture_t *fx, char *const extra[])
{
    char *head[] = {"publisher", "--store", fx->store, "--bind", fx->stream, NULL};
    return start_daemon(fx, &fx->pub, fx->pub_log, sizeof(fx->pub_log), head, extra);
}

int pw_fixture_run(pw_fixture_t *fx, char *const args[], int timeout_ms, char **out, char **err)
{
    char *argv[MAXARGS], path[128];
    *out = *err = NULL;
    if (build_argv(argv, args, NULL) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/run-%d.out", fx->dir, fx->runs++);
    return pw_proc_capture(PLANWATCH_BIN, argv, path, timeout_ms, out, err);
}

int pw_fixture_collect(pw_fixture_t *fx, char *district, char *file, char *spool,
                       char *const extra[], char **out, char **err)
{
    char *head[] = {"collector", "--district", district,  "--data", file,
                    "--connect", fx->intake,   "--spool", spool,    NULL};
    char *argv[MAXARGS];
    *out = *err = NULL;
    if (build_argv(argv, head, extra) != 0)
        return -1;
    return pw_fixture_run(fx, argv + 1, 120000, out, err);
}

int pw_fixture_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    int bad = fputs(text, f) < 0;
    return fclose(f) != 0 || bad ? -EIO : 0;
}

const char *const pw_fixture_reporters[PW_FIXTURE_NREPORTERS] = {
    "jiangan",  "jianghan", "qiaokou", "hanyang",  "wuchang", "qingshan", "hongshan",
    "dongxihu", "hannan",   "caidian", "jiangxia", "huangpi", "xinzhou",  "wuhan"};

char *pw_fixture_reporter_file(char *buf, size_t len, int i)
{
    snprintf(buf, len, "%s/data/wuhan/districts/%s.csv", PW_SOURCE_DIR, pw_fixture_reporters[i]);
    return buf;
}

/* The prefix's first letter upper-cased: the name_en of what it names. */
static char upper_initial(const char *prefix)
{
    return (char)toupper((unsigned char)prefix[0]);
}

/* The id of thing number n: its prefix and n, zero-padded to width digits. */
static void id_of(char *buf, size_t len, const char *prefix, int width, int n)
{
    snprintf(buf, len, "%s%0*d", prefix, width, n);
}

pw_fixture_plan_t pw_fixture_plan(const char *name, int ndistricts, int nelements)
{
    return (pw_fixture_plan_t){.name = name, .base_year = 2015, .target_year = 2020,
                               .ndistricts = ndistricts, .nelements = nelements,
                               .nindicators = nelements, .district = "d", .element = "e",
                               .indicator = "i", .target = 2000, .target_rest = 2000};
}

int pw_fixture_write_plan(const char *path, const pw_fixture_plan_t *plan)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "[plan]\nname = %s\nbase_year = %d\ntarget_year = %d\n", plan->name, plan->base_year,
            plan->target_year);
    char id[32], next[32];
    for (int d = plan->first; d < plan->first + plan->ndistricts; d++) {
        id_of(id, sizeof(id), plan->district, plan->district_width, d);
        fprintf(f, "[district %s]\nname_zh = 区%d\nname_en = %c%d\nlevel = district\n", id, d,
                upper_initial(plan->district), d);
    }
    for (int e = plan->first; e < plan->first + plan->nelements; e++) {
        id_of(id, sizeof(id), plan->element, plan->width, e);
        fprintf(f,
                "[element %s]\nname_zh = 项%d\nname_en = %c%d\nunit = u\nkind = amount\n"
                "level = district\n",
                id, e, upper_initial(plan->element), e);
        if (e - plan->first >= plan->nindicators)
            continue;
        char ind[32];
        id_of(ind, sizeof(ind), plan->indicator, plan->width, e);
        fprintf(f,
                "[indicator %s]\nname_zh = 指%d\nname_en = %c%d\ncategory = c\nunit = u\n"
                "attribute = expected\nbase = 1000\ntarget = %d\ntarget_kind = exact\n"
                "method = linear\n",
                ind, e, upper_initial(plan->indicator), e,
                e == plan->first ? plan->target : plan->target_rest);
        if (plan->ratio) {
            int k = plan->first + (e - plan->first + 1) % plan->nelements;
            id_of(next, sizeof(next), plan->element, plan->width, k);
            fprintf(f, "value = ratio %s / %s * 1000\n", id, next);
        } else {
            fprintf(f, "value = sum %s\n", id);
        }
    }
    return fclose(f) != 0 ? -EIO : 0;
}
