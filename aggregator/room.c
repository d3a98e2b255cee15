/* SPDX-License-Identifier: MIT */
#include "room.h"

#include <errno.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include "lmdb_util.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"

#define RETRY_MS 5000 /* how long updates are refused before a real commit is tried again */

/* Whether the store's file system has room left (a MiB at least). */
static bool disk_has_room(const char *dir)
{
    struct statvfs vfs;
    return statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize >= ((uint64_t)1 << 20);
}

/*
 * A commit failed for want of room on the store's file system (ENOSPC,
 * EDQUOT, or EIO: LMDB's code for a write cut short). Nothing of the batch is
 * stored and the model is back to the store, so the aggregator can go on: it
 * refuses updates with the retryable ESTOREFULL, as at --map-max, and tries a
 * real commit again now and then. Logged when it starts, then once a minute.
 */
static void disk_full(pw_room_t *self, int rc, size_t n)
{
    const char *dir = pw_store_dir(self->store);
    int64_t now = pw_mono_ms();
    self->full = true;
    self->full_since = now;
    if (rc == -EIO && disk_has_room(dir))
        snprintf(self->text, sizeof(self->text), "cannot write to %s's file system (%s)", dir,
                 pw_strerror(rc));
    else
        snprintf(self->text, sizeof(self->text), "no space left on %s's file system", dir);
    if (!self->disk_full) {
        PW_ERROR("%s (commit of %zu messages failed: %s): refusing updates with ESTOREFULL; "
                 "collectors keep them until there is room",
                 self->text, n, pw_strerror(rc));
        self->disk_full = true;
        self->disk_full_since = self->disk_logged = now;
    } else if (now - self->disk_logged >= 60000) {
        PW_WARN("%s for %lld s: still refusing updates with ESTOREFULL", self->text,
                (long long)((now - self->disk_full_since) / 1000));
        self->disk_logged = now;
    }
}

bool pw__room_refusing(pw_room_t *self)
{
    if (self->full && pw_mono_ms() - self->full_since >= RETRY_MS)
        self->full = false; /* try again now and then: an operator may have made room */
    return self->full;
}

int pw__room_failed(pw_room_t *self, int rc, size_t n)
{
    if (pw__mdb_nospace(rc) && !self->full) {
        disk_full(self, rc, n);
        return 0;
    }
    if (rc != PW_ESTOREFULL || self->full) {
        PW_ERROR("commit of %zu messages failed: %s", n, pw_strerror(rc));
        return rc;
    }
    size_t size;
    if (pw_store_grow(self->store, self->map_max, &size) == 0) {
        PW_INFO("store map grown to %zu MiB", size >> 20);
        return 0;
    }
    PW_ERROR("store full at %zu MiB (--map-max): refusing updates with ESTOREFULL; "
             "collectors keep them until there is room",
             pw_store_map_size(self->store) >> 20);
    self->full = true;
    self->full_since = pw_mono_ms();
    snprintf(self->text, sizeof(self->text), "store full: retry later");
    return 0;
}

void pw__room_committed(pw_room_t *self)
{
    if (self->disk_full && !self->full) {
        PW_INFO("room again on %s's file system after %lld s: taking updates",
                pw_store_dir(self->store),
                (long long)((pw_mono_ms() - self->disk_full_since) / 1000));
        self->disk_full = false;
    }
}
