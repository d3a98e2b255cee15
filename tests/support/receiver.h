/* SPDX-License-Identifier: MIT */
#ifndef PW_TEST_RECEIVER_H
#define PW_TEST_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A tiny HTTP server for the notifier's tests: one thread, plain POSIX
 * sockets, bound to 127.0.0.1 on an ephemeral port. It reads each request
 * (headers, then a Content-Length body), records it, and answers with the
 * next scripted reply or the default one. It can close its port and open it
 * again (an outage), or accept requests and never answer (a hung receiver).
 */

typedef struct pw_test_receiver pw_test_receiver_t;

/** Starts a receiver answering 200 with body "{}". 0 or -errno. Caller owns *out. */
int pw_test_receiver_start(pw_test_receiver_t **out);

/** Stops the thread, closes everything and NULLs. NULL-safe. */
void pw_test_receiver_destroy(pw_test_receiver_t **self_p);

/** The port it listens on (kept across pw_test_receiver_close/reopen). */
uint16_t pw_test_receiver_port(const pw_test_receiver_t *self);

/** The reply when nothing is scripted: status and body (copied). */
void pw_test_receiver_set_default(pw_test_receiver_t *self, int status, const char *body);

/** The next n requests get this status and body instead of the default. */
void pw_test_receiver_script(pw_test_receiver_t *self, size_t n, int status, const char *body);

/** Accepts and reads requests but never answers them (until false again or destroy). */
void pw_test_receiver_hang(pw_test_receiver_t *self, bool hang);

/** Closes the listening port: connections are refused. Returns once it is closed. */
void pw_test_receiver_close(pw_test_receiver_t *self);

/** Listens on the same port again. 0 or -errno. */
int pw_test_receiver_reopen(pw_test_receiver_t *self);

/** Requests read so far (answered or not). */
size_t pw_test_receiver_requests(pw_test_receiver_t *self);

/** Requests answered with a 2xx status so far. */
size_t pw_test_receiver_accepted(pw_test_receiver_t *self);

/**
 * A copy of request i's body (NUL-terminated; free() it), or NULL when there
 * is no such request. With head_out, also a copy of its request line and
 * headers.
 */
char *pw_test_receiver_body(pw_test_receiver_t *self, size_t i, char **head_out);

/** Waits until at least n requests were answered 2xx; false after timeout_ms. */
bool pw_test_receiver_wait_accepted(pw_test_receiver_t *self, size_t n, int timeout_ms);

/** Waits until at least n requests were read; false after timeout_ms. */
bool pw_test_receiver_wait_requests(pw_test_receiver_t *self, size_t n, int timeout_ms);

#endif
