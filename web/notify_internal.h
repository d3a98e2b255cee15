/* SPDX-License-Identifier: MIT */
#ifndef PW_WEB_NOTIFY_INTERNAL_H
#define PW_WEB_NOTIFY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notify.h"

/*
 * Private pieces of the notifier, shared by notify.c (the object and its
 * sender thread), routes.c (the routes file), outbox.c (the LMDB outbox),
 * render.c (message text and JSON) and send.c (the transports). Tests include
 * this header to reach the parser and the renderers directly.
 */

#define PW__NOTIFY_RCV_MAX    64 /**< receivers in one routes file (a route holds them as bits) */
#define PW__NOTIFY_TARGET_MAX 1024

typedef enum pw__rcv_type {
    PW__RCV_WECOM = 1, /**< WeCom group robot: POST {"msgtype":"markdown"...} */
    PW__RCV_JSON,      /**< generic webhook: POST the decision as JSON */
    PW__RCV_EMAIL,     /**< e-mail through `sendmail -t -oi` */
} pw__rcv_type_t;

/** Events a route listens to, as bits. */
enum {
    PW__EV_OPEN = 1u << 0,
    PW__EV_RESOLVE = 1u << 1,
    PW__EV_UPDATE = 1u << 2,
    PW__EV_ESCALATE = 1u << 3,
};
#define PW__EV_DEFAULT (PW__EV_OPEN | PW__EV_RESOLVE | PW__EV_ESCALATE)

typedef struct pw__receiver {
    char name[PW_ID_MAX];
    pw__rcv_type_t type;
    char target[PW__NOTIFY_TARGET_MAX]; /**< URL, or the e-mail address */
} pw__receiver_t;

typedef struct pw__route {
    char category[PW_ID_MAX];  /**< "" = any */
    char indicator[PW_ID_MAX]; /**< "" = any */
    char district[PW_ID_MAX];  /**< "" = any */
    unsigned events;           /**< PW__EV_* bits */
    uint64_t receivers;        /**< bit i = receiver i of the file */
} pw__route_t;

typedef struct pw__routes {
    pw__receiver_t *rcv;
    size_t nrcv, caprcv;
    pw__route_t *routes;
    size_t nroutes, caproutes;
    char sendmail[PW__NOTIFY_TARGET_MAX]; /**< the MTA program, default /usr/sbin/sendmail */
    char from[256];                       /**< From: of the mails, default planwatch@localhost */
    long timeout_s;                       /**< per attempt, default 10 */
} pw__routes_t;

/* routes.c */

/** Parses the routes file path. 0, -EINVAL ("path:line: what" in err) or -errno. Caller owns *out.
 */
int pw__routes_parse(const char *path, pw__routes_t **out, char *err, size_t errlen);

/** Frees a routes table and NULLs; NULL-safe. */
void pw__routes_destroy(pw__routes_t **self_p);

/** The receivers (bit i = receiver i) that any route gives the item. */
uint64_t pw__routes_receivers(const pw__routes_t *self, const pw_notice_item_t *item);

/** The PW__EV_* bit of an item: escalate, or its alert action. */
unsigned pw__item_event(const pw_notice_item_t *item);

/** Receiver type from its name ("wecom", "json", "email"); 0 when unknown. */
pw__rcv_type_t pw__rcv_type_parse(const char *name);

/* render.c: a growing string buffer and the messages. */

typedef struct pw__sbuf {
    char *p;
    size_t len, cap;
    int rc; /**< first failure (-ENOMEM); appends after one are no-ops */
} pw__sbuf_t;

/** Appends n bytes (kept NUL-terminated). Records -ENOMEM in self->rc. */
void pw__sbuf_add(pw__sbuf_t *self, const char *s, size_t n);

