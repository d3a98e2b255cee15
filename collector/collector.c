/* SPDX-License-Identifier: MIT */
/*
 * The collector's connection and sending: --follow's watch, hello, frames of
 * spooled updates sent in a window, answers received, and the run loop. The
 * file is read and spooled in feed.c, answers handled in answers.c.
 */
#include "collector.h"
#include "collector_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "lmdb_util.h"
#include "pw/auth.h"
#include "pw/error.h"
#include "pw/handshake.h"
#include "pw/log.h"
#include "pw/util.h"
#include "spool.h"

/*
 * --follow: watches the data file's directory, so that a file written or
 * renamed into place is read at once rather than at the next check. The
 * check every WATCH_MS stays, for file systems inotify cannot see (NFS).
 */
static void watch_open(struct run *r)
{
    r->inotify = -1;
    const char *slash = strrchr(r->o->data, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == r->o->data ? 1 : (int)(slash - r->o->data),
                 r->o->data);
    r->base = slash ? slash + 1 : r->o->data;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    /* Closed after writing, or renamed into place; not created: half written. */
    if (fd < 0 || inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
        PW_WARN("cannot watch %s (%s): checking %s every %d ms", dir, strerror(errno),
                r->o->data, WATCH_MS);
        if (fd >= 0)
            close(fd);
        return;
    }
    r->inotify = fd;
}

/* Reads the waiting events; true if one names the data file. */
static bool watch_fired(struct run *r)
{
    bool hit = false;
    /* Aligned as inotify_event requires. */
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(r->inotify, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            /* An overflowed queue may have lost the one that mattered. */
            if ((ev->mask & IN_Q_OVERFLOW) || (ev->len && strcmp(ev->name, r->base) == 0))
                hit = true;
            p += sizeof(*ev) + ev->len;
        }
    }
    return hit;
}

static int send_frame(struct run *r, const void *frame, size_t len)
{
    /* DONTWAIT: with the aggregator gone the pipe fills; the update stays
     * spooled and is sent again after the next silence. */
    if (zmq_send(r->sock, frame, len, ZMQ_DONTWAIT) < 0)
        return zmq_errno() == EAGAIN ? PW_ETIMEOUT : -zmq_errno();
    r->last_send = pw_mono_ms();
    return 0;
}

static int send_msg(struct run *r, const pw_msg_t *m)
{
    int rc = pw_msg_encode(m, &r->buf);
    return rc != 0 ? rc : send_frame(r, r->buf.data, r->buf.len);
}

static int hello(struct run *r)
{
    pw_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = PW_MSG_HELLO;
    snprintf(m.district, sizeof(m.district), "%s", r->o->district);
    m.epoch = pw_spool_epoch(r->spool);
    m.spool_head = pw_spool_head(r->spool);
    m.frame_max = r->legacy ? 0 : PW_FRAME_UPDATES_MAX;
    r->last_hello = pw_mono_ms();
    int rc = send_msg(r, &m);
    return rc == PW_ETIMEOUT ? 0 : rc;
}

/* Sends the updates gathered for one frame. When it cannot go, they stay
 * spooled and r->next where it was: they go again with the next window. */
static int send_gathered(struct run *r)
{
    uint64_t n = r->nframe;
    if (n == 0)
        return 0;
    int rc = send_frame(r, r->frame.data, r->frame.len);
    r->frame.len = 0;
    r->nframe = 0;
    if (rc != 0)
        return rc;
    uint64_t last = r->next + n - 1;
    if (r->highest_sent >= r->next)
        r->res->resent += (last < r->highest_sent ? last : r->highest_sent) - r->next + 1;
    if (last > r->highest_sent)
        r->highest_sent = last;
    r->next = last + 1;
    return 0;
}

/* The spool holds each update as its wire message: sent as stored, up to
 * frame_max of them back to back in one frame. */
static int send_one(void *ctx, uint64_t seq, const void *msg, size_t len)
{
    struct run *r = ctx;
    int rc = 0;
    if (seq != r->next + r->nframe)
        return 0; /* answered meanwhile */
    if (r->nframe > 0 &&
        (r->nframe >= r->frame_max || r->frame.len + len > PW_FRAME_MAXSIZE) &&
        (rc = send_gathered(r)) != 0)
        return rc;
    if (pw_buf_append(&r->frame, msg, len) != 0)
        return -ENOMEM;
    r->nframe++;
    return 0;
}

