/* SPDX-License-Identifier: MIT */
/*
 * Comparing two stores: the shared helpers, the plan versions, the catalog
 * and the current values, and the walk over every part. Rates, open alerts
 * and transitions are compared in verify_events.c, the log in verify_log.c.
 */
#include "verify.h"
#include "verify_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw/error.h"
#include "pw/event.h"
#include "pw/rate.h"
#include "pw/text.h"

void *pw__verify_vec_push(struct vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        if (cap > SIZE_MAX / v->elem)
            return NULL;
        char *p = realloc(v->data, cap * v->elem);
        if (!p)
            return NULL;
        v->data = p;
        v->cap = cap;
    }
    return v->data + v->n++ * v->elem;
}

void *pw__verify_vec_at(const struct vec *v, size_t i)
{
    return i < v->n ? v->data + i * v->elem : NULL;
}

void pw__verify_vec_free(struct vec *v)
{
    free(v->data);
    v->data = NULL;
    v->n = v->cap = 0;
}

const char *pw_verify_part_name(pw_verify_part_t part)
{
    static const char *const names[PW_VERIFY_NPARTS] = {"catalog", "current", "rate",
                                                        "open",    "alert",   "log"};
    return (unsigned)part < PW_VERIFY_NPARTS ? names[part] : "?";
}

int pw__verify_report(struct verify *v, pw_verify_part_t part, const char *key, const char *a,
                      const char *b)
{
    pw_verify_diff_t d = {part, key, a, b};
    v->count++;
    return v->fn(v->ctx, &d);
}

/* The shortest of %.15g..%.17g that reads back as x: "5120", "0.1", "38.7". */
void pw__verify_fmt_num(double x, char buf[NUMMAX])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, NUMMAX, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* A rate in hundredths as text, exactly: -16667 is "-166.67". */
void pw__verify_fmt_centi(bool has, int64_t centi, char buf[NUMMAX])
{
    if (!has) {
        snprintf(buf, NUMMAX, "-");
        return;
    }
    uint64_t mag = centi < 0 ? (uint64_t)0 - (uint64_t)centi : (uint64_t)centi;
    snprintf(buf, NUMMAX, "%s%" PRIu64 ".%02" PRIu64, centi < 0 ? "-" : "", mag / 100, mag % 100);
}

const char *pw__verify_action_name(pw_alert_action_t a)
{
    switch (a) {
    case PW_ALERT_OPEN:
        return "open";
    case PW_ALERT_RESOLVE:
        return "resolve";
    case PW_ALERT_UPDATE:
        return "update";
    }
    return "?";
}

/* The plan versions a store records; the texts are borrowed from its txn. */
struct plans {
    pw_store_plan_t *v;
    size_t n, cap;
};

