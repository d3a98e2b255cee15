/* SPDX-License-Identifier: MIT */
/* Comparing two stores' logs, record by record, a chunk at a time. */
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

struct log_row {
    uint64_t seq;
    pw_msg_t rec;
};

static int collect_log(void *ctx, uint64_t seq, const pw_msg_t *rec)
{
    struct log_row *r = pw__verify_vec_push(ctx);
    if (!r)
        return -ENOMEM;
    r->seq = seq;
    r->rec = *rec;
    return 0;
}

static bool same_record(const pw_msg_t *a, const pw_msg_t *b)
{
    return strcmp(a->district, b->district) == 0 && a->epoch == b->epoch && a->seq == b->seq &&
           strcmp(a->element, b->element) == 0 && pw_period_eq(a->period, b->period) &&
           a->value == b->value && a->observed_ms == b->observed_ms &&
           a->received_ms == b->received_ms && a->kind == b->kind;
}

static void record_text(const pw_msg_t *m, char *buf, size_t len)
{
    static const char *const kinds[] = {"new", "revision", "same"};
    char ptext[PW_PERIOD_STRMAX], val[NUMMAX];
    pw_period_format(m->period, ptext);
    pw__verify_fmt_num(m->value, val);
    snprintf(buf, len,
             "%s/%s/%s = %s, epoch %" PRIu64 " seq %" PRIu64 ", t %" PRId64 ", rt %" PRId64 ", %s",
             m->district, m->element, ptext, val, m->epoch, m->seq, m->observed_ms, m->received_ms,
             (unsigned)m->kind <= PW_RECORD_SAME ? kinds[m->kind] : "?");
}

/* Compares the logs chunk by chunk, pairing records by log sequence. */
int pw__verify_diff_log(struct verify *v, pw_txn_t *ta, pw_txn_t *tb)
{
    uint64_t ha, hb;
    int rc = pw_store_log_head(ta, &ha);
    if (rc == 0)
        rc = pw_store_log_head(tb, &hb);
    if (rc != 0)
        return rc;
    char *text_a = malloc(TEXTMAX), *text_b = malloc(TEXTMAX);
    if (!text_a || !text_b)
        rc = -ENOMEM;
    if (rc == 0 && ha != hb) {
        snprintf(text_a, TEXTMAX, "%" PRIu64 " records", ha);
        snprintf(text_b, TEXTMAX, "%" PRIu64 " records", hb);
        rc = pw__verify_report(v, PW_VERIFY_LOG, "", text_a, text_b);
    }
    struct vec A = {.elem = sizeof(struct log_row)}, B = {.elem = sizeof(struct log_row)};
    uint64_t head = ha > hb ? ha : hb;
    for (uint64_t from = 1; rc == 0 && from <= head;) {
        uint64_t to = head - from >= LOG_CHUNK ? from + LOG_CHUNK - 1 : head;
        A.n = B.n = 0;
        if ((rc = pw_store_log_foreach(ta, from, to, collect_log, &A)) != 0 ||
            (rc = pw_store_log_foreach(tb, from, to, collect_log, &B)) != 0)
            break;
        size_t i = 0, j = 0;
        while (rc == 0 && (i < A.n || j < B.n)) {
            const struct log_row *x = pw__verify_vec_at(&A, i), *y = pw__verify_vec_at(&B, j);
            /* Only A's record (x), only B's (y), or the pair at one sequence. */
            if (x && y && x->seq != y->seq) {
                if (x->seq < y->seq)
                    y = NULL;
                else
                    x = NULL;
            }
            char key[32];
            if (x && y) {
                if (!same_record(&x->rec, &y->rec)) {
                    snprintf(key, sizeof(key), "#%" PRIu64, x->seq);
                    record_text(&x->rec, text_a, TEXTMAX);
                    record_text(&y->rec, text_b, TEXTMAX);
                    rc = pw__verify_report(v, PW_VERIFY_LOG, key, text_a, text_b);
                }
                i++;
                j++;
            } else if (x) {
                snprintf(key, sizeof(key), "#%" PRIu64, x->seq);
                record_text(&x->rec, text_a, TEXTMAX);
                rc = pw__verify_report(v, PW_VERIFY_LOG, key, text_a, NULL);
                i++;
            } else if (y) {
                snprintf(key, sizeof(key), "#%" PRIu64, y->seq);
                record_text(&y->rec, text_b, TEXTMAX);
                rc = pw__verify_report(v, PW_VERIFY_LOG, key, NULL, text_b);
                j++;
            }
        }
        if (to == UINT64_MAX)
            break;
        from = to + 1;
    }
    pw__verify_vec_free(&A);
    pw__verify_vec_free(&B);
    free(text_a);
    free(text_b);
    return rc;
}
