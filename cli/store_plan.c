/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pw/error.h"
#include "pw/text.h"
#include "store.h"

/*
 * Which plan a command reads a store with. A store records every version of
 * the plan it was written with; the latest is the one to read it with, and a
 * catalog file that says otherwise is an error, not a silent reinterpretation
 * of the figures (the record of a plan other than the demo's would otherwise
 * be skipped or mis-rated under the built-in one).
 */

void pw_cli_short_digest(const unsigned char d[32], char out[13])
{
    for (int i = 0; i < 6; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* What the store says of its plan: a copy of its latest text (NULL when it records
 * none) and the digest of the catalog it was last written with. */
static int read_store(const char *dir, char **text, size_t *len, bool *has_digest,
                      unsigned char digest[32])
{
    *text = NULL;
    *has_digest = false;
    pw_store_t *store = NULL;
    pw_store_opts_t so = {.readonly = true};
    int rc = pw_store_open(&store, dir, &so);
    if (rc != 0)
        return rc;
    pw_txn_t *txn = NULL;
    if ((rc = pw_store_begin(store, false, &txn)) != 0)
        goto out;
    pw_store_plan_t plan;
    rc = pw_store_plan_latest(txn, &plan);
    if (rc == 0) {
        /* Copied: the text lives in the map, which closes with the store. */
        if ((*text = malloc(plan.len + 1)) == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        memcpy(*text, plan.text, plan.len);
        (*text)[plan.len] = '\0';
        *len = plan.len;
    } else if (rc != PW_ENOTFOUND) {
        goto out;
    }
    int drc = pw_store_get_digest(txn, digest);
    *has_digest = drc == 0;
    rc = drc == 0 || drc == PW_ENOTFOUND ? 0 : drc;
out:
    pw_store_abort(&txn);
    pw_store_destroy(&store);
    return rc;
}

int pw_cli_store_catalog(const char *cmd, const char *store_dir, const char *path, bool revise,
                         pw_catalog_t **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    bool has_digest = false;
    unsigned char digest[32];
    int rc = read_store(store_dir, &text, &len, &has_digest, digest);
    if (rc != 0) {
        /* No store there yet (or none that opens): the command says so itself
         * when it opens it; a new store takes the catalog it is given. */
        return pw_cli_load_catalog(path, out);
    }
    pw_catalog_t *stored = NULL, *file = NULL;
    char err[512] = "", a[13], b[13];
    if (text) {
        char name[512];
        snprintf(name, sizeof(name), "%s (the plan the store records)", store_dir);
        if ((rc = pw_catalog_parse(name, text, len, &stored, err, sizeof(err))) != 0) {
            fprintf(stderr, "planwatch %s: %s\n", cmd, err[0] ? err : pw_strerror(rc));
            goto out;
        }
        memcpy(digest, stored->digest, 32);
        has_digest = true;
    }
    if (!path && stored) {
        *out = stored;
        stored = NULL;
        goto out;
    }
    if ((rc = pw_cli_load_catalog(path, &file)) != 0)
        goto out;
    if (has_digest && memcmp(digest, file->digest, 32) != 0 && !(revise && path)) {
        pw_cli_short_digest(digest, a);
        pw_cli_short_digest(file->digest, b);
        if (stored)
            fprintf(stderr,
                    "planwatch %s: %s is not the plan store %s was written with (the store's "
                    "plan is \"%s\", digest %s; the file's is \"%s\", digest %s): leave out "
                    "--catalog to read the store with its own plan%s\n",
                    cmd, path, store_dir, stored->name, a, file->name, b,
                    strcmp(cmd, "replay") == 0 ? ", or ask --what-if-catalog" : "");
        else
            fprintf(stderr,
                    "planwatch %s: store %s was written with another catalog (digest %s) than "
                    "%s (digest %s), and does not record its plan (it predates stores that "
                    "do): pass --catalog with the catalog it was written with\n",
                    cmd, store_dir, a, path ? path : "the default catalog", b);
        rc = PW_EINCOMPAT;
        goto out;
    }
    *out = file;
    file = NULL;
out:
    pw_catalog_destroy(&stored);
    pw_catalog_destroy(&file);
    free(text);
    return rc;
}

struct versions {
    const char *dir;
    pw_cli_plan_t *v;
    size_t n, cap;
    char err[512];
};

static int add_version(void *ctx, const pw_store_plan_t *plan)
{
    struct versions *vs = ctx;
    pw_cli_plan_t *grown = pw__text_reserve(vs->v, vs->n, &vs->cap, sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    vs->v = grown;
    pw_cli_plan_t *p = &vs->v[vs->n];
    char name[512];
    snprintf(name, sizeof(name), "%s (the plan the store records from record %llu on)", vs->dir,
             (unsigned long long)plan->from);
    int rc = pw_catalog_parse(name, plan->text, plan->len, &p->cat, vs->err, sizeof(vs->err));
    if (rc != 0)
        return rc;
    p->from = plan->from;
    p->time_ms = plan->time_ms;
    vs->n++;
    return PW_OK;
}

int pw_cli_store_plans(const char *cmd, const char *store_dir, const char *path,
                       pw_cli_plan_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    pw_catalog_t *latest = NULL;
    int rc = pw_cli_store_catalog(cmd, store_dir, path, false, &latest);
    if (rc != 0)
        return rc;
    struct versions vs = {.dir = store_dir};
    pw_store_t *store = NULL;
    pw_store_opts_t so = {.readonly = true};
    pw_txn_t *txn = NULL;
    if (pw_store_open(&store, store_dir, &so) == 0 && (rc = pw_store_begin(store, false, &txn)) == 0)
        rc = pw_store_plan_foreach(txn, add_version, &vs);
    pw_store_abort(&txn);
    pw_store_destroy(&store);
    if (rc == 0 && vs.n == 0) {
        /* A store that records no plan: the one it was checked against. */
        rc = add_version(&vs, &(pw_store_plan_t){.from = 1, .time_ms = -1, .text = latest->text,
                                                 .len = latest->text_len});
    }
    if (rc != 0) {
        fprintf(stderr, "planwatch %s: %s\n", cmd, vs.err[0] ? vs.err : pw_strerror(rc));
        pw_cli_plans_free(&vs.v, vs.n);
    }
    pw_catalog_destroy(&latest);
    *out = vs.v;
    *n_out = rc == 0 ? vs.n : 0;
    return rc;
}

void pw_cli_plans_free(pw_cli_plan_t **plans_p, size_t n)
{
    if (!plans_p || !*plans_p)
        return;
    for (size_t i = 0; i < n; i++)
        pw_catalog_destroy(&(*plans_p)[i].cat);
    free(*plans_p);
    *plans_p = NULL;
}
