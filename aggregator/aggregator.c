/* SPDX-License-Identifier: MIT */
#include "aggregator.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "aggregator_internal.h"
#include "batch.h"
#include "lmdb_util.h"
#include "metrics.h"
#include "pw/auth.h"
#include "pw/endpoint.h"
#include "pw/error.h"
#include "pw/handshake.h"
#include "pw/log.h"
#include "pw/msg.h"
#include "pw/prom.h"
#include "pw/util.h"
#include "store.h"

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof(v)) == 0 ? 0 : -zmq_errno();
}

/* Reads the keyring of district keys and maps each key to its district. On
 * error the current keyring is kept. */
static int load_ring(pw_aggregator_t *self)
{
    char dir[4096], err[512] = "";
    snprintf(dir, sizeof(dir), "%s/districts", self->opts.keys_dir);
    pw_keyring_t *ring = NULL;
    int rc = pw_keyring_load(dir, &ring, err, sizeof(err));
    if (rc != 0) {
        PW_ERROR("district keys: %s", err[0] ? err : pw_strerror(rc));
        return rc;
    }
    size_t n = pw_keyring_size(ring);
    int *map = calloc(n ? n : 1, sizeof(*map));
    if (!map) {
        pw_keyring_destroy(&ring);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = pw_keyring_key(ring, i)->name;
        map[i] = pw_catalog_district(self->cat, name, strlen(name));
        if (map[i] < 0) {
            PW_ERROR("district keys: %s/%s.pub: '%s' is not a district of the catalog", dir,
                     name, name);
            free(map);
            pw_keyring_destroy(&ring);
            return PW_EKEY;
        }
    }
    size_t removed = 0;
    for (size_t i = 0; i < pw_keyring_size(self->ring); i++)
        if (!pw_keyring_find(ring, pw_keyring_key(self->ring, i)->public_z85))
            removed++;
    PW_INFO("CURVE: %zu district keys accepted%s", n,
            self->ring && removed ? " (some revoked or rotated: their connections are refused)" : "");
    pw_keyring_destroy(&self->ring);
    free(self->ring_district);
    self->ring = ring;
    self->ring_district = map;
    return 0;
}

/* CURVE with our ZAP handler when there are keys; otherwise only ipc://
 * endpoints, or TCP with a loud --insecure. */
