/* SPDX-License-Identifier: MIT */
#include "pw/handshake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "pw/text.h"
#include "pw/log.h"
#include "pw/util.h"

#define FDS 64 /* accepted connections whose address is kept, at most */

enum kind { K_NONE, K_AUTH, K_MISMATCH, K_CRYPTO, K_DROPPED, K_COUNT };

struct pw_handshake {
    void *sock;       /* the monitor's PAIR end */
    void *watched;
    bool server;
    char name[32];
    uint64_t failures;
    uint64_t by_kind[K_COUNT];
    enum kind last;     /* the latest failure's */
    enum kind pending;  /* server: a failure waiting for its DISCONNECTED */
    struct {
        int fd;
        char addr[64];
    } fds[FDS];
    size_t next_fd;     /* the slot the next ACCEPTED overwrites */
    pw_refusal_limit_t limit;
};

int pw_handshake_watch(void *ctx, void *sock, bool server, const char *name,
                       pw_handshake_t **out)
{
    *out = NULL;
    pw_handshake_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->server = server;
    self->watched = sock;
    snprintf(self->name, sizeof(self->name), "%s", name);
    for (size_t i = 0; i < FDS; i++)
        self->fds[i].fd = -1;
    /* A socket's address alone could come back for a socket made after
     * this one closed, before its monitor's endpoint is gone. */
    static atomic_uint serial;
    char ep[80];
    snprintf(ep, sizeof(ep), "inproc://pw-handshake-%p-%u", sock, atomic_fetch_add(&serial, 1));
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
    if (server)
        events |= ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED;
    int linger = 0;
    if (zmq_socket_monitor(sock, ep, events) != 0 ||
        !(self->sock = zmq_socket(ctx, ZMQ_PAIR)) ||
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_connect(self->sock, ep) != 0) {
        int rc = -zmq_errno();
        pw_handshake_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void *pw_handshake_socket(pw_handshake_t *self)
{
    return self->sock;
}

uint64_t pw_handshake_failures(const pw_handshake_t *self)
{
    return self ? self->failures : 0;
}

/* What a failure event says, as one of our kinds. */
static enum kind kind_of(uint16_t event, uint32_t value)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return K_AUTH;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        return K_DROPPED;
    return value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH ? K_MISMATCH : K_CRYPTO;
}

/* The peer's address while its descriptor is still open; "" when it is not. */
static void peer_address(int fd, char *buf, size_t len)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    char host[48]; /* a numeric IPv6 address at most */
    buf[0] = '\0';
    if (getpeername(fd, (struct sockaddr *)&sa, &sl) != 0)
        return;
    if (sa.ss_family == AF_UNIX)
        snprintf(buf, len, "a local process");
    else if (getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), NULL, 0,
                         NI_NUMERICHOST) == 0)
        snprintf(buf, len, "%.47s", host);
}

static void server_event(pw_handshake_t *self, uint16_t event, uint32_t value)
{
    if (event == ZMQ_EVENT_ACCEPTED) {
        size_t i = self->next_fd++ % FDS;
        self->fds[i].fd = (int)value;
        peer_address((int)value, self->fds[i].addr, sizeof(self->fds[i].addr));
        return;
    }
    if (event != ZMQ_EVENT_DISCONNECTED) {
        /* A refusal by our ZAP handler is logged there, with the key. The
         * others wait for DISCONNECTED, which comes right after and names
         * the descriptor. */
        enum kind k = kind_of(event, value);
        self->pending = k == K_AUTH ? K_NONE : k;
        return;
    }
    const char *addr = "";
    for (size_t i = 0; i < FDS; i++)
        if (self->fds[i].fd == (int)value) {
            addr = self->fds[i].addr;
            self->fds[i].fd = -1; /* the descriptor may be reused by the next */
            break;
        }
    if (self->pending == K_NONE)
        return;
    int mech = ZMQ_NULL;
    size_t ml = sizeof(mech);
    zmq_getsockopt(self->watched, ZMQ_MECHANISM, &mech, &ml);
    bool curve = mech == ZMQ_CURVE;
    const char *why;
    pw_log_level_t level = PW_LOG_WARN;
    if (self->pending == K_CRYPTO)
        why = "cannot decrypt its hello (wrong server key? the client's .pub of this server "
              "must match our secret key)";
    else if (self->pending == K_MISMATCH)
        why = curve ? "client without CURVE (--insecure?): mechanism mismatch"
                    : "client with CURVE keys, we run without (--insecure): mechanism mismatch";
    else {
        /* Which side sees a mechanism mismatch first is a race: often the
         * client, which hangs up. A port check looks the same, hence info. */
        why = curve ? "the client hung up during the handshake: a client without CURVE "
                      "(--insecure?), or a port check"
                    : "the client hung up during the handshake: a client with CURVE keys, "
                      "we run without (--insecure)?";
        level = PW_LOG_INFO;
    }
    pw_refusal_log(&self->limit, level, self->name, addr[0] ? addr : "an unknown address", why);
    self->pending = K_NONE;
}

