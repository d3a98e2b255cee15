/* SPDX-License-Identifier: MIT */
/* Imports an export into a new store: the whole file is checked first, then rebuilt from. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_internal.h"
#include "fmt.h"
#include "pw/error.h"
#include "pw/util.h"
#include "rebuild.h"

struct import_ctx {
    pw_rebuild_t *rb;               /* NULL: checking only */
    const pw_archive_plan_t *plans; /* the versions to rebuild under, as the check read them */
    size_t nplans, next_plan;
    const volatile sig_atomic_t *stop;
    uint64_t n;
    int failed; /* what the rebuild (or a signal) returned, as opposed to the file */
};

/*
 * Switches the rebuild to the plan versions that apply from the next record
 * on (all: every one left, those after the last record), as the aggregator
 * did when it started with them: they are recorded in the new store from
 * that record on, and the rates they change are recomputed.
 */
static int apply_plans(struct import_ctx *ic, bool all)
{
    int rc = 0;
    while (rc == 0 && ic->next_plan < ic->nplans &&
           (all || ic->plans[ic->next_plan].before <= ic->n)) {
        const pw_archive_plan_t *p = &ic->plans[ic->next_plan++];
        rc = pw_rebuild_plan(ic->rb, p->cat, p->time_ms);
    }
    return rc;
}

static int import_record(void *ctx, const pw_msg_t *rec)
{
    struct import_ctx *ic = ctx;
    if (ic->stop && *ic->stop)
        return ic->failed = -EINTR;
    if (ic->rb) {
        int rc = apply_plans(ic, false);
        if (rc == 0)
            rc = pw_rebuild_add(ic->rb, rec);
        if (rc != 0)
            return ic->failed = rc;
    }
    ic->n++;
    return 0;
}

/*
 * Looks at the target before anything is written: whether dir exists, and
 * whether it holds a store already (refused when that store has records).
 */
static int check_target(const char *dir, bool *had_dir, bool *had_store, char *err, size_t errlen)
{
    struct stat st;
    *had_dir = *had_store = false;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            pw__archive_seterr(err, errlen, "%s: not a directory", dir);
            return -ENOTDIR;
        }
        *had_dir = true;
    } else if (errno != ENOENT) {
        int rc = -errno;
        pw__archive_seterr(err, errlen, "cannot use %s: %s", dir, pw_strerror(rc));
        return rc;
    }
    char *data = pw__archive_path_with(dir, "/data.mdb");
    if (!data)
        return -ENOMEM;
    *had_store = *had_dir && access(data, F_OK) == 0;
    free(data);
    if (!*had_store)
        return 0;
    pw_store_t *store = NULL;
    pw_store_opts_t ro = {.readonly = true};
    uint64_t head = 0;
    int rc = pw_store_open(&store, dir, &ro);
    if (rc == 0)
        rc = pw_replay_count(store, &head);
    pw_store_destroy(&store);
    if (rc == PW_EINCOMPAT)
        pw__archive_seterr(
            err, errlen, "%s: holds a store of another format; import only into a new store", dir);
    else if (rc != 0)
        pw__archive_seterr(err, errlen, "cannot open the store in %s: %s", dir, pw_strerror(rc));
    else if (head > 0) {
        rc = PW_EINCOMPAT;
        pw__archive_seterr(err, errlen,
                           "%s: already holds a store with %" PRIu64
                           " records; import only into a new store (a new or empty directory)",
                           dir, head);
    }
    return rc;
}

/* After a failed import: takes away the store files the import created. */
static void remove_partial(const char *dir, bool had_dir, bool had_store, char *err, size_t errlen)
{
    if (!had_store) {
        const char *files[] = {"/data.mdb", "/lock.mdb", "/writer.pid"};
        for (size_t i = 0; i < 3; i++) {
            char *p = pw__archive_path_with(dir, files[i]);
            if (p)
                unlink(p);
            free(p);
        }
        if (!had_dir)
            rmdir(dir);
        return;
    }
    /* The store was there (empty) before: say so if the import left records in it. */
    pw_store_t *store = NULL;
    pw_store_opts_t ro = {.readonly = true};
    uint64_t head = 0;
    if (pw_store_open(&store, dir, &ro) == 0 && pw_replay_count(store, &head) == 0 && head > 0) {
        size_t used = strlen(err);
        if (used < errlen)
            pw__archive_seterr(err + used, errlen - used,
                               "; %s now holds %" PRIu64 " records of the failed import: remove it",
                               dir, head);
    }
    pw_store_destroy(&store);
}

/*
 * Whether the export may be imported with cat. One that carries its plan is
 * imported under it, and a catalog the user named must be its latest
 * version. One that carries none takes cat, which the read has checked
 * against the digest it names.
 */
static int check_catalog(const pw_archive_info_t *info, const pw_catalog_t *cat, bool cat_given,
                         const char *path, char *err, size_t errlen)
{
    if (info->nplans == 0 || !cat_given)
        return 0;
    const pw_catalog_t *last = info->plans[info->nplans - 1].cat;
    if (memcmp(last->digest, cat->digest, 32) == 0)
        return 0;
    char want[65], have[65];
    pw_fmt_hex(last->digest, 32, want);
    pw_fmt_hex(cat->digest, 32, have);
    pw__archive_seterr(
        err, errlen,
        "%s carries its plan, and --catalog is not it (the export's plan is \"%s\", digest "
        "%.12s; the catalog given is \"%s\", digest %.12s): leave out --catalog to import "
        "the export with its own plan",
        path, last->name, want, cat->name, have);
    return PW_EINCOMPAT;
}

