/* SPDX-License-Identifier: MIT */
#ifndef PW_HOOK_H
#define PW_HOOK_H

#include <stddef.h>

/*
 * Alert hooks: a shell command run once per alert event, with the event as
 * JSON on its standard input (a mail or SMS gateway, say). Commands run in
 * the background and are never waited for: a slow or stuck gateway cannot
 * block the monitor. At most `parallel` run at once; the rest wait in a
 * bounded queue, and what overflows it is dropped with a warning.
 */

typedef struct pw_hook pw_hook_t;

/** Creates a hook for `sh -c cmd` (cmd is copied). Caller owns *out. 0 or -ENOMEM. */
int pw_hook_new(const char *cmd, size_t parallel, pw_hook_t **out);

/** Stops waiting for running commands (they go on) and frees. NULL-safe. */
void pw_hook_destroy(pw_hook_t **self_p);

/** Queues one run with json on its stdin. 0, or -ENOSPC when the queue is full (dropped). */
int pw_hook_fire(pw_hook_t *self, const char *json, size_t len);

/** Reaps finished commands and starts queued ones. Call it often; never blocks. */
void pw_hook_poll(pw_hook_t *self);

/** Commands started, failed (non-zero exit or signal) and dropped so far. */
void pw_hook_counts(const pw_hook_t *self, size_t *started, size_t *failed, size_t *dropped);

#endif
