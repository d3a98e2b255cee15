/* SPDX-License-Identifier: MIT */
/* The collector's data file: read when it changes, spooled slice by slice. */
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
bool pw__col_disk_waiting(const struct run *r)
{
    return r->disk_since && pw_mono_ms() < r->disk_retry;
}

/* Records answers up to seq. A spool that has no room to record them keeps
 * them in memory and records them with a later answer or at exit: lost in a
 * crash, they only cost a resend, which the aggregator absorbs. */
int pw__col_spool_ack(struct run *r, uint64_t seq)
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
int pw__col_spool_more(struct run *r)
{
    if (!r->df || r->spool_pos >= r->df->n || pw__col_disk_waiting(r))
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
bool pw__col_spooling(const struct run *r)
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
int pw__col_load_file(struct run *r)
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
    return pw__col_spool_more(r);
}