/* Whether a second read of an export found the plan versions the first did. */
static bool same_plans(const pw_archive_info_t *a, const pw_archive_info_t *b)
{
    if (a->nplans != b->nplans)
        return false;
    for (size_t i = 0; i < a->nplans; i++) {
        const pw_archive_plan_t *pa = &a->plans[i], *pb = &b->plans[i];
        if (pa->before != pb->before || pa->time_ms != pb->time_ms ||
            memcmp(pa->cat->digest, pb->cat->digest, 32) != 0)
            return false;
    }
    return true;
}

int pw_archive_import(const pw_catalog_t *cat, bool cat_given, const char *path, const char *dir,
                      const volatile sig_atomic_t *stop, pw_archive_info_t *info_out, char *err,
                      size_t errlen)
{
    pw_archive_info_t info, again;
    memset(&info, 0, sizeof(info));
    memset(&again, 0, sizeof(again));
    struct import_ctx ic = {.stop = stop};
    pw_rebuild_t *rb = NULL;
    bool had_dir = false, had_store = false, created = false;
    /* First the whole file, before anything is created. */
    int rc = pw_archive_read(path, cat, import_record, &ic, &info, err, errlen);
    if (rc == -EINTR && ic.failed == -EINTR)
        pw__archive_seterr(err, errlen, "interrupted while checking %s; nothing imported", path);
    if (rc == 0)
        rc = check_catalog(&info, cat, cat_given, path, err, errlen);
    if (rc == 0)
        rc = check_target(dir, &had_dir, &had_store, err, errlen);
    if (rc != 0)
        goto out;
    /* Under the file's first plan version, which the first record switches to and records. */
    rc = pw_rebuild_new(info.nplans ? info.plans[0].cat : cat, dir, NULL, NULL, &rb);
    if (rc == -EBUSY) {
        /* A running aggregator's (or another import's): not ours to remove. */
        char busy[4200];
        pw_store_busy_text(dir, busy, sizeof(busy));
        pw__archive_seterr(err, errlen, "%s", busy);
        goto out;
    }
    if (rc == PW_EINCOMPAT) {
        /* Someone else's store (written since the check): nothing here is ours to remove. */
        pw__archive_seterr(err, errlen,
                           "%s: already holds a store with data (or one of another format); "
                           "import only into a new store",
                           dir);
        goto out;
    }
    created = true;
    /* A file that carries no plan: the store records the one it was checked with. */
    if (rc == 0 && info.nplans == 0)
        rc = pw_rebuild_plan(rb, cat, pw_now_ms());
    if (rc != 0) {
        pw__archive_seterr(err, errlen, "cannot create a store in %s: %s", dir, pw_strerror(rc));
        goto out;
    }
    ic = (struct import_ctx){.rb = rb, .plans = info.plans, .nplans = info.nplans, .stop = stop};
    rc = pw_archive_read(path, cat, import_record, &ic, &again, err, errlen);
    if (rc != 0 && ic.failed == -EINTR)
        pw__archive_seterr(err, errlen, "interrupted after %" PRIu64 " records; nothing imported",
                           ic.n);
    else if (rc != 0 && ic.failed != 0)
        pw__archive_seterr(err, errlen, "%s: cannot store record %" PRIu64 ": %s", dir, ic.n + 1,
                           pw_strerror(rc));
    if (rc != 0)
        goto out;
    if (again.records != info.records || !same_plans(&info, &again)) {
        pw__archive_seterr(err, errlen,
                           "%s changed while it was imported (%" PRIu64
                           " records and %zu plan versions, "
                           "then %" PRIu64 " and %zu)",
                           path, info.records, info.nplans, again.records, again.nplans);
        rc = PW_EDATA;
        goto out;
    }
    if ((rc = apply_plans(&ic, true)) != 0) {
        pw__archive_seterr(err, errlen,
                           "%s: cannot record the plan versions after the last record: %s", dir,
                           pw_strerror(rc));
        goto out;
    }
    if ((rc = pw_rebuild_finish(rb)) != 0) {
        pw__archive_seterr(err, errlen, "%s: cannot commit the imported store: %s", dir,
                           pw_strerror(rc));
        goto out;
    }
    uint64_t applied = 0, skipped = 0;
    pw_rebuild_counts(rb, &applied, &skipped);
    if (applied != info.records || skipped != 0) {
        /* Every record passed pw_msg_check(), so the rebuild should take them all. */
        pw__archive_seterr(err, errlen,
                           "%s: the rebuild took %" PRIu64 " of %" PRIu64 " records (%" PRIu64
                           " skipped)",
                           dir, applied, info.records, skipped);
        rc = PW_ESTORE;
        goto out;
    }
out:
    pw_rebuild_destroy(&rb);
    if (rc != 0 && created)
        remove_partial(dir, had_dir, had_store, err, errlen);
    pw_archive_info_clear(&again);
    if (rc == 0 && info_out)
        *info_out = info;
    else
        pw_archive_info_clear(&info);
    return rc;
}
