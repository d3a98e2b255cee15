/* SPDX-License-Identifier: MIT */
#ifndef PW_AGG_ROOM_H
#define PW_AGG_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/msg.h"
#include "store.h"

/*
 * Whether the store has room for the next batch. A full map is grown, up to
 * --map-max; past it, or with the store's file system full, updates are
 * refused with the retryable ESTOREFULL and collectors keep them, and a real
 * commit is tried again every 5 s. No sockets; logs each change once.
 */

typedef struct pw_room {
    pw_store_t *store; /* borrowed */
    size_t map_max;
    bool full; /* the store is at --map-max or its disk is full: updates are refused */
    int64_t full_since;
    char text[PW_MSG_TEXTMAX]; /* why, in the refusals' text */
    bool disk_full;            /* a commit failed for want of room on the store's file system */
    int64_t disk_full_since, disk_logged;
} pw_room_t;

/** Whether the next batch is to refuse its updates (false again 5 s after it began). */
bool pw__room_refusing(pw_room_t *self);

/**
 * After a commit of n messages failed with rc and the model was brought back
 * to the store: 0 to apply the batch again (the map grown, or updates now
 * refused), or rc when no room explains it.
 */
int pw__room_failed(pw_room_t *self, int rc, size_t n);

/** After a commit: says so once the disk that was full takes updates again. */
void pw__room_committed(pw_room_t *self);

#endif
