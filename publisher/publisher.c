/* SPDX-License-Identifier: MIT */
/*
 * The publisher's lifecycle: sockets, keys and their reloading, the store
 * opened once the aggregator has made it, metrics, and the run loop. What
 * goes out is in pub_stream.c, what is asked in pub_answer.c.
 */
#include "publisher.h"
#include "pub_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "loader.h"
#include "model.h"
#include "pub_metrics.h"
#include "pw/auth.h"
#include "pw/bureau.h"
#include "pw/endpoint.h"
#include "pw/error.h"
#include "pw/handshake.h"
#include "pw/log.h"
#include "pw/prom.h"
#include "pw/util.h"
#include "store.h"

/* Reads the desk keys. On error the current ones stay in force. *removed:
 * keys of the current ring that are gone. */
static int load_ring(pw_publisher_t *self, size_t *removed)
{
    char dir[4096], err[512] = "";
    snprintf(dir, sizeof(dir), "%s/desks", self->opts.keys_dir);
    pw_keyring_t *ring = NULL;
    int rc = pw_keyring_load(dir, &ring, err, sizeof(err));
    if (rc != 0) {
        PW_ERROR("desk keys: %s", err[0] ? err : pw_strerror(rc));
        return rc;
    }
    *removed = 0;
    for (size_t i = 0; i < pw_keyring_size(self->ring); i++)
        if (!pw_keyring_find(ring, pw_keyring_key(self->ring, i)->public_z85))
            (*removed)++;
    PW_INFO("CURVE: %zu desk keys accepted", pw_keyring_size(ring));
    pw_keyring_destroy(&self->ring);
    self->ring = ring;
    return 0;
}

/* Options every stream socket gets, the first time and when opened again. */
static int setup_pub(pw_publisher_t *self, void *sock)
{
    int zero = 0, hwm = 100000;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    /* A subscriber that falls this far behind loses events and refills the
     * gap from the stored log: the publisher itself never blocks. */
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    /* What a subscriber sends are subscriptions, a few bytes; the bound also
     * covers the CURVE handshake's commands, a few hundred bytes. */
    int64_t maxsize = PW_MSG_MAXSIZE;
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    int rc = self->metrics ? pw_pub_metrics_watch(self->metrics, sock) : 0;
    return rc == 0 && self->zap ? pw_curve_server(sock, &self->key) : rc;
}

/*
 * A removed desk key must stop receiving too, but a PUB socket cannot drop
 * one subscriber: open the stream again, so that every subscriber shakes
 * hands anew and the revoked one is refused. Monitors refill the moment's
 * gap from the stored log, as after any reconnect.
 */
static int reopen_pub(pw_publisher_t *self)
{
    void *sock = zmq_socket(self->ctx, ZMQ_PUB);
    if (!sock)
        return -zmq_errno();
    zmq_close(self->pub);
    self->pub = NULL;
    int rc = setup_pub(self, sock);
    /* The old listener goes away asynchronously: retry the bind briefly. */
    for (int i = 0; rc == 0 && zmq_bind(sock, self->pub_ep) != 0; i++) {
        if (zmq_errno() != EADDRINUSE || i == 100) {
            rc = -zmq_errno();
            break;
        }
        zmq_poll(NULL, 0, 10);
    }
    if (rc != 0) {
        zmq_close(sock);
        return rc;
    }
    self->pub = sock;
    return 0;
}

static void reload(pw_publisher_t *self)
{
    size_t removed = 0;
    if (load_ring(self, &removed) != 0) {
        PW_ERROR("keys not reloaded: the previous desk keys stay in force");
        return;
    }
    if (removed == 0)
        return;
    int rc = reopen_pub(self);
    if (rc != 0)
        PW_ERROR("cannot open the stream %s again: %s", self->pub_ep, pw_strerror(rc));
    else
        PW_INFO("%zu desk keys revoked: stream opened again, subscribers re-authenticated",
                removed);
}

/* CURVE with our ZAP handler when there are keys; otherwise ipc:// only, or
 * TCP with a loud --insecure. */
