/* SPDX-License-Identifier: MIT */
/*
 * The live stream: GET /events answers with Server-Sent Events, a notice
 * "v" with the data's version whenever it changed (at most one every
 * STREAM_EVERY ms), a comment line every KEEPALIVE_MS otherwise. The page
 * fetches its live part again on a notice. A thread of libmicrohttpd's
 * waits in stream_read() for each open stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_internal.h"
#include "pw/util.h"

typedef struct stream {
    pw_http_t *self;
    char token[65];         /* the session's; "" for HTTP Basic */
    char user[PW_USER_MAX]; /* HTTP Basic's user */
    uint64_t seen;
    bool started;
    int64_t last_ms;
} stream_t;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_t *s = cls;
    pw_live_t *live = s->self->cfg.live;
    if (!s->started) {
        s->started = true;
        pw_live_lock(live);
        s->seen = pw_live_version(live);
        pw_live_unlock(live);
        s->last_ms = pw_mono_ms();
        return snprintf(buf, max, "retry: 2000\n\nevent: v\ndata: %llu\n\n",
                        (unsigned long long)s->seen);
    }
    /* Changes closer together than STREAM_EVERY go out as one. */
    int64_t wait = s->last_ms + STREAM_EVERY - pw_mono_ms();
    if (wait > 0) {
        struct timespec ts = {0, (long)wait * 1000000L};
        nanosleep(&ts, NULL);
    }
    uint64_t now = 0;
    if (!pw_live_wait(live, s->seen, KEEPALIVE_MS, &now))
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* A logout, an idle session or a removed user ends the stream too; an
     * open page alone does not keep its session alive. */
    if (s->token[0] && !pw_sessions_alive(s->self->cfg.sessions, s->token, pw_mono_ms()))
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (!s->token[0]) {
        pthread_rwlock_rdlock(&s->self->users_lock);
        bool known = pw_users_hash(s->self->users, s->user) != NULL;
        pthread_rwlock_unlock(&s->self->users_lock);
        if (!known)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    s->last_ms = pw_mono_ms();
    if (now == s->seen)
        return snprintf(buf, max, ": keepalive\n\n");
    s->seen = now;
    return snprintf(buf, max, "event: v\ndata: %llu\n\n", (unsigned long long)now);
}

static void stream_free(void *cls)
{
    stream_t *s = cls;
    pw_live_watchers_add(s->self->cfg.live, -1, 0);
    free(s);
}

enum MHD_Result pw__http_stream(pw_http_t *self, struct MHD_Connection *c, const who_t *w)
{
    if (!pw_live_watchers_add(self->cfg.live, 1, self->cfg.max_streams))
        return pw__http_send(self, c, 503, "text/plain; charset=utf-8",
                             strdup("too many live streams open; try again later\n"),
                             strlen("too many live streams open; try again later\n"), NULL);
    stream_t *s = calloc(1, sizeof(*s));
    if (!s) {
        pw_live_watchers_add(self->cfg.live, -1, 0);
        return MHD_NO;
    }
    s->self = self;
    snprintf(s->token, sizeof(s->token), "%s", w->token);
    snprintf(s->user, sizeof(s->user), "%s", w->name);
    /* stream_free() runs when the response is destroyed: after the stream ends. */
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, stream_read, s, stream_free);
    if (!r) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

