/* SPDX-License-Identifier: MIT */
#include "collector.h"

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

#define HELLO_MS      1000  /* hello while not welcomed, and as keep-alive when idle */
#define WATCH_MS      500   /* how often a followed file is checked without inotify */
#define SILENCE_LOGMS 10000 /* follow mode: remind how long the aggregator is silent */
/* Observations spooled per turn of the loop: sending starts after the first
 * slice of a large file instead of after all of it, so the aggregator works
 * while the rest is spooled. Slices double up to the last size, as each is a
 * synced commit: the first answers quickly, the next ones cost few syncs. */
#define SPOOL_SLICE_FIRST 1024
#define SPOOL_SLICE_MAX   16384
#define DISK_RETRY_MS     1000  /* the spool's file system is full: try again this often */
#define DISK_LOGMS        60000 /* and remind that it is, this often */
#define REFUSED_RETRY_MS  1000  /* the aggregator cannot take updates now: resend after this */

struct file_sig {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct run {
    const pw_collector_opts_t *o;
    pw_collector_result_t *res;
    pw_collector_reject_fn on_reject;
    void *ctx;
    pw_spool_t *spool;
    void *sock;
    pw_handshake_t *hs;    /* the socket's failed handshakes: keys, when no answer comes */
    pw_datafile_t *df;     /* the file as last read, for line numbers */
    size_t spool_pos;      /* df->obs before this are spooled (or were unchanged) */
    size_t slice;          /* observations spooled by the next spool_more() */
    size_t file_added;     /* updates spooled from df so far */
    bool resending;        /* --resend: the file is not spooled completely yet */
    size_t resend_pos;     /* df->obs from here on are resent, before only if changed */
    pw_spool_rejection_t *rej; /* rejections answered, not yet recorded in the spool */
    size_t nrej, caprej;
    struct file_sig sig;
    bool loaded;           /* the file has been read at least once */
    bool unspooled;        /* the spool was full: part of the file still waits */
    bool welcomed;
    uint64_t next;         /* next sequence to send */
    uint64_t highest_sent;
    uint64_t run_acked0;   /* answered before this run (or before the spool restarted) */
    uint64_t answered0;    /* answered in this run before the spool restarted */
    int64_t last_hello, last_answer, last_send, last_watch, last_silence_log;
    int64_t last_progress; /* when the answered sequence last moved */
    bool full_warned;
    bool refused;          /* the last answer was a retryable refusal */
    int64_t refused_until; /* and nothing is sent again before then */
    bool legacy;           /* the aggregator predates several updates per frame */
    uint32_t frame_max;    /* updates per frame, as the welcome said */
    pw_buf_t buf;
    pw_buf_t frame;        /* updates waiting to go as one frame */
    uint32_t nframe;       /* how many: r->next to r->next + nframe - 1 */
    int inotify;           /* --follow: the data file's directory, watched; -1 if not */
    const char *base;      /* the data file's name in that directory */
    int64_t disk_since;    /* when spooling found its file system full; 0 while it has room */
    int64_t disk_retry;    /* when to try to spool again */
    int64_t disk_logged;   /* when the full file system was last logged; 0: not yet */
};

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

static bool selected(const pw_collector_opts_t *o, pw_period_t p)
{
    if (o->nperiods == 0)
        return true;
    for (size_t k = 0; k < o->nperiods; k++)
        if (pw_period_eq(o->periods[k], p))
            return true;
    return false;
}

static bool file_changed(struct run *r, struct file_sig *now)
{
    struct stat st;
    if (stat(r->o->data, &st) != 0)
        return false;
    now->dev = st.st_dev;
    now->ino = st.st_ino;
    now->size = st.st_size;
    now->mtime = st.st_mtim;
    return !r->loaded || memcmp(now, &r->sig, sizeof(*now)) != 0;
}

/*
 * A spool commit failed for want of room on its file system. Nothing of the
 * failed transaction is kept, and everything before it is: the collector
 * says where it is stuck (at once, then once a minute) and tries again.
 */
static void spool_disk_full(struct run *r, int rc, const char *what)
{
    int64_t now = pw_mono_ms();
    if (r->disk_logged && now - r->disk_logged < DISK_LOGMS)
        return;
    r->disk_logged = now;
    PW_WARN("no space left on spool %s's file system (%s): %s; trying again every %d s, "
            "nothing is lost",
            r->o->spool_dir, pw_strerror(rc), what, DISK_RETRY_MS / 1000);
}

/* Spooling worked again after the file system was full. */
static void spool_disk_room(struct run *r)
{
    if (!r->disk_since)
        return;
    PW_INFO("room again on spool %s's file system after %lld s", r->o->spool_dir,
            (long long)((pw_mono_ms() - r->disk_since) / 1000));
    r->disk_since = 0;
    r->disk_logged = 0;
}

/* True while spooling waits for room on the spool's file system. */
static bool disk_waiting(const struct run *r)
{
    return r->disk_since && pw_mono_ms() < r->disk_retry;
}

/* Records answers up to seq. A spool that has no room to record them keeps
 * them in memory and records them with a later answer or at exit: lost in a
 * crash, they only cost a resend, which the aggregator absorbs. */
static int spool_ack(struct run *r, uint64_t seq)
{
    int rc = pw_spool_ack(r->spool, seq);
    if (pw__mdb_nospace(rc)) {
        spool_disk_full(r, rc, "answers are recorded later");
        return 0;
    }
    return rc;
}

static void still_rejected(void *ctx, const pw_obs_t *o, const pw_spool_rejection_t *rej)
{
    struct run *r = ctx;
    pw_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = PW_MSG_UPDATE;
    snprintf(m.element, sizeof(m.element), "%s", o->element);
    m.period = o->period;
    m.value = o->value;
    if (r->on_reject)
        r->on_reject(r->ctx, &m, o->line ? o->line : rej->line, rej->reason, rej->text, true);
}

/* Once the file is spooled: the lines an earlier run had rejected and that
 * still hold the rejected value are reported again, as that run did, so a
 * rerun does not pass over a typo in silence. */
static int report_still_rejected(struct run *r)
{
    size_t found = 0;
    int rc = pw_spool_rejected(r->spool, r->df->obs, r->df->n, still_rejected, r, &found);
    r->res->still_rejected += found;
    return rc;
}

/* Spools the next slice of the file as last read: what is new or changed,
 * a transaction per chunk. 0, or a spool error. */
static int spool_more(struct run *r)
{
    if (!r->df || r->spool_pos >= r->df->n || disk_waiting(r))
        return 0;
    size_t n = r->df->n - r->spool_pos, added = 0;
    if (n > r->slice)
        n = r->slice;
    if (r->slice < SPOOL_SLICE_MAX)
        r->slice *= 2;
    /* --resend on a spool that filled up: what was resent already is only
     * spooled again if it changed meanwhile. */
    bool resend = r->resending && r->spool_pos >= r->resend_pos;
    if (r->resending && !resend && n > r->resend_pos - r->spool_pos)
        n = r->resend_pos - r->spool_pos;
    int rc = (resend ? pw_spool_resend : pw_spool_add)(r->spool, r->df->obs + r->spool_pos, n,
                                                       pw_now_ms(), &added);
    r->res->spooled += added;
    r->file_added += added;
    if ((rc == PW_ESTOREFULL || pw__mdb_nospace(rc)) && resend)
        r->resend_pos = r->spool_pos + added; /* resending spools every one */
    if (pw__mdb_nospace(rc)) {
        /* The chunks before the one that failed are spooled: the same
         * comparison skips them when the slice is tried again. */
        if (!r->disk_since)
            r->disk_since = pw_mono_ms();
        r->disk_retry = pw_mono_ms() + DISK_RETRY_MS;
        char what[512];
        snprintf(what, sizeof(what), "the rest of %s waits in the file", r->o->data);
        spool_disk_full(r, rc, what);
        return 0;
    }
    if (rc == 0 || rc == PW_ESTOREFULL)
        spool_disk_room(r);
    if (rc == PW_ESTOREFULL) {
        /* Nothing is dropped: what did not fit stays in the file and is
         * spooled, by the same comparison, once answers make room. */
        if (!r->full_warned)
            PW_ERROR("spool %s is full (%llu updates waiting, --spool-max): the rest of %s "
                     "is spooled as the aggregator takes updates",
                     r->o->spool_dir, (unsigned long long)pw_spool_pending(r->spool),
                     r->o->data);
        r->full_warned = true;
        r->unspooled = true;
        r->spool_pos = r->df->n; /* the file is read again when there is room */
        return 0;
    }
    if (rc != 0)
        return rc;
    r->spool_pos += n;
    if (r->spool_pos < r->df->n)
        return 0;
    if (r->file_added)
        PW_INFO("%zu updates spooled from %s%s", r->file_added, r->o->data,
                r->resending ? " (--resend: all of them)" : "");
    if (r->full_warned)
        PW_INFO("spool has room again: %s is spooled completely", r->o->data);
    r->full_warned = false;
    r->unspooled = false;
    r->resending = false;
    return report_still_rejected(r);
}

/* True while part of the file as last read is still to be spooled. */
static bool spooling(const struct run *r)
{
    return r->df && r->spool_pos < r->df->n;
}

/* A file whose title names another office is most likely that office's
 * file, picked by mistake: its figures would overwrite this district's. It
 * is only a warning, as a title is free text, but a loud one. */
static void warn_other_district(const struct run *r)
{
    int line;
    const pw_district_t *other;
    pw_datafile_names_other(r->o->data, r->o->catalog, r->o->district, &line, &other);
    if (other)
        PW_WARN("%s:%d: the file's title names %s (%s, %s), not %s: is it the right file? Its "
                "figures are sent as %s's",
                r->o->data, line, other->id, other->name_zh, other->name_en, r->o->district,
                r->o->district);
}

/* Reads the file when it changed (or was not spooled completely) and starts
 * spooling what is new or changed in it. */
static int load_file(struct run *r)
{
    struct file_sig sig;
    memset(&sig, 0, sizeof(sig));
    bool changed = file_changed(r, &sig);
    if (r->loaded && !changed && !r->unspooled)
        return 0;
    char err[512] = "";
    pw_datafile_t *df = NULL;
    int rc = pw_datafile_load(r->o->data, r->o->catalog, &df, err, sizeof(err));
    if (rc != 0) {
        PW_ERROR("%s", err[0] ? err : pw_strerror(rc));
        if (r->o->follow) {
            r->sig = sig; /* read it again when it changes */
            r->loaded = true;
        }
        return r->o->follow ? 0 : PW_EDATA;
    }
    if (r->o->catalog)
        warn_other_district(r);
    size_t n = 0;
    for (size_t i = 0; i < df->n; i++)
        if (selected(r->o, df->obs[i].period))
            df->obs[n++] = df->obs[i];
    df->n = n;
    pw_datafile_destroy(&r->df);
    r->df = df;
    r->spool_pos = 0;
    r->slice = SPOOL_SLICE_FIRST;
    r->file_added = 0;
    r->sig = sig;
    r->loaded = true;
    return spool_more(r);
}

static int line_of(const struct run *r, const pw_msg_t *m)
{
    for (size_t i = 0; r->df && i < r->df->n; i++)
        if (pw_period_eq(r->df->obs[i].period, m->period) &&
            strcmp(r->df->obs[i].element, m->element) == 0)
            return r->df->obs[i].line;
    return 0;
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

struct reject_ctx {
    struct run *r;
    int reason;
    const char *text;
};

/* Keeps a rejection to record in the spool after this batch of answers:
 * one transaction for them all. */
static int keep_rejection(struct run *r, const pw_msg_t *m, int line, int reason,
                          const char *text)
{
    pw_spool_rejection_t *grown = r->rej;
    if (r->nrej == r->caprej) {
        size_t cap = r->caprej ? r->caprej * 2 : 16;
        if (!(grown = realloc(r->rej, cap * sizeof(*grown))))
            return -ENOMEM;
        r->rej = grown;
        r->caprej = cap;
    }
    pw_spool_rejection_t *k = &r->rej[r->nrej++];
    memset(k, 0, sizeof(*k));
    k->period = m->period;
    snprintf(k->element, sizeof(k->element), "%s", m->element);
    k->value = m->value;
    k->reason = reason;
    k->line = line;
    snprintf(k->text, sizeof(k->text), "%s", text);
    return 0;
}

static int record_rejections(struct run *r)
{
    int rc = pw_spool_reject(r->spool, r->rej, r->nrej);
    r->nrej = 0;
    return rc;
}

static int report_reject(void *ctx, const pw_msg_t *m)
{
    struct reject_ctx *rc = ctx;
    int line = line_of(rc->r, m);
    rc->r->res->rejected++;
    if (rc->r->on_reject)
        rc->r->on_reject(rc->r->ctx, m, line, rc->reason, rc->text, false);
    return keep_rejection(rc->r, m, line, rc->reason, rc->text) == 0 ? 1 : -ENOMEM;
}

/*
 * The aggregator lost updates it had acknowledged (its store was replaced or
 * restored from a backup). They are gone from the spool, and its last-value
 * table no longer says what the aggregator holds: start over as a new
 * instance and spool the whole file again.
 */
static int start_over(struct run *r, uint64_t has, uint64_t acked)
{
    PW_WARN("aggregator has only up to %llu of ours, %llu were answered: its store was "
            "replaced or restored; sending all of %s again as a new instance",
            (unsigned long long)has, (unsigned long long)acked, r->o->data);
    r->answered0 += (size_t)(acked - r->run_acked0);
    int rc = pw_spool_restart(r->spool);
    if (rc != 0)
        return rc;
    r->run_acked0 = 0;
    r->welcomed = false;
    r->last_hello = 0;
    r->next = 1;
    r->highest_sent = 0;
    r->loaded = false; /* read and spooled again, all of it, now */
    r->last_watch = 0;
    r->unspooled = true;
    return 0;
}

static int on_answer(struct run *r, const pw_msg_t *m)
{
    if (m->type == PW_MSG_NACK && m->epoch == 0 && m->reason == PW_EMALFORMED && !r->welcomed &&
        !r->legacy) {
        /* Our hello's b is what an older aggregator cannot read: say hello
         * without it, now, and send one update per frame. */
        PW_INFO("the aggregator takes one update per frame (an older version)");
        r->legacy = true;
        r->last_hello = 0;
        return 0;
    }
    if (m->epoch != pw_spool_epoch(r->spool))
        return 0; /* meant for an earlier instance of this district */
    uint64_t acked = pw_spool_acked(r->spool), head = pw_spool_head(r->spool);
    switch (m->type) {
    case PW_MSG_WELCOME:
        if (m->seq < acked)
            return start_over(r, m->seq, acked);
        if (!r->welcomed)
            PW_INFO("connected to %s: %llu committed, %llu waiting", r->o->connect,
                    (unsigned long long)m->seq, (unsigned long long)(head - m->seq));
        r->welcomed = true;
        r->frame_max = m->frame_max == 0                    ? 1
                       : m->frame_max > PW_FRAME_UPDATES_MAX ? PW_FRAME_UPDATES_MAX
                                                             : m->frame_max;
        r->last_answer = pw_mono_ms();
        r->next = (m->seq > acked ? m->seq : acked) + 1;
        return spool_ack(r, m->seq);
    case PW_MSG_ACK:
        r->last_answer = pw_mono_ms();
        r->refused = false;
        return spool_ack(r, m->seq);
    case PW_MSG_NACK:
        r->last_answer = pw_mono_ms();
        if (m->reason == PW_EGAP) {
            /* Something was lost in flight: go back to what it has. */
            r->next = m->seq + 1;
            return spool_ack(r, m->seq);
        }
        if (m->reason == PW_ESTOREFULL || m->reason == -EBUSY) {
            /* Retryable: nothing was stored; resend after a pause. */
            if (!r->refused)
                PW_WARN("aggregator cannot take update %llu now: %s",
                        (unsigned long long)m->seq, m->text);
            /* Not at once: sent again and again, the window would only be
             * refused again, thousands of updates at a time. */
            r->refused = true;
            r->refused_until = pw_mono_ms() + REFUSED_RETRY_MS;
            r->next = acked + 1;
            r->last_send = pw_mono_ms();
            return 0;
        }
        r->refused = false;
        if (m->reason == PW_EAUTH || m->reason == PW_EFORBIDDEN) {
            /* The key, not the update, is refused: keep everything spooled
             * for when this office has a valid key again. */
            PW_ERROR("aggregator refused %s's key: %s (%s); %llu updates kept in the spool",
                     r->o->district, pw_err_name(m->reason), m->text,
                     (unsigned long long)pw_spool_pending(r->spool));
            return m->reason;
        }
        if (m->seq > acked && m->seq <= head) {
            struct reject_ctx rc = {r, m->reason, m->text};
            if (pw_spool_read(r->spool, m->seq, 1, report_reject, &rc) == -ENOMEM)
                return -ENOMEM;
            return spool_ack(r, m->seq);
        }
        if (m->seq == 0)
            PW_ERROR("aggregator refused %s: %s (%s)", r->o->district, pw_err_name(m->reason),
                     m->text);
        return m->seq == 0 && m->reason == PW_EDISTRICT ? PW_EDISTRICT : 0;
    default:
        return 0;
    }
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
            rc = on_answer(r, &m);
        zmq_msg_close(&msg);
    }
    int rrc = record_rejections(r);
    return rc != 0 ? rc : rrc;
}

static int loop(struct run *r, volatile sig_atomic_t *stop)
{
    int rc = load_file(r);
    int64_t start = pw_mono_ms();
    r->last_answer = start;
    r->last_progress = start;
    r->last_silence_log = start;
    uint64_t progress_mark = pw_spool_acked(r->spool);
    while (rc == 0 && !(stop && *stop)) {
        int64_t now = pw_mono_ms();
        if ((r->o->follow || r->unspooled) && now - r->last_watch >= WATCH_MS) {
            r->last_watch = now;
            if ((rc = load_file(r)) != 0)
                break;
        }
        if (spooling(r) && (rc = spool_more(r)) != 0)
            break;
        uint64_t pending = pw_spool_pending(r->spool);
        if (!r->o->follow && pending == 0 && !r->unspooled && !spooling(r))
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
            rc = receive(r, spooling(r) && !disk_waiting(r) ? 0 : 50);
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