/* Sends spooled updates while the window has room. */
static int fill_window(struct run *r)
{
    uint64_t acked = pw_spool_acked(r->spool), head = pw_spool_head(r->spool);
    if (r->next <= acked)
        r->next = acked + 1;
    uint64_t limit = acked + r->o->window;
    if (limit > head)
        limit = head;
    if (r->next > limit)
        return 0;
    int rc = pw_spool_read_frames(r->spool, r->next, (size_t)(limit - r->next + 1), send_one, r);
    if (rc == 0)
        rc = send_gathered(r);
    r->frame.len = 0;
    r->nframe = 0;
    return rc == PW_ETIMEOUT ? 0 : rc;
}


static int receive(struct run *r, int timeout_ms)
{
    zmq_pollitem_t items[] = {{r->sock, 0, ZMQ_POLLIN, 0}, {NULL, r->inotify, ZMQ_POLLIN, 0}};
    int n = zmq_poll(items, r->inotify >= 0 ? 2 : 1, timeout_ms);
    if (n < 0)
        return zmq_errno() == EINTR ? 0 : -zmq_errno();
    if (n > 0 && r->inotify >= 0 && (items[1].revents & ZMQ_POLLIN) && watch_fired(r))
        r->last_watch = 0; /* read it now */
    int rc = 0;
    while (rc == 0) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, r->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        pw_msg_t m;
        if (pw_msg_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &m) == 0)
            rc = pw__col_on_answer(r, &m);
        zmq_msg_close(&msg);
    }
    int rrc = pw__col_record_rejections(r);
    return rc != 0 ? rc : rrc;
}

static int loop(struct run *r, volatile sig_atomic_t *stop)
{
    int rc = pw__col_load_file(r);
    int64_t start = pw_mono_ms();
    r->last_answer = start;
    r->last_progress = start;
    r->last_silence_log = start;
    uint64_t progress_mark = pw_spool_acked(r->spool);
    while (rc == 0 && !(stop && *stop)) {
        int64_t now = pw_mono_ms();
        if ((r->o->follow || r->unspooled) && now - r->last_watch >= WATCH_MS) {
            r->last_watch = now;
            if ((rc = pw__col_load_file(r)) != 0)
                break;
        }
        if (pw__col_spooling(r) && (rc = pw__col_spool_more(r)) != 0)
            break;
        uint64_t pending = pw_spool_pending(r->spool);
        if (!r->o->follow && pending == 0 && !r->unspooled && !pw__col_spooling(r))
            break; /* one-shot: all spooled and all answered */
        if (!r->welcomed) {
            if (now - r->last_hello >= HELLO_MS && (rc = hello(r)) != 0)
                break;
        } else if (now - r->last_answer >= r->o->resend_ms && pending > 0 &&
                   now - r->last_send >= r->o->resend_ms) {
            /* Silence with updates in flight: they may be lost with a dead
             * connection. Say hello again to resync, then resend. */
            r->welcomed = false;
            r->next = pw_spool_acked(r->spool) + 1;
            rc = hello(r);
        } else if (pending == 0 && now - r->last_send >= HELLO_MS) {
            rc = hello(r); /* keep-alive while idle: the aggregator sees us connected */
        }
        if (rc == 0 && r->welcomed && pw_mono_ms() >= r->refused_until)
            rc = fill_window(r);
        /* No wait while there is more to spool and room to spool it. */
        if (rc == 0)
            rc = receive(r, pw__col_spooling(r) && !pw__col_disk_waiting(r) ? 0 : 50);
        /* Giving up and complaining go by progress, not by answers: an
         * aggregator that answers "full, retry" again and again is no better
         * than a silent one. */
        if (pw_spool_acked(r->spool) != progress_mark || pw_spool_pending(r->spool) == 0) {
            progress_mark = pw_spool_acked(r->spool);
            r->last_progress = pw_mono_ms();
        }
        int64_t stuck = pw_mono_ms() - r->last_progress;
        if (rc == 0 && pending > 0 && !r->o->follow && stuck >= r->o->timeout_ms)
            rc = r->refused ? PW_ESTOREFULL : PW_ETIMEOUT;
        /* One-shot: a spool that stays full is given up like a silent
         * aggregator; what it could not take is still in the file. */
        if (rc == 0 && !r->o->follow && r->disk_since &&
            pw_mono_ms() - r->disk_since >= r->o->timeout_ms) {
            PW_ERROR("no space left on spool %s's file system for %d s: giving up; run again "
                     "when there is room",
                     r->o->spool_dir, r->o->timeout_ms / 1000);
            rc = -ENOSPC;
        }
        if (rc == 0 && pending > 0 && r->o->follow && stuck >= SILENCE_LOGMS &&
            pw_mono_ms() - r->last_silence_log >= SILENCE_LOGMS) {
            r->last_silence_log = pw_mono_ms();
            char hint[192];
            bool keys = pw_handshake_hint(r->hs, hint, sizeof(hint));
            PW_WARN("%s for %lld s: %llu updates kept in the spool%s%s",
                    r->refused ? "the aggregator refuses updates (store full)" : "no progress",
                    (long long)(stuck / 1000), (unsigned long long)pending, keys ? "; " : "",
                    hint);
        }
    }
    return rc;
}