static int secure(pw_aggregator_t *self)
{
    if (!self->opts.keys_dir) {
        for (size_t i = 0; i < self->opts.nbinds; i++) {
            int rc = pw_transport_check(self->opts.binds[i], NULL, self->opts.insecure);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    pw_key_t key;
    char err[512] = "";
    int rc = pw_key_load_secret(self->opts.keys_dir, "aggregator", &key, err, sizeof(err));
    if (rc != 0) {
        PW_ERROR("aggregator key: %s", err);
        return rc;
    }
    /* The handler first: a CURVE socket without one would let any key in. */
    if ((rc = pw_zap_new(self->ctx, &self->zap)) != 0) {
        PW_ERROR("refusing to start: cannot bind the ZAP handler: %s", pw_strerror(rc));
    } else if ((rc = load_ring(self)) == 0) {
        rc = pw_curve_server(self->router, &key);
    }
    pw_secure_zero(&key, sizeof(key));
    return rc;
}

static int bind_all(pw_aggregator_t *self)
{
    int64_t maxsize = PW_FRAME_MAXSIZE;
    zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    set_int(self->router, ZMQ_ROUTER_MANDATORY, 1);
    set_int(self->router, ZMQ_LINGER, 500);
    /* No ZMTP heartbeats, here or in collectors: libzmq 4.3.4 aborts the
     * process ("!_io_error", stream_engine_base.cpp; libzmq issue #4364) when
     * a connection whose input is stopped drops and a heartbeat is then sent
     * or answered, and our tests hit it. Liveness is ours instead: collectors
     * say hello every second when idle and resync after 2 s of silence; the
     * aggregator counts a collector gone after 5 s without a word. A
     * high-water mark far above a collector's window (64 frames of 64
     * updates by default; 1 024 frames from a collector that sends one
     * update a frame) also keeps an honest collector's input from ever
     * stopping. Per connection, it bounds what one waits in memory to
     * 16 384 frames of at most PW_FRAME_MAXSIZE. */
    set_int(self->router, ZMQ_RCVHWM, 16384);
    /* Every reply is sent without waiting: room for a full window of nacks
     * per collector, or some would be dropped at the default 1000. */
    set_int(self->router, ZMQ_SNDHWM, 100000);
    set_int(self->notify, ZMQ_LINGER, 0);
    int rc = secure(self);
    if (rc != 0)
        return rc;
    if ((rc = pw_handshake_watch(self->ctx, self->router, true, "intake", &self->hs)) != 0) {
        PW_ERROR("cannot watch the intake's handshakes: %s", pw_strerror(rc));
        return rc;
    }
    size_t off = 0;
    for (size_t i = 0; i < self->opts.nbinds; i++) {
        if (zmq_bind(self->router, self->opts.binds[i]) != 0) {
            rc = -zmq_errno();
            PW_ERROR("zmq_bind(%s) failed: %s", self->opts.binds[i], pw_strerror(rc));
            return rc;
        }
        char ep[256];
        size_t eplen = sizeof(ep);
        zmq_getsockopt(self->router, ZMQ_LAST_ENDPOINT, ep, &eplen);
        off += (size_t)snprintf(self->endpoints + off, sizeof(self->endpoints) - off, "%s%s",
                                off ? " " : "", ep);
    }
    char def[512];
    const char *notify = self->opts.notify;
    if (!notify) {
        pw_notify_endpoint(self->opts.store_dir, def, sizeof(def));
        notify = def;
    }
    if (zmq_bind(self->notify, notify) != 0) {
        rc = -zmq_errno();
        PW_ERROR("zmq_bind(%s) failed: %s", notify, pw_strerror(rc));
        return rc;
    }
    return 0;
}

/* Says why the store cannot be opened, in the words an operator needs. */
static void open_failed(const char *dir, bool existed, int rc)
{
    char text[4200];
    if (rc == -EBUSY) {
        pw_store_busy_text(dir, text, sizeof(text));
        PW_ERROR("%s", text);
    } else if (pw__mdb_nospace(rc) && !existed) {
        PW_ERROR("cannot create store in %s: no space left on device", dir);
    } else if (pw__mdb_nospace(rc)) {
        PW_ERROR("cannot open store %s: no space left on its file system", dir);
    } else {
        PW_ERROR("cannot open store %s: %s", dir, pw_strerror(rc));
    }
}

int pw_aggregator_new(const pw_aggregator_opts_t *opts, pw_aggregator_t **out)
{
    *out = NULL;
    int rc;
    pw_aggregator_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->opts = *opts;
    self->cat = opts->catalog;
    self->batch_max = opts->batch_max ? opts->batch_max : PW_AGG_BATCH_DEFAULT;
    self->items = calloc(self->batch_max, sizeof(*self->items));
    /* The decoded messages are megabytes (16 384 of 384 bytes), filled as
     * batches grow: in huge pages, that is a few page faults instead of
     * 1 500, at 13 us each on the VMs we run on, for at most 2 MiB more
     * resident than the batches ever used. */
    self->msgs = pw_big_calloc(self->batch_max + PW_AGG_FRAME_ROOM, sizeof(*self->msgs),
                               &self->msgs_len);
    if (opts->metrics_path)
        self->metrics = pw_agg_metrics_new(self->cat);
    if (!self->items || !self->msgs || (opts->metrics_path && !self->metrics)) {
        rc = -ENOMEM;
        goto fail;
    }
    /* The store first: its writer's lock keeps a second aggregator from
     * going any further, before it could take over the notify socket. */
    pw_store_opts_t sopts = {.readonly = false, .map_size = opts->map_size};
    bool existed = pw__mdb_env_exists(opts->store_dir);
    if ((rc = pw_store_open(&self->store, opts->store_dir, &sopts)) != 0) {
        open_failed(opts->store_dir, existed, rc);
        goto fail;
    }
    pw_batch_opts_t bopts = {.catalog = self->cat,
                             .store = self->store,
                             .max = self->batch_max + PW_AGG_FRAME_ROOM,
                             .map_max = opts->map_max};
    if ((rc = pw_batch_new(&bopts, &self->batch)) != 0) {
        PW_ERROR("cannot restore state from %s: %s", opts->store_dir, pw_strerror(rc));
        goto fail;
    }
    self->ctx = zmq_ctx_new();
    self->router = self->ctx ? zmq_socket(self->ctx, ZMQ_ROUTER) : NULL;
    self->notify = self->ctx ? zmq_socket(self->ctx, ZMQ_PUB) : NULL;
    if (!self->router || !self->notify) {
        rc = -zmq_errno();
        goto fail;
    }
    if ((rc = bind_all(self)) != 0)
        goto fail;
    *out = self;
    return 0;
fail:
    pw_aggregator_destroy(&self);
    return rc;
}


const char *pw_aggregator_endpoints(const pw_aggregator_t *self)
{
    return self->endpoints;
}

void pw_aggregator_destroy(pw_aggregator_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_aggregator_t *self = *self_p;
    pw_handshake_destroy(&self->hs); /* stops the monitor: before the socket goes */
    if (self->router)
        zmq_close(self->router);
    if (self->notify)
        zmq_close(self->notify);
    pw_zap_destroy(&self->zap);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    pw_batch_destroy(&self->batch);
    pw_store_destroy(&self->store);
    pw_buf_free(&self->out);
    pw_agg_metrics_destroy(&self->metrics);
    free(self->items);
    pw_big_free(self->msgs, self->msgs_len);
    pw_keyring_destroy(&self->ring);
    free(self->ring_district);
    free(self);
    *self_p = NULL;
}

/* Writes --metrics every few seconds (force: now, at exit). */
static void write_metrics(pw_aggregator_t *self, bool force)
{
    if (!self->metrics || (!force && pw_mono_ms() < self->next_metrics))
        return;
    self->next_metrics = pw_mono_ms() + PW_METRICS_INTERVAL_MS;
    for (size_t d = 0; d < self->cat->ndistricts; d++) {
        const pw_batch_district_t *st = pw_batch_district(self->batch, d);
        pw_agg_metrics_district(self->metrics, d, st->connected, st->seen_ms,
                                st->spool_head > st->last_seq ? st->spool_head - st->last_seq : 0,
                                st->last_seq);
    }
    pw_agg_metrics_handshakes(self->metrics, pw_zap_accepted(self->zap), pw_zap_refused(self->zap));
    int rc = pw_agg_metrics_write(self->metrics, self->opts.metrics_path, self->opts.store_dir,
                                  pw_store_map_size(self->store), pw_batch_head(self->batch));
    /* Once per cause: a full disk would otherwise say so every few seconds. */
    if (rc != 0 && rc != self->metrics_rc)
        PW_WARN("cannot write metrics to %s: %s", self->opts.metrics_path, pw_strerror(rc));
    self->metrics_rc = rc;
}

/* Waits up to 200 ms for frames, serving the handshakes meanwhile. The
 * number of sockets ready, or -1 with zmq_errno(). */
static int wait_frames(pw_aggregator_t *self)
{
    zmq_pollitem_t items[] = {{self->router, 0, ZMQ_POLLIN, 0},
                              {pw_handshake_socket(self->hs), 0, ZMQ_POLLIN, 0},
                              {self->zap ? pw_zap_socket(self->zap) : NULL, 0, ZMQ_POLLIN, 0}};
    int n = zmq_poll(items, self->zap ? 3 : 2, 200);
    int err = zmq_errno();
    pw_batch_check_silence(self->batch);
    write_metrics(self, false);
    if (n > 0 && (items[1].revents & ZMQ_POLLIN))
        pw_handshake_read(self->hs);
    if (n > 0 && self->zap && (items[2].revents & ZMQ_POLLIN))
        pw_zap_serve(self->zap, self->ring);
    errno = err;
    return n;
}

static void log_totals(const pw_aggregator_t *self)
{
    const pw_batch_counts_t *n = pw_batch_counts(self->batch);
    PW_INFO("stopping: %llu updates stored, %llu duplicates, %llu rejected (%llu for another "
            "district), %llu handshakes refused, in %llu batches",
            (unsigned long long)n->stored, (unsigned long long)n->dup,
            (unsigned long long)(n->rejected + self->n_bad_frames),
            (unsigned long long)n->forbidden, (unsigned long long)pw_zap_refused(self->zap),
            (unsigned long long)n->batches);
}

int pw_aggregator_run(pw_aggregator_t *self, volatile sig_atomic_t *stop)
{
    PW_INFO("ready intake=%s events=%llu", self->endpoints,
            (unsigned long long)pw_batch_head(self->batch));
    int rc = 0;
    while (!*stop) {
        if (self->opts.reload && *self->opts.reload) {
            *self->opts.reload = 0;
            if (self->ring && load_ring(self) != 0)
                PW_ERROR("keys not reloaded: the previous district keys stay in force");
        }
        int n = wait_frames(self);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            rc = -zmq_errno();
            break;
        }
        if (n == 0)
            continue;
        if ((rc = pw__intake_receive(self)) != 0)
            break;
        if (self->nitems == 0)
            continue;
        rc = pw__intake_process(self);
        pw__intake_release(self);
        if (rc != 0)
            break;
    }
    write_metrics(self, true);
    log_totals(self);
    return rc;
}
