/* SPDX-License-Identifier: MIT */
#ifndef PW_AGG_RESTORE_H
#define PW_AGG_RESTORE_H

#include <stdint.h>

#include "model.h"
#include "pw/catalog.h"
#include "pw/event.h"
#include "store.h"

/*
 * The model kept in step with the store: rebuilt from it at start-up and
 * after a failed commit, and every event it emits written into the open
 * transaction. No sockets.
 */

/**
 * Writes ev, as the model emitted it, into txn (which numbers it) and logs
 * an alert that opens or resolves. 0 or the store's code (PW_ESTORE,
 * PW_ESTOREFULL, -errno).
 */
int pw__restore_persist_event(pw_txn_t *txn, pw_event_t *ev);

/**
 * Replaces *model_p with a model of cat rebuilt from the store (current
 * values, then the rows and alerts as last published), records cat's plan
 * when the store records another, and commits what a flush then emits
 * (nothing, unless the plan changed). *head_out gets the last event
 * sequence. 0, -ENOMEM, PW_ESTORE, PW_ESTOREFULL or -errno; *model_p may be
 * NULL after a failure. Caller owns *model_p.
 */
int pw__restore_model(pw_store_t *store, const pw_catalog_t *cat, pw_model_t **model_p,
                      uint64_t *head_out);

#endif