int pw_collector_run(const pw_collector_opts_t *opts, pw_collector_reject_fn on_reject,
                     void *ctx, pw_collector_result_t *res, volatile sig_atomic_t *stop)
{
    memset(res, 0, sizeof(*res));
    pw_collector_opts_t o = *opts;
    if (!o.window)
        o.window = 4096;
    if (o.timeout_ms <= 0)
        o.timeout_ms = 30000;
    if (o.resend_ms <= 0)
        o.resend_ms = 2000;
    struct run r = {.o = &o, .res = res, .on_reject = on_reject, .ctx = ctx, .inotify = -1,
                    .resending = o.resend};
    void *zctx = NULL;
    bool existed = pw__mdb_env_exists(o.spool_dir);
    int rc = pw_spool_open(&r.spool, o.spool_dir, o.district, o.spool_max);
    if (rc != 0 && pw__mdb_nospace(rc) && !existed) {
        PW_ERROR("cannot create spool in %s: no space left on device", o.spool_dir);
        return rc;
    }
    if (rc != 0) {
        PW_ERROR("cannot open spool %s: %s", o.spool_dir,
                 rc == PW_EINCOMPAT      ? "it belongs to another district"
                 : pw__mdb_nospace(rc) ? "no space left on its file system"
                                       : pw_strerror(rc));
        return rc;
    }
    r.run_acked0 = pw_spool_acked(r.spool);
    zctx = zmq_ctx_new();
    r.sock = zctx ? zmq_socket(zctx, ZMQ_DEALER) : NULL;
    if (!r.sock) {
        rc = -zmq_errno();
        goto out;
    }
    /* No ZMTP heartbeats: see the aggregator's note on libzmq issue #4364.
     * The hello keep-alive and the resync after a silence do their job. */
    int linger = 0, hwm = 100000;
    zmq_setsockopt(r.sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(r.sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(r.sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if ((rc = pw_curve_client_setup(r.sock, o.connect, o.keys_dir, "districts", o.district,
                                    "aggregator", o.insecure)) != 0)
        goto out;
    if ((rc = pw_handshake_watch(zctx, r.sock, false, "intake", &r.hs)) != 0)
        goto out;
    if (zmq_connect(r.sock, o.connect) != 0) {
        rc = -zmq_errno();
        PW_ERROR("zmq_connect(%s) failed: %s", o.connect, pw_strerror(rc));
        goto out;
    }
    if (o.follow)
        watch_open(&r);
    rc = loop(&r, stop);
out:
    if (r.spool) {
        pw_spool_flush(r.spool);
        res->answered = r.answered0 + (size_t)(pw_spool_acked(r.spool) - r.run_acked0);
        res->stored = res->answered - res->rejected;
        res->pending = pw_spool_pending(r.spool);
    }
    pw_handshake_hint(r.hs, res->handshake, sizeof(res->handshake));
    pw_handshake_destroy(&r.hs);
    if (r.sock)
        zmq_close(r.sock);
    if (zctx)
        zmq_ctx_term(zctx);
    pw_spool_destroy(&r.spool);
    pw_datafile_destroy(&r.df);
    pw_buf_free(&r.buf);
    pw_buf_free(&r.frame);
    free(r.rej);
    if (r.inotify >= 0)
        close(r.inotify);
    return rc;
}
