/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* accept4, pipe2: the receiver's descriptors close on exec */
#include "receiver.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HUNG_MAX 16
#define REQ_MAX  (1 << 20)

typedef struct record {
    char *head;
    char *body;
    int status; /* 0: not answered */
} record_t;

struct pw_test_receiver {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wake[2];
    uint16_t port;
    /* Under mu. */
    int listen_fd;
    bool close_req, quit, hang;
    int def_status;
    char *def_body;
    size_t script_n;
    int script_status;
    char *script_body;
    record_t *rec;
    size_t nrec, caprec;
    /* The thread's own. */
    int hung[HUNG_MAX];
    size_t nhung;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int listen_on(uint16_t port, uint16_t *port_out)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    *port_out = ntohs(a.sin_port);
    return fd;
}

static void poke(pw_test_receiver_t *self)
{
    char c = 1;
    ssize_t w = write(self->wake[1], &c, 1);
    (void)w;
}

/* Reads until the headers and the Content-Length body are in, or 2 s pass. */
static bool read_request(int fd, char **head_out, char **body_out)
{
    char *buf = malloc(REQ_MAX + 1);
    size_t len = 0, need = 0, hlen = 0;
    int64_t deadline = mono_ms() + 2000;
    bool sent_continue = false;
    if (buf == NULL)
        return false;
    while (hlen == 0 || len < hlen + need) {
        int64_t left = deadline - mono_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0 || len == REQ_MAX)
            goto fail;
        ssize_t n = read(fd, buf + len, REQ_MAX - len);
        if (n <= 0)
            goto fail;
        len += (size_t)n;
        buf[len] = '\0';
        if (hlen == 0) {
            char *end = strstr(buf, "\r\n\r\n");
            if (end == NULL)
                continue;
            hlen = (size_t)(end - buf) + 4;
            for (char *h = buf; h < end; h++)
                *h = (char)tolower((unsigned char)*h);
            char *cl = strstr(buf, "\r\ncontent-length:");
            need = cl ? strtoul(cl + 17, NULL, 10) : 0;
            if (!sent_continue && strstr(buf, "\r\nexpect: 100-continue")) {
                sent_continue = true;
                send(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL);
            }
        }
    }
    *head_out = strndup(buf, hlen);
    *body_out = strndup(buf + hlen, need);
    free(buf);
    return *head_out && *body_out;
fail:
    free(buf);
    return false;
}

static void serve(pw_test_receiver_t *self, int fd)
{
    char *head = NULL, *body = NULL;
    if (!read_request(fd, &head, &body)) {
        free(head);
        free(body);
        close(fd);
        return;
    }
    pthread_mutex_lock(&self->mu);
    record_t *r = NULL;
    if (self->nrec == self->caprec) {
        size_t cap = self->caprec ? 2 * self->caprec : 16;
        record_t *grown = realloc(self->rec, cap * sizeof(*grown));
        if (grown) {
            self->rec = grown;
            self->caprec = cap;
        }
    }
    if (self->nrec < self->caprec) {
        r = &self->rec[self->nrec++];
        r->head = head;
        r->body = body;
        r->status = 0;
        head = body = NULL;
    }
    bool hang = self->hang && self->nhung < HUNG_MAX;
    int status = self->def_status;
    const char *reply = self->def_body;
    if (!hang && self->script_n > 0) {
        self->script_n--;
        status = self->script_status;
        reply = self->script_body;
    }
    char out[4096];
    int n = snprintf(out, sizeof(out),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     status,
                     status == 200   ? "OK"
                     : status == 503 ? "Service Unavailable"
                                     : "X",
                     strlen(reply), reply);
    if (!hang && r != NULL)
        r->status = status;
    pthread_mutex_unlock(&self->mu);
    free(head);
    free(body);
    if (hang) {
        self->hung[self->nhung++] = fd;
        return;
    }
    if (n > 0)
        send(fd, out, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1, MSG_NOSIGNAL);
    close(fd);
}

static void *run(void *arg)
{
    pw_test_receiver_t *self = arg;
    for (;;) {
        pthread_mutex_lock(&self->mu);
        if (self->close_req && self->listen_fd >= 0) {
            close(self->listen_fd);
            self->listen_fd = -1;
        }
        self->close_req = false;
        pthread_cond_broadcast(&self->cv);
        bool quit = self->quit, hang = self->hang;
        int lfd = self->listen_fd;
        pthread_mutex_unlock(&self->mu);
        if (!hang || quit) {
            while (self->nhung > 0)
                close(self->hung[--self->nhung]);
        }
        if (quit)
            break;
        struct pollfd p[2] = {{.fd = self->wake[0], .events = POLLIN},
                              {.fd = lfd, .events = POLLIN}};
        if (poll(p, lfd >= 0 ? 2 : 1, 1000) <= 0)
            continue;
        if (p[0].revents) {
            char drain[64];
            ssize_t r = read(self->wake[0], drain, sizeof(drain));
            (void)r;
        }
        if (lfd >= 0 && (p[1].revents & POLLIN)) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                serve(self, fd);
        }
    }
    return NULL;
}

