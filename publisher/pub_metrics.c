/* SPDX-License-Identifier: MIT */
#include "pub_metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "pw/bureau.h"
#include "pw/prom.h"
#include "pw/util.h"

#define MONITOR_EP "inproc://pw-publisher-monitor"

/* Request types as the wire names them; index = PW_REQ_* (0: malformed). */
static const char *const request_names[] = {"malformed", "snapshot", "range",   "status",
                                            "alerts",    "district", "rows"};
#define NREQ (sizeof(request_names) / sizeof(request_names[0]))

static const char *const topic_names[PW_PUB_TOPIC_COUNT] = {"rates", "alert", "hb"};

struct pw_pub_metrics {
    void *ctx, *pub, *monitor;
    unsigned generation; /* monitors started, for their endpoints' names */
    int64_t start_ms;
    int64_t subscribers;
    uint64_t connections;
    uint64_t requests[NREQ], request_errors[NREQ];
    uint64_t messages[PW_PUB_TOPIC_COUNT], events[PW_PUB_TOPIC_COUNT];
    pw_prom_t *prom;
};

int pw_pub_metrics_new(void *ctx, pw_pub_metrics_t **out)
{
    *out = NULL;
    pw_pub_metrics_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->ctx = ctx;
    self->start_ms = pw_now_ms();
    self->prom = pw_prom_new();
    if (!self->prom) {
        pw_pub_metrics_destroy(&self);
        return -ENOMEM;
    }
    *out = self;
    return 0;
}

int pw_pub_metrics_watch(pw_pub_metrics_t *self, void *pub)
{
    /* The previous socket is closed already (its monitor ends with it): only
     * our end goes. Each monitor gets an endpoint of its own, since the old
     * one may not be unbound yet. */
    if (self->monitor)
        zmq_close(self->monitor);
    self->monitor = NULL;
    self->pub = NULL;
    self->subscribers = 0;
    char ep[64];
    snprintf(ep, sizeof(ep), "%s-%u", MONITOR_EP, ++self->generation);
    if (zmq_socket_monitor(pub, ep, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0)
        return -zmq_errno();
    self->pub = pub;
    self->monitor = zmq_socket(self->ctx, ZMQ_PAIR);
    if (!self->monitor || zmq_connect(self->monitor, ep) != 0) {
        int rc = -zmq_errno();
        if (self->monitor)
            zmq_close(self->monitor);
        self->monitor = NULL;
        return rc;
    }
    int zero = 0;
    zmq_setsockopt(self->monitor, ZMQ_LINGER, &zero, sizeof(zero));
    return 0;
}

void pw_pub_metrics_destroy(pw_pub_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_pub_metrics_t *self = *self_p;
    if (self->pub)
        zmq_socket_monitor(self->pub, NULL, 0);
    if (self->monitor)
        zmq_close(self->monitor);
    pw_prom_destroy(&self->prom);
    free(self);
    *self_p = NULL;
}

void pw_pub_metrics_poll(pw_pub_metrics_t *self)
{
    while (self->monitor) {
        /* Each event is two frames: 16-bit event and 32-bit value, then the endpoint. */
        zmq_msg_t ev, ep;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, self->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t id = 0;
        if (zmq_msg_size(&ev) >= sizeof(id))
            memcpy(&id, zmq_msg_data(&ev), sizeof(id));
        bool more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        while (more) {
            zmq_msg_init(&ep);
            more = zmq_msg_recv(&ep, self->monitor, 0) >= 0 && zmq_msg_more(&ep);
            zmq_msg_close(&ep);
        }
        if (id == ZMQ_EVENT_ACCEPTED) {
            self->subscribers++;
            self->connections++;
        } else if (id == ZMQ_EVENT_DISCONNECTED && self->subscribers > 0) {
            self->subscribers--;
        }
    }
}

void pw_pub_metrics_published(pw_pub_metrics_t *self, pw_pub_topic_t topic, uint64_t events)
{
    if (topic >= PW_PUB_TOPIC_COUNT)
        return;
    self->messages[topic]++;
    self->events[topic] += events;
}

void pw_pub_metrics_request(pw_pub_metrics_t *self, int type, int ok)
{
    size_t i = type > 0 && (size_t)type < NREQ ? (size_t)type : 0;
    if (ok)
        self->requests[i]++;
    else
        self->request_errors[i]++;
}

static int by_label(pw_prom_t *p, const char *name, const char *type, const char *help,
                    const char *label, const char *const *values, const uint64_t *counts,
                    size_t n)
{
    int rc = pw_prom_family(p, name, type, help);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = pw_prom_sample(p, name, (double)counts[i], label, values[i], (const char *)NULL);
    return rc;
}

static int render(pw_pub_metrics_t *self, uint64_t last_event)
{
    pw_prom_t *p = self->prom;
    int rc = pw_prom_family(p, "planwatch_publisher_start_time_seconds", "gauge",
                            "Unix time the publisher started.");
    if (rc == 0)
        rc = pw_prom_sample(p, "planwatch_publisher_start_time_seconds",
                            (double)self->start_ms / 1000.0, (const char *)NULL);
    if (rc == 0)
        rc = pw_prom_family(p, "planwatch_publisher_subscribers", "gauge",
                            "Peers connected to the event stream (PUB) now.");
    if (rc == 0)
        rc = pw_prom_sample(p, "planwatch_publisher_subscribers", (double)self->subscribers,
                            (const char *)NULL);
    if (rc == 0)
        rc = pw_prom_family(p, "planwatch_publisher_connections_total", "counter",
                            "Connections accepted on the event stream.");
    if (rc == 0)
        rc = pw_prom_sample(p, "planwatch_publisher_connections_total",
                            (double)self->connections, (const char *)NULL);
    if (rc == 0)
        rc = by_label(p, "planwatch_publisher_requests_total", "counter",
                      "Snapshot, range, status, alerts and district requests answered.", "type",
                      request_names + 1, self->requests + 1, NREQ - 1);
    if (rc == 0)
        rc = by_label(p, "planwatch_publisher_request_errors_total", "counter",
                      "Requests not answered (malformed, or the store failed), by type.", "type",
                      request_names, self->request_errors, NREQ);
    if (rc == 0)
        rc = by_label(p, "planwatch_publisher_messages_total", "counter",
                      "Messages published on the event stream, by topic.", "topic",
                      topic_names, self->messages, PW_PUB_TOPIC_COUNT);
    if (rc == 0)
        rc = by_label(p, "planwatch_publisher_events_total", "counter",
                      "Events published, by topic (a rates message carries many).", "topic",
                      topic_names, self->events, PW_PUB_TOPIC_HB); /* hb carries none */
    if (rc == 0)
        rc = pw_prom_family(p, "planwatch_publisher_last_event", "gauge",
                            "Sequence number of the last event published.");
    if (rc == 0)
        rc = pw_prom_sample(p, "planwatch_publisher_last_event", (double)last_event,
                            (const char *)NULL);
    return rc;
}

int pw_pub_metrics_write(pw_pub_metrics_t *self, const char *path, uint64_t last_event)
{
    pw_prom_reset(self->prom);
    int rc = render(self, last_event);
    return rc ? rc : pw_prom_write_file(self->prom, path);
}