static int secure(pw_publisher_t *self, const char *snap_ep)
{
    if (!self->opts.keys_dir) {
        int rc = pw_transport_check(self->opts.bind, NULL, self->opts.insecure);
        return rc ? rc : pw_transport_check(snap_ep, NULL, self->opts.insecure);
    }
    char err[512] = "";
    size_t removed;
    int rc = pw_key_load_secret(self->opts.keys_dir, "publisher", &self->key, err, sizeof(err));
    if (rc != 0) {
        PW_ERROR("publisher key: %s", err);
        return rc;
    }
    /* The handler first: a CURVE socket without one would let any key in. */
    if ((rc = pw_zap_new(self->ctx, &self->zap)) != 0) {
        PW_ERROR("refusing to start: cannot bind the ZAP handler: %s", pw_strerror(rc));
        return rc;
    }
    if ((rc = load_ring(self, &removed)) != 0)
        return rc;
    return pw_curve_server(self->router, &self->key);
}

static int bind_one(void *sock, const char *ep, char *out, size_t *off, size_t cap)
{
    if (zmq_bind(sock, ep) != 0) {
        int rc = -zmq_errno();
        PW_ERROR("zmq_bind(%s) failed: %s", ep, pw_strerror(rc));
        return rc;
    }
    char last[256];
    size_t n = sizeof(last);
    zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, last, &n);
    *off += (size_t)snprintf(out + *off, cap - *off, "%s%s", *off ? " " : "", last);
    return 0;
}

