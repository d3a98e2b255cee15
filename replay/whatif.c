/* SPDX-License-Identifier: MIT */
#include "whatif.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw/text.h"

int pw_whatif_push(pw_whatif_timeline_t *tl, const pw_event_t *ev)
{
    pw_whatif_transition_t *grown = pw__text_reserve(tl->t, tl->n, &tl->cap, sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    tl->t = grown;
    pw_whatif_transition_t *x = &tl->t[tl->n++];
    x->action = ev->action;
    memcpy(x->indicator, ev->indicator, sizeof(x->indicator));
    memcpy(x->series, ev->series, sizeof(x->series));
    x->period = ev->period;
    x->centi = ev->centi;
    x->time_ms = ev->time_ms;
    return 0;
}

static int add_stored(void *ctx, const pw_event_t *ev)
{
    return pw_whatif_push(ctx, ev);
}

int pw_whatif_stored(pw_whatif_timeline_t *self, pw_store_t *store)
{
    pw_txn_t *txn;
    int rc = pw_store_begin(store, false, &txn);
    if (rc == 0) {
        rc = pw_store_alert_foreach(txn, add_stored, self);
        pw_store_abort(&txn);
    }
    return rc;
}

static bool same_transition(const pw_whatif_transition_t *a, const pw_whatif_transition_t *b)
{
    return a->action == b->action && strcmp(a->indicator, b->indicator) == 0 &&
           strcmp(a->series, b->series) == 0 && pw_period_eq(a->period, b->period);
}

static void print_transition(char mark, const char *what, const pw_whatif_transition_t *t,
                             const pw_whatif_transition_t *other, bool json)
{
    const char *tag = mark == '=' ? "same" : mark == '+' ? "added" : "removed";
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(t->period, ptext);
    const char *action = t->action == PW_ALERT_OPEN ? "open" : "resolve";
    if (json) {
        printf("{\"whatif\":\"%s\",\"alert\":\"%s\",\"indicator\":\"%s\",\"series\":", tag,
               action, t->indicator);
        if (t->series[0])
            printf("\"%s\"", t->series);
        else
            fputs("null", stdout);
        printf(",\"period\":\"%s\",\"rate\":%.2f", ptext, (double)t->centi / 100.0);
        if (other)
            printf(",\"stored_rate\":%.2f", (double)other->centi / 100.0);
        puts("}");
        return;
    }
    printf("  %c %-7s %s%s%s %s rate %.2f", mark, action, t->indicator, t->series[0] ? "/" : "",
           t->series, ptext, (double)t->centi / 100.0);
    if (other && other->centi != t->centi)
        printf(" (stored %.2f)", (double)other->centi / 100.0);
    printf("   %s\n", what);
}

int pw_whatif_diff(const pw_whatif_timeline_t *stored, const pw_whatif_timeline_t *got, bool json,
                   const pw_catalog_t *cat)
{
    bool *used = calloc(stored->n + 1, sizeof(bool));
    if (!used)
        return -ENOMEM;
    size_t same = 0, added = 0, removed = 0;
    if (!json)
        printf("What-if: the alert timeline under alert_below %g, against the stored one\n",
               cat->alert_below);
    for (size_t i = 0; i < got->n; i++) {
        const pw_whatif_transition_t *match = NULL;
        for (size_t j = 0; j < stored->n && !match; j++)
            if (!used[j] && same_transition(&got->t[i], &stored->t[j])) {
                used[j] = true;
                match = &stored->t[j];
            }
        if (match) {
            same++;
            print_transition('=', "both", &got->t[i], match, json);
        } else {
            added++;
            print_transition('+', "only under the what-if", &got->t[i], NULL, json);
        }
    }
    for (size_t j = 0; j < stored->n; j++)
        if (!used[j]) {
            removed++;
            print_transition('-', "only in the stored timeline", &stored->t[j], NULL, json);
        }
    if (json)
        printf("{\"whatif_summary\":{\"same\":%zu,\"added\":%zu,\"removed\":%zu}}\n", same, added,
               removed);
    else
        printf("%zu alert changes the same, %zu only under the what-if, %zu only stored\n", same,
               added, removed);
    free(used);
    return 0;
}

void pw_whatif_clear(pw_whatif_timeline_t *self)
{
    free(self->t);
    memset(self, 0, sizeof(*self));
}