int pw_test_receiver_start(pw_test_receiver_t **out)
{
    *out = NULL;
    pw_test_receiver_t *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return -ENOMEM;
    self->wake[0] = self->wake[1] = -1;
    self->def_status = 200;
    self->def_body = strdup("{}");
    self->script_body = strdup("");
    int rc = self->def_body && self->script_body ? 0 : -ENOMEM;
    if (rc == 0 && pipe2(self->wake, O_CLOEXEC) != 0)
        rc = -errno;
    if (rc == 0) {
        fcntl(self->wake[0], F_SETFL, O_NONBLOCK);
        fcntl(self->wake[1], F_SETFL, O_NONBLOCK);
        self->listen_fd = listen_on(0, &self->port);
        rc = self->listen_fd < 0 ? self->listen_fd : 0;
    }
    if (rc == 0) {
        pthread_mutex_init(&self->mu, NULL);
        pthread_cond_init(&self->cv, NULL);
        rc = -pthread_create(&self->thread, NULL, run, self);
        if (rc != 0) {
            pthread_mutex_destroy(&self->mu);
            pthread_cond_destroy(&self->cv);
        }
    }
    if (rc != 0) {
        if (self->listen_fd >= 0)
            close(self->listen_fd);
        if (self->wake[0] >= 0) {
            close(self->wake[0]);
            close(self->wake[1]);
        }
        free(self->def_body);
        free(self->script_body);
        free(self);
        return rc;
    }
    *out = self;
    return 0;
}

void pw_test_receiver_destroy(pw_test_receiver_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    pw_test_receiver_t *self = *self_p;
    pthread_mutex_lock(&self->mu);
    self->quit = true;
    pthread_mutex_unlock(&self->mu);
    poke(self);
    pthread_join(self->thread, NULL);
    if (self->listen_fd >= 0)
        close(self->listen_fd);
    close(self->wake[0]);
    close(self->wake[1]);
    for (size_t i = 0; i < self->nrec; i++) {
        free(self->rec[i].head);
        free(self->rec[i].body);
    }
    free(self->rec);
    free(self->def_body);
    free(self->script_body);
    pthread_mutex_destroy(&self->mu);
    pthread_cond_destroy(&self->cv);
    free(self);
    *self_p = NULL;
}

uint16_t pw_test_receiver_port(const pw_test_receiver_t *self)
{
    return self->port;
}

void pw_test_receiver_set_default(pw_test_receiver_t *self, int status, const char *body)
{
    char *copy = strdup(body);
    pthread_mutex_lock(&self->mu);
    if (copy) {
        free(self->def_body);
        self->def_body = copy;
    }
    self->def_status = status;
    pthread_mutex_unlock(&self->mu);
}

void pw_test_receiver_script(pw_test_receiver_t *self, size_t n, int status, const char *body)
{
    char *copy = strdup(body);
    pthread_mutex_lock(&self->mu);
    if (copy) {
        free(self->script_body);
        self->script_body = copy;
    }
    self->script_n = n;
    self->script_status = status;
    pthread_mutex_unlock(&self->mu);
}

void pw_test_receiver_hang(pw_test_receiver_t *self, bool hang)
{
    pthread_mutex_lock(&self->mu);
    self->hang = hang;
    pthread_mutex_unlock(&self->mu);
    poke(self);
}

void pw_test_receiver_close(pw_test_receiver_t *self)
{
    pthread_mutex_lock(&self->mu);
    self->close_req = true;
    poke(self);
    while (self->listen_fd >= 0)
        pthread_cond_wait(&self->cv, &self->mu);
    pthread_mutex_unlock(&self->mu);
}

int pw_test_receiver_reopen(pw_test_receiver_t *self)
{
    uint16_t port = 0;
    int fd = listen_on(self->port, &port);
    if (fd < 0)
        return fd;
    pthread_mutex_lock(&self->mu);
    if (self->listen_fd >= 0)
        close(self->listen_fd);
    self->listen_fd = fd;
    pthread_mutex_unlock(&self->mu);
    poke(self);
    return 0;
}

static size_t count(pw_test_receiver_t *self, bool accepted)
{
    size_t n = 0;
    pthread_mutex_lock(&self->mu);
    for (size_t i = 0; i < self->nrec; i++)
        n += !accepted || (self->rec[i].status >= 200 && self->rec[i].status <= 299);
    pthread_mutex_unlock(&self->mu);
    return n;
}

size_t pw_test_receiver_requests(pw_test_receiver_t *self)
{
    return count(self, false);
}

size_t pw_test_receiver_accepted(pw_test_receiver_t *self)
{
    return count(self, true);
}

char *pw_test_receiver_body(pw_test_receiver_t *self, size_t i, char **head_out)
{
    char *body = NULL;
    pthread_mutex_lock(&self->mu);
    if (i < self->nrec) {
        body = strdup(self->rec[i].body);
        if (head_out)
            *head_out = strdup(self->rec[i].head);
    }
    pthread_mutex_unlock(&self->mu);
    return body;
}

static bool wait_for(pw_test_receiver_t *self, size_t n, int timeout_ms, bool accepted)
{
    int64_t deadline = mono_ms() + timeout_ms;
    while (count(self, accepted) < n) {
        if (mono_ms() >= deadline)
            return false;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return true;
}

bool pw_test_receiver_wait_accepted(pw_test_receiver_t *self, size_t n, int timeout_ms)
{
    return wait_for(self, n, timeout_ms, true);
}

bool pw_test_receiver_wait_requests(pw_test_receiver_t *self, size_t n, int timeout_ms)
{
    return wait_for(self, n, timeout_ms, false);
}