static int add_plan(void *ctx, const pw_store_plan_t *plan)
{
    struct plans *p = ctx;
    pw_store_plan_t *grown = pw__text_reserve(p->v, p->n, &p->cap, sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    p->v = grown;
    p->v[p->n++] = *plan;
    return 0;
}

static void describe_plan(const pw_store_plan_t *p, char *buf, size_t len)
{
    snprintf(buf, len, "from record %llu, %zu bytes", (unsigned long long)p->from, p->len);
}

/*
 * Each version of the plan, in order: from which record, its text. When it
 * took effect is a stamp of when it was written, ignored like the rows' stamps.
 */
static int diff_plans(struct verify *v, pw_txn_t *ta, pw_txn_t *tb)
{
    struct plans a = {0}, b = {0};
    int rc = pw_store_plan_foreach(ta, add_plan, &a);
    if (rc == 0)
        rc = pw_store_plan_foreach(tb, add_plan, &b);
    for (size_t i = 0; rc == 0 && i < (a.n > b.n ? a.n : b.n); i++) {
        const pw_store_plan_t *pa = i < a.n ? &a.v[i] : NULL, *pb = i < b.n ? &b.v[i] : NULL;
        if (pa && pb && pa->from == pb->from && pa->len == pb->len && memcmp(pa->text, pb->text, pa->len) == 0)
            continue;
        char key[48], da[96] = "", db[96] = "";
        snprintf(key, sizeof(key), "plan version %zu", i + 1);
        if (pa)
            describe_plan(pa, da, sizeof(da));
        if (pb)
            describe_plan(pb, db, sizeof(db));
        if (pa && pb && strcmp(da, db) == 0) /* the same shape: the texts differ */
            snprintf(db + strlen(db), sizeof(db) - strlen(db), ", another text");
        rc = pw__verify_report(v, PW_VERIFY_CATALOG, key, pa ? da : NULL, pb ? db : NULL);
    }
    free(a.v);
    free(b.v);
    return rc;
}

static int diff_catalog(struct verify *v, pw_txn_t *ta, pw_txn_t *tb)
{
    unsigned char da[32], db[32];
    char ha[65] = "none", hb[65] = "none";
    int ra = pw_store_get_digest(ta, da), rb = pw_store_get_digest(tb, db);
    if ((ra != 0 && ra != PW_ENOTFOUND) || (rb != 0 && rb != PW_ENOTFOUND))
        return ra != 0 && ra != PW_ENOTFOUND ? ra : rb;
    for (int i = 0; i < 32; i++) {
        if (ra == 0)
            snprintf(ha + 2 * i, 3, "%02x", da[i]);
        if (rb == 0)
            snprintf(hb + 2 * i, 3, "%02x", db[i]);
    }
    int rc = strcmp(ha, hb) != 0 ? pw__verify_report(v, PW_VERIFY_CATALOG, "", ha, hb) : 0;
    return rc == 0 ? diff_plans(v, ta, tb) : rc;
}

struct cur_row {
    char key[KEYMAX];
    double value;
};

static int collect_current(void *ctx, const char *district, const char *element, pw_period_t p,
                           double value)
{
    struct cur_row *r = pw__verify_vec_push(ctx);
    if (!r)
        return -ENOMEM;
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(p, ptext);
    snprintf(r->key, sizeof(r->key), "%s/%s/%s", district, element, ptext);
    r->value = value;
    return 0;
}

static int cmp_cur(const void *x, const void *y)
{
    return strcmp(((const struct cur_row *)x)->key, ((const struct cur_row *)y)->key);
}

/* Which side a merge step is on: -1 only A, 1 only B, 0 both (same key). */
int pw__verify_merge_side(const char *ka, const char *kb)
{
    if (!kb)
        return -1;
    if (!ka)
        return 1;
    int c = strcmp(ka, kb);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

static int diff_current(struct verify *v, pw_txn_t *ta, pw_txn_t *tb)
{
    struct vec A = {.elem = sizeof(struct cur_row)}, B = {.elem = sizeof(struct cur_row)};
    int rc = pw_store_current_foreach(ta, collect_current, &A);
    if (rc == 0)
        rc = pw_store_current_foreach(tb, collect_current, &B);
    if (rc == 0 && A.n)
        qsort(A.data, A.n, A.elem, cmp_cur);
    if (rc == 0 && B.n)
        qsort(B.data, B.n, B.elem, cmp_cur);
    size_t i = 0, j = 0;
    while (rc == 0 && (i < A.n || j < B.n)) {
        const struct cur_row *x = pw__verify_vec_at(&A, i), *y = pw__verify_vec_at(&B, j);
        char na[NUMMAX], nb[NUMMAX];
        int side = pw__verify_merge_side(x ? x->key : NULL, y ? y->key : NULL);
        if (side < 0 && x) {
            pw__verify_fmt_num(x->value, na);
            rc = pw__verify_report(v, PW_VERIFY_CURRENT, x->key, na, NULL);
            i++;
        } else if (side > 0 && y) {
            pw__verify_fmt_num(y->value, nb);
            rc = pw__verify_report(v, PW_VERIFY_CURRENT, y->key, NULL, nb);
            j++;
        } else if (x && y) {
            if (x->value != y->value) {
                pw__verify_fmt_num(x->value, na);
                pw__verify_fmt_num(y->value, nb);
                rc = pw__verify_report(v, PW_VERIFY_CURRENT, x->key, na, nb);
            }
            i++;
            j++;
        }
    }
    pw__verify_vec_free(&A);
    pw__verify_vec_free(&B);
    return rc;
}


int pw_verify_stores(pw_store_t *a, pw_store_t *b, pw_verify_fn fn, void *ctx, uint64_t *count_out)
{
    struct verify v = {fn, ctx, 0};
    pw_txn_t *ta = NULL, *tb = NULL;
    if (count_out)
        *count_out = 0;
    /* One store compared with itself: one transaction (LMDB allows a thread
     * a single read transaction per environment). */
    int rc = pw_store_begin(a, false, &ta);
    if (rc != 0)
        goto out;
    if (b == a)
        tb = ta;
    else if ((rc = pw_store_begin(b, false, &tb)) != 0)
        goto out;
    if ((rc = diff_catalog(&v, ta, tb)) != 0 || (rc = diff_current(&v, ta, tb)) != 0 ||
        (rc = pw__verify_diff_events(&v, PW_VERIFY_RATE, ta, tb, pw_store_rate_foreach)) != 0 ||
        (rc = pw__verify_diff_events(&v, PW_VERIFY_OPEN, ta, tb, pw_store_open_foreach)) != 0 ||
        (rc = pw__verify_diff_events(&v, PW_VERIFY_ALERT, ta, tb, pw_store_alert_foreach)) != 0)
        goto out;
    rc = pw__verify_diff_log(&v, ta, tb);
out:
    if (tb != ta)
        pw_store_abort(&tb);
    pw_store_abort(&ta);
    if (count_out)
        *count_out = v.count;
    return rc;
}