int pw_publisher_new(const pw_publisher_opts_t *opts, pw_publisher_t **out)
{
    *out = NULL;
    int rc;
    pw_publisher_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->opts = *opts;
    if (self->opts.heartbeat_ms <= 0)
        self->opts.heartbeat_ms = 1000;
    char snap[512], notify[512];
    const char *snap_ep = opts->snapshot_bind;
    if (!snap_ep) {
        if ((rc = pw_snapshot_endpoint(opts->bind, snap, sizeof(snap))) != 0) {
            PW_ERROR("cannot derive a snapshot endpoint from %s: give --snapshot-bind",
                     opts->bind);
            goto fail;
        }
        snap_ep = snap;
    }
    const char *notify_ep = opts->notify;
    if (!notify_ep) {
        pw_notify_endpoint(opts->store_dir, notify, sizeof(notify));
        notify_ep = notify;
    }
    self->ctx = zmq_ctx_new();
    if (!self->ctx) {
        rc = -zmq_errno();
        goto fail;
    }
    self->pub = zmq_socket(self->ctx, ZMQ_PUB);
    self->router = zmq_socket(self->ctx, ZMQ_ROUTER);
    self->notify = zmq_socket(self->ctx, ZMQ_SUB);
    if (!self->pub || !self->router || !self->notify) {
        rc = -zmq_errno();
        goto fail;
    }
    if (opts->metrics_path && (rc = pw_pub_metrics_new(self->ctx, &self->metrics)) != 0)
        goto fail;
    int zero = 0;
    zmq_setsockopt(self->router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(self->notify, ZMQ_LINGER, &zero, sizeof(zero));
    if ((rc = secure(self, snap_ep)) != 0 || (rc = setup_pub(self, self->pub)) != 0)
        goto fail;
    int64_t maxsize = PW_MSG_MAXSIZE;
    zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    zmq_setsockopt(self->notify, ZMQ_SUBSCRIBE, "", 0);
    if ((rc = pw_handshake_watch(self->ctx, self->router, true, "snapshot", &self->hs)) != 0) {
        PW_ERROR("cannot watch the snapshot endpoint's handshakes: %s", pw_strerror(rc));
        goto fail;
    }
    size_t off = 0;
    if ((rc = bind_one(self->pub, opts->bind, self->endpoints, &off, sizeof(self->endpoints))) ||
        (rc = bind_one(self->router, snap_ep, self->endpoints, &off, sizeof(self->endpoints))))
        goto fail;
    size_t eplen = sizeof(self->pub_ep);
    zmq_getsockopt(self->pub, ZMQ_LAST_ENDPOINT, self->pub_ep, &eplen);
    if (zmq_connect(self->notify, notify_ep) != 0) {
        rc = -zmq_errno();
        PW_ERROR("zmq_connect(%s) failed: %s", notify_ep, pw_strerror(rc));
        goto fail;
    }
    *out = self;
    return 0;
fail:
    pw_publisher_destroy(&self);
    return rc;
}

void pw_publisher_destroy(pw_publisher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_publisher_t *self = *self_p;
    pw_pub_metrics_destroy(&self->metrics); /* its monitor watches pub */
    pw_handshake_destroy(&self->hs);        /* its monitor watches router */
    if (self->pub)
        zmq_close(self->pub);
    if (self->router)
        zmq_close(self->router);
    if (self->notify)
        zmq_close(self->notify);
    pw_zap_destroy(&self->zap);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    pw_keyring_destroy(&self->ring);
    pw_secure_zero(&self->key, sizeof(self->key));
    pw_model_destroy(&self->model);
    pw_store_destroy(&self->store);
    pw_buf_free(&self->buf);
    pw_reply_clear(&self->reply);
    pw_reply_clear(&self->batch);
    pw_catalog_destroy(&self->plan);
    free(self);
    *self_p = NULL;
}

/* Opens the store once the aggregator has created it. */
int pw__pub_ensure_store(pw_publisher_t *self)
{
    if (self->store)
        return 0;
    pw_store_opts_t o = {.readonly = true};
    int rc = pw_store_open(&self->store, self->opts.store_dir, &o);
    if (rc != 0) {
        if (!self->store_warned)
            PW_WARN("store %s not readable yet (%s): waiting for the aggregator",
                    self->opts.store_dir, pw_strerror(rc));
        self->store_warned = true;
        return rc;
    }
    pw_txn_t *txn;
    if ((rc = pw_store_begin(self->store, false, &txn)) != 0)
        return rc;
    /* Start from the head: earlier events are in every snapshot already. */
    rc = pw_store_event_head(txn, &self->last);
    pw_store_abort(&txn);
    PW_INFO("following store %s from event %llu", self->opts.store_dir,
            (unsigned long long)self->last);
    return rc;
}

/* Writes --metrics every few seconds (force: now, at exit). */
static void write_metrics(pw_publisher_t *self, bool force)
{
    if (!self->metrics)
        return;
    pw_pub_metrics_poll(self->metrics);
    if (!force && pw_mono_ms() < self->next_metrics)
        return;
    self->next_metrics = pw_mono_ms() + PW_METRICS_INTERVAL_MS;
    int rc = pw_pub_metrics_write(self->metrics, self->opts.metrics_path, self->last);
    if (rc != 0)
        PW_WARN("cannot write metrics to %s: %s", self->opts.metrics_path, pw_strerror(rc));
}

int pw_publisher_run(pw_publisher_t *self, volatile sig_atomic_t *stop)
{
    pw__pub_ensure_store(self);
    PW_INFO("ready pub=%s", self->endpoints);
    self->next_hb = pw_mono_ms();
    int rc = 0;
    while (!*stop) {
        if (self->opts.reload && *self->opts.reload) {
            *self->opts.reload = 0;
            if (self->zap)
                reload(self);
        }
        zmq_pollitem_t items[] = {{self->notify, 0, ZMQ_POLLIN, 0},
                                  {self->router, 0, ZMQ_POLLIN, 0},
                                  {pw_handshake_socket(self->hs), 0, ZMQ_POLLIN, 0},
                                  {self->zap ? pw_zap_socket(self->zap) : NULL, 0, ZMQ_POLLIN, 0}};
        int wait = 100;
        if (self->batch.nevents) {
            int64_t due = self->last_flush + BATCH_MS - pw_mono_ms();
            wait = due < 0 ? 0 : due < wait ? (int)due : wait;
        }
        int n = zmq_poll(items, self->zap ? 4 : 3, wait);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            rc = -zmq_errno();
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            char head[8];
            while (zmq_recv(self->notify, head, sizeof(head), ZMQ_DONTWAIT) >= 0)
                ;
        }
        /* Publishing on every wake-up and every 100 ms also covers a missed
         * notification, such as one sent before this process started. */
        if ((rc = pw__pub_publish_new(self)) != 0) {
            PW_ERROR("reading events failed: %s", pw_strerror(rc));
            break;
        }
        if (items[2].revents & ZMQ_POLLIN)
            pw_handshake_read(self->hs);
        if (self->zap && (items[3].revents & ZMQ_POLLIN))
            pw_zap_serve(self->zap, self->ring);
        if (items[1].revents & ZMQ_POLLIN)
            pw__pub_serve_requests(self);
        write_metrics(self, false);
        if (pw_mono_ms() >= self->next_hb) {
            pw__pub_heartbeat(self);
            self->next_hb = pw_mono_ms() + self->opts.heartbeat_ms;
        }
    }
    if (rc == 0)
        pw__pub_flush_rates(self); /* what was read goes out before we go */
    write_metrics(self, true);
    PW_INFO("stopping at event %llu", (unsigned long long)self->last);
    return rc;
}
