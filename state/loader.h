/* SPDX-License-Identifier: MIT */
#ifndef PW_LOADER_H
#define PW_LOADER_H

#include "model.h"
#include "pw/catalog.h"
#include "store.h"

/**
 * Loads every reporter's current values from a store transaction (read-only is
 * enough) into a new model under cat (borrowed); values of ids cat does not
 * know are left out. 0, -ENOMEM or a store error. Caller owns *out; free with
 * pw_model_destroy().
 */
int pw_state_load_values(const pw_catalog_t *cat, pw_txn_t *txn, pw_model_t **out);

#endif
