/* SPDX-License-Identifier: MIT */
/* What the HTTP server's files (http.c, http_forms.c, http_stream.c) share and nothing else sees. */
#ifndef PW_WEB_HTTP_INTERNAL_H
#define PW_WEB_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>

#include "http.h"

#define BODY_MAX      (64 * 1024) /* a form is small; more is refused */
#define STREAM_EVERY  250         /* ms between two notices on one stream: 4 a second at most */
#define KEEPALIVE_MS  15000       /* a comment line keeps proxies from closing an idle stream */
#define COOKIE        "pw_session"
#define CSRF_HEX      32

/* A page's live part as rendered at a version: every browser showing that
 * page asks for it after each notice, and all of them get one rendering. */
typedef struct pw_http_cached {
    uint64_t version;
    char *buf; /* NULL: none yet */
    size_t len;
} pw_http_cached_t;

struct pw_http {
    struct MHD_Daemon *mhd;
    pw_http_cached_t cache[2]; /* the overview's and the status grid's; under the live lock */
    pw_http_config_t cfg;
    /* Readers (logins verifying argon2id, 50 ms each) run side by side; a
     * reload of the users file waits for them. */
    pthread_rwlock_t users_lock;
    pw_users_t *users;
    unsigned char csrf_key[crypto_generichash_KEYBYTES];
    uint16_t port;
    bool tls;
};

/* What one request carries between the calls libmicrohttpd makes for it. */
typedef struct req {
    char *body;
    size_t len;
    bool too_big;
} req_t;

/* Who a request comes from. */
typedef struct who {
    char name[PW_USER_MAX];
    pw_role_t role;
    char token[65];          /* "" for HTTP Basic */
    char csrf[CSRF_HEX + 1]; /* "" for HTTP Basic */
} who_t;

/* Queues a response of body (taken) with the headers every page gets; headers:
 * name, value pairs ending with NULL (may be NULL). */
enum MHD_Result pw__http_send(pw_http_t *self, struct MHD_Connection *c, unsigned status,
                              const char *type, char *body, size_t len,
                              const char *const *headers);

/* A small page saying what went wrong, with status. */
enum MHD_Result pw__http_msg(pw_http_t *self, struct MHD_Connection *c, unsigned status,
                             const char *title, const char *msg);

/* The login page with status (401 adds WWW-Authenticate), msg above the form. */
enum MHD_Result pw__http_login_page(pw_http_t *self, struct MHD_Connection *c, unsigned status,
                                    const char *msg, const char *next);

/* 303 to path to, setting cookie when not NULL. */
enum MHD_Result pw__http_redirect(pw_http_t *self, struct MHD_Connection *c, const char *to,
                                  const char *cookie);

/* The value of field name in a urlencoded form, decoded into out; false when absent or too long. */
bool pw__http_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen);

/* POST /login: a session and its cookie, or the login page again (http_forms.c). */
enum MHD_Result pw__http_login(pw_http_t *self, struct MHD_Connection *c, const req_t *rq);

/* POST /act: a follow-up action by w on an alert. */
enum MHD_Result pw__http_act(pw_http_t *self, struct MHD_Connection *c, const who_t *w,
                             const req_t *rq);

/* POST /silence (lift false) and /unsilence (lift true). */
enum MHD_Result pw__http_silence(pw_http_t *self, struct MHD_Connection *c, const who_t *w,
                                 const req_t *rq, bool lift);

/* GET /events: the Server-Sent Events stream of w (http_stream.c). */
enum MHD_Result pw__http_stream(pw_http_t *self, struct MHD_Connection *c, const who_t *w);

#endif