void pw_handshake_read(pw_handshake_t *self)
{
    for (;;) {
        unsigned char head[6];
        char ep[256];
        int more = 0;
        size_t ml = sizeof(more);
        int n = zmq_recv(self->sock, head, sizeof(head), ZMQ_DONTWAIT);
        if (n < 0)
            return;
        zmq_getsockopt(self->sock, ZMQ_RCVMORE, &more, &ml);
        if (more)
            zmq_recv(self->sock, ep, sizeof(ep), 0); /* the endpoint: not the peer's */
        if (n != 6)
            continue;
        uint16_t event;
        uint32_t value;
        memcpy(&event, head, 2);
        memcpy(&value, head + 2, 4);
        PW_DEBUG("%s: socket event 0x%x value 0x%x", self->name, event, value);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            if (!self->server)
                self->last = K_NONE; /* keys work: an earlier failure was not theirs */
            continue;
        }
        if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
            enum kind k = kind_of(event, value);
            self->failures++;
            self->by_kind[k]++;
            self->last = k;
        }
        if (self->server)
            server_event(self, event, value);
    }
}

bool pw_handshake_hint(pw_handshake_t *self, char *buf, size_t len)
{
    if (len > 0)
        buf[0] = '\0';
    if (!self)
        return false;
    pw_handshake_read(self);
    if (self->last == K_NONE)
        return false;
    int mech = ZMQ_NULL;
    size_t ml = sizeof(mech);
    zmq_getsockopt(self->watched, ZMQ_MECHANISM, &mech, &ml);
    /* Which side notices a mismatch first is a race, so a client without
     * CURVE blames the mechanism whatever the event said. */
    const char *why = mech != ZMQ_CURVE ? "mechanism mismatch: the server wants CURVE keys, we "
                                          "have none (--insecure)"
                      : self->by_kind[K_AUTH]     ? "the server refused our key"
                      : self->by_kind[K_MISMATCH] ? "mechanism mismatch: the server runs without "
                                                    "CURVE (--insecure), we have keys"
                                                  : "the server hung up during the handshake: "
                                                    "wrong server key?";
    char times[32];
    if (self->failures == 1)
        snprintf(times, sizeof(times), "once");
    else
        snprintf(times, sizeof(times), "%llu times", (unsigned long long)self->failures);
    snprintf(buf, len, "the handshake failed %s (%s): check --keys / --insecure", times, why);
    return true;
}

void pw_handshake_destroy(pw_handshake_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_handshake_t *self = *self_p;
    if (self->watched)
        zmq_socket_monitor(self->watched, NULL, 0);
    if (self->sock)
        zmq_close(self->sock);
    free(self);
    *self_p = NULL;
}

void pw_refusal_log(pw_refusal_limit_t *self, pw_log_level_t level, const char *what,
                    const char *addr, const char *why)
{
    int64_t now = pw_mono_ms();
    /* Per address and reason: a peer that fails in two ways shows both. */
    uint64_t h = pw__fnv1a(PW__FNV_OFFSET, why, strlen(why));
    size_t slot = 0;
    for (size_t i = 0; i < PW_REFUSAL_PEERS; i++) {
        if (self->peers[i].why == h && strcmp(self->peers[i].addr, addr) == 0) {
            slot = i;
            break;
        }
        if (self->peers[i].last_ms < self->peers[slot].last_ms)
            slot = i; /* else the one quiet the longest makes room */
        if (i + 1 == PW_REFUSAL_PEERS) {
            snprintf(self->peers[slot].addr, sizeof(self->peers[slot].addr), "%s", addr);
            self->peers[slot].why = h;
            self->peers[slot].last_ms = 0;
            self->peers[slot].withheld = 0;
        }
    }
    if (self->peers[slot].last_ms && now - self->peers[slot].last_ms < PW_HANDSHAKE_LOG_MS) {
        self->peers[slot].withheld++;
        return;
    }
    uint64_t withheld = self->peers[slot].withheld;
    self->peers[slot].last_ms = now;
    self->peers[slot].withheld = 0;
    if (withheld)
        pw_log(level,
               "%s: refused a handshake from %s: %s (and %llu more from it not logged since "
               "the last line; at most one line per %d s)",
               what, addr, why, (unsigned long long)withheld, PW_HANDSHAKE_LOG_MS / 1000);
    else
        pw_log(level, "%s: refused a handshake from %s: %s", what, addr, why);
}