/** Appends printf-style text. */
void pw__sbuf_printf(pw__sbuf_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Appends s as a quoted JSON string: escapes ", \ and control characters; UTF-8 passes. */
void pw__sbuf_json_str(pw__sbuf_t *self, const char *s);

/** Frees the buffer and zeroes it. */
void pw__sbuf_free(pw__sbuf_t *self);

/**
 * Renders the message of one receiver: items[0..n) are the decision's items
 * routed to it. body_out gets the HTTP body (wecom, json) or the whole mail
 * with its headers (email); ctype_out its content type. 0 or -ENOMEM; the
 * caller frees both buffers with pw__sbuf_free() either way.
 */
int pw__render(const pw__routes_t *routes, const pw__receiver_t *rcv, const pw_notice_t *notice,
               const pw_notice_item_t *const *items, size_t n, const char *dashboard_url,
               pw__sbuf_t *body_out, pw__sbuf_t *ctype_out);

/** Appends text as RFC 2047 encoded words (=?UTF-8?B?...?=), folded to fit header lines. */
void pw__render_rfc2047(pw__sbuf_t *out, const char *text);

/* outbox.c */

typedef struct pw__outbox pw__outbox_t;

typedef enum pw__msg_state {
    PW__MSG_PENDING = 1,
    PW__MSG_SENT = 2,
} pw__msg_state_t;

/** One message of the outbox, as the sender takes it. */
typedef struct pw__msg {
    char *key; /**< decision id, NUL, receiver name */
    size_t keylen;
    pw__rcv_type_t type;
    char *target; /**< URL or e-mail address (NUL-terminated) */
    char *ctype;  /**< content type (NUL-terminated) */
    char *body;   /**< NUL-terminated; bodylen bytes */
    size_t bodylen;
    uint32_t attempts;
    int64_t next_ms; /**< wall clock, unix ms: when to try (again) */
    int64_t done_ms; /**< when it was sent (0 while pending) */
    pw__msg_state_t state;
} pw__msg_t;

/**
 * Opens (creating) the outbox in dir, takes its writer lock and prunes the
 * messages sent more than keep_ms before now_ms. 0, -EBUSY (another notifier
 * has it), -errno or an LMDB code of pw__mdb_rc(). *pending_out = messages
 * pending. Caller owns *out.
 */
int pw__outbox_open(const char *dir, int64_t now_ms, int64_t keep_ms, pw__outbox_t **out,
                    uint64_t *pending_out);

/** Closes the outbox and NULLs; NULL-safe. */
void pw__outbox_destroy(pw__outbox_t **self_p);

/** Forgets the messages sent more than keep_ms before now_ms, as the open does. 0 or an error. */
int pw__outbox_prune(pw__outbox_t *self, int64_t now_ms, int64_t keep_ms);

/**
 * Adds the pending messages msgs[0..n) in one transaction; a key already in
 * the outbox is left as it is and counted in *existing_out. 0 or an LMDB code.
 */
int pw__outbox_add(pw__outbox_t *self, const pw__msg_t *msgs, size_t n, size_t *existing_out);

/**
 * Copies the (up to) max pending messages due at now_ms that are due
 * earliest into out, earliest first (free each with pw__msg_free()); *n_out
 * how many, *next_ms_out the earliest next_ms of the pending ones not taken
 * (INT64_MAX: none). 0, -ENOMEM or an LMDB code.
 */
int pw__outbox_due(pw__outbox_t *self, int64_t now_ms, pw__msg_t *out, size_t max, size_t *n_out,
                   int64_t *next_ms_out);

/** Writes back the state, attempts, next_ms and done_ms of msg. 0 or an LMDB code. */
int pw__outbox_update(pw__outbox_t *self, const pw__msg_t *msg);

/** Frees what a pw__msg_t of pw__outbox_due() holds and zeroes it. */
void pw__msg_free(pw__msg_t *msg);

/* send.c */

/**
 * POSTs body to url with content type ctype within timeout_ms. For WeCom
 * (wecom true) the reply must also say "errcode":0. *stop, when it becomes
 * true, aborts the transfer. 0 on success, -EIO/-ETIMEDOUT/-ECANCELED with the
 * why in err.
 */
int pw__send_http(const char *url, const char *ctype, const char *body, size_t len, bool wecom,
                  long timeout_ms, const atomic_bool *stop, char *err, size_t errlen);

/**
 * Runs `sendmail -t -oi` (no shell) with the mail on its stdin; success is
 * exit status 0 within timeout_ms, else the program is killed. 0 or -EIO,
 * -ETIMEDOUT, -ECANCELED, -errno with the why in err.
 */
int pw__send_mail(const char *sendmail, const char *mail, size_t len, long timeout_ms,
                  const atomic_bool *stop, char *err, size_t errlen);

/** curl_global_init(), once per process. 0 or -EIO. */
int pw__send_global_init(void);

#endif
