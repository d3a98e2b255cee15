/* SPDX-License-Identifier: MIT */
#ifndef PW_CLIENT_H
#define PW_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "pw/bureau.h"
#include "pw/catalog.h"
#include "pw/event.h"

/*
 * A bureau client of the publisher (the Clone pattern): it subscribes first,
 * then asks for a snapshot, drops live events the snapshot already holds, and
 * delivers every later event exactly once and in order, fetching any gap
 * (a slow joiner, a dropped message, a restarted publisher) from the stored
 * log through range requests.
 */

typedef struct pw_client pw_client_t;

/** Receives each event in sequence; a non-zero return stops delivery and is returned. */
typedef int (*pw_client_fn)(void *ctx, const pw_event_t *ev);

/** How a client proves itself to the publisher. */
typedef struct pw_client_auth {
    const char *keys_dir; /**< CURVE: DIR/desks/DESK.secret and DIR/publisher.pub; NULL = none */
    const char *desk;     /**< the desk key's name; NULL = "bureau" */
    bool insecure;        /**< allow TCP without CURVE */
    /** When not NULL: a request that times out after failed handshakes writes
     *  why there ("the handshake failed 3 times (...): check --keys"), so a
     *  program can say that keys are the likely cause; else it is left as is. */
    char *why;
    size_t why_len;
} pw_client_auth_t;

/**
 * Connects to the publisher's PUB endpoint pub and its snapshot endpoint snap
 * (NULL = derived as pw_snapshot_endpoint() does), secured as auth
 * says (NULL = no keys: ipc:// only). 0, -EINVAL, -EPERM, PW_EKEY or -errno.
 * Caller owns *out.
 */
int pw_client_new(const char *pub, const char *snap, const pw_client_auth_t *auth,
                  pw_client_t **out);

/** Closes and NULLs. NULL-safe. */
void pw_client_destroy(pw_client_t **self_p);

/**
 * Fetches a snapshot into *out (cleared first; free with pw_reply_clear) and
 * makes its sequence the starting point of delivery. 0 or PW_ETIMEOUT.
 */
int pw_client_snapshot(pw_client_t *self, int timeout_ms, pw_reply_t *out);

/** Waits up to timeout_ms for events and delivers them in order. 0 or an error. */
int pw_client_poll(pw_client_t *self, int timeout_ms, pw_client_fn fn, void *ctx);

/**
 * Delivers every event the publisher's store holds now that was not delivered
 * yet: what the subscription already received, then the rest by range requests.
 * 0, PW_ETIMEOUT or an error.
 */
int pw_client_catch_up(pw_client_t *self, int timeout_ms, pw_client_fn fn, void *ctx);

/**
 * Sends any request (status, alerts, district...) and waits for its reply
 * into *out (cleared first; free with pw_reply_clear). Delivery of live
 * events is not affected. 0, PW_ETIMEOUT or an error.
 */
int pw_client_request(pw_client_t *self, const pw_request_t *req, int timeout_ms,
                      pw_reply_t *out);

/** The last event sequence delivered (or reflected by the snapshot). */
uint64_t pw_client_seq(const pw_client_t *self);

/** The head sequence announced by the publisher's latest heartbeat or reply. */
uint64_t pw_client_head(const pw_client_t *self);

/**
 * The plan to read a publisher's figures with: the one its store records
 * (asked with a "plan" request over a connection of its own), which path
 * (NULL = none) must then be; for a store that records none, path (NULL =
 * the default catalog). Errors printed as "planwatch cmd: ...". Caller owns *out.
 */
int pw_client_catalog(const char *cmd, const char *pub, const char *snap,
                             const pw_client_auth_t *auth, const char *path, int timeout_ms,
                             pw_catalog_t **out);

#endif
