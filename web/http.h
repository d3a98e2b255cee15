/* SPDX-License-Identifier: MIT */
#ifndef PW_WEB_HTTP_H
#define PW_WEB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "live.h"
#include "users.h"

/*
 * The dashboard's HTTP(S) server (libmicrohttpd, a thread per connection so
 * that a Server-Sent Events stream may wait for changes). Nothing is served
 * without a login: a request without a live session (cookie pw_session) or
 * valid HTTP Basic credentials gets 401 and the login page. Forms carry a
 * token derived from the session (CSRF), and the cookie is SameSite=Strict.
 */

typedef struct pw_http pw_http_t;

typedef struct pw_http_config {
    const char *host;     /**< numeric IPv4 or IPv6 address to bind */
    uint16_t port;        /**< 0 = any free port (pw_http_port() says which) */
    const char *tls_cert; /**< PEM text of the certificate chain; NULL = plain HTTP */
    const char *tls_key;  /**< PEM text of its key */
    pw_live_t *live;      /**< borrowed */
    pw_sessions_t *sessions; /**< borrowed */
    int max_streams;      /**< SSE streams at once (beyond: 503) */
} pw_http_config_t;

/** Starts serving; users (owned from now on) may be replaced with pw_http_set_users(). */
int pw_http_start(const pw_http_config_t *cfg, pw_users_t *users, pw_http_t **out, char *err,
                  size_t errlen);

/** Replaces the users (owned from now on) and ends the sessions of those removed or changed. */
void pw_http_set_users(pw_http_t *self, pw_users_t *users);

/** The port bound. */
uint16_t pw_http_port(const pw_http_t *self);

/** Stops serving (call pw_live_stop() first so streams end) and NULLs. NULL-safe. */
void pw_http_stop(pw_http_t **self_p);

#endif
