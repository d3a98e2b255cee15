/* SPDX-License-Identifier: MIT */
#ifndef PW_HANDSHAKE_H
#define PW_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/log.h"

/*
 * Refused handshakes made visible. A CURVE handshake that fails leaves both
 * sides silent: the client retries forever and times out with "no answer",
 * the server sees nothing, unless someone listens to ZeroMQ's socket monitor.
 *
 * A watch is that listener for one socket. On a server it logs each refused
 * handshake with the peer's address and why, at most one line per address
 * and reason per PW_HANDSHAKE_LOG_MS (the next line counts those left out). Refusals by
 * the ZAP handler (an unknown key) are logged there, with the key: the watch
 * logs those the ZAP handler never sees, a client without CURVE (mechanism
 * mismatch), a hello the server cannot decrypt (the client has the wrong
 * server key), and, at info level, a client hanging up mid-handshake (which
 * is how a mechanism mismatch looks when the client notices it first). On a client it counts the failed handshakes, so that a
 * timeout can say that keys are the likely cause (pw_handshake_hint()).
 *
 * libzmq 4.3's monitor names only the listening endpoint in a failure event,
 * not the peer: the address comes from getpeername() on the descriptor of the
 * ACCEPTED event, paired with the failure by the DISCONNECTED event that
 * follows it. A connection closed before its ACCEPTED event is read has no
 * address left to read, and is logged as "an unknown address".
 */

#define PW_HANDSHAKE_LOG_MS 10000

typedef struct pw_handshake pw_handshake_t;

/**
 * Watches sock, which belongs to ctx (call before bind or connect). server:
 * log refusals as a server; else count them as a client. name says which
 * socket in the log ("intake", "stream"). 0 or -errno. Caller owns *out.
 */
int pw_handshake_watch(void *ctx, void *sock, bool server, const char *name,
                       pw_handshake_t **out);

/** The socket to poll for ZMQ_POLLIN, then call pw_handshake_read(). */
void *pw_handshake_socket(pw_handshake_t *self);

/** Reads the waiting events, logging (server) or counting (client). Never blocks. */
void pw_handshake_read(pw_handshake_t *self);

/** Handshakes that failed so far. */
uint64_t pw_handshake_failures(const pw_handshake_t *self);

/**
 * Client: when handshakes failed, writes why in words, e.g. "the handshake
 * failed 12 times (the server refused our key): check --keys" into buf and
 * returns true; false (buf "") when none failed. Reads waiting events first.
 */
bool pw_handshake_hint(pw_handshake_t *self, char *buf, size_t len);

/** Stops the watch, closes its socket, NULLs *self_p. NULL-safe. Call before closing the
 *  watched socket (it stops the socket's monitor). */
void pw_handshake_destroy(pw_handshake_t **self_p);

/*
 * At most one log line per peer address and reason per PW_HANDSHAKE_LOG_MS; the ZAP
 * handler keeps one too. Not thread-safe: one per thread that logs.
 */
#define PW_REFUSAL_PEERS 32

typedef struct pw_refusal_limit {
    struct {
        char addr[64];
        uint64_t why;      /**< a hash of the reason */
        int64_t last_ms;   /**< when a line for it was last written */
        uint64_t withheld; /**< refusals since, not logged */
    } peers[PW_REFUSAL_PEERS];
} pw_refusal_limit_t;

/**
 * Logs "WHAT: refused a handshake from ADDR: WHY" at level unless ADDR had a
 * line for the same WHY within PW_HANDSHAKE_LOG_MS; then the refusal is only
 * counted, and the next such line says how many were left out.
 */
void pw_refusal_log(pw_refusal_limit_t *self, pw_log_level_t level, const char *what,
                    const char *addr, const char *why);

#endif
