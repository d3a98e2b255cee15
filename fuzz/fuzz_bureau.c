/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "harness.h"
#include "pw/bureau.h"
#include "pw/error.h"
#include "pw/event.h"

/*
 * The three decoders of the bureau side run on every input: the publisher's
 * request decoder (frames from any monitor), and the monitor's reply and
 * event decoders (frames from the publisher). Their decoders accept unknown
 * keys, so a decoded frame need not re-encode to the same bytes; what must
 * hold is that the encoding of what was decoded is canonical: it decodes and
 * re-encodes to exactly the same bytes. An event also decodes the same
 * through msgpack-c's object tree, whichever path pw_event_decode() took.
 */

static bool same_bytes(const pw_buf_t *a, const pw_buf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void fuzz_request(const uint8_t *data, size_t size)
{
    pw_request_t req, back;
    pw_buf_t first = {0}, second = {0};

    int rc = pw_request_decode(data, size, &req);
    if (rc != 0) {
        PW_FUZZ_CHECK(rc == PW_EMALFORMED || rc == PW_EVERSION);
        return;
    }
    PW_FUZZ_CHECK(req.type >= PW_REQ_SNAP && req.type <= PW_REQ_PLAN);
    PW_FUZZ_CHECK(pw_request_encode(&req, &first) == 0);
    PW_FUZZ_CHECK(pw_request_decode(first.data, first.len, &back) == 0);
    PW_FUZZ_CHECK(back.type == req.type);
    PW_FUZZ_CHECK(pw_request_encode(&back, &second) == 0);
    PW_FUZZ_CHECK(same_bytes(&first, &second));
    pw_buf_free(&first);
    pw_buf_free(&second);
}

static void fuzz_reply(const uint8_t *data, size_t size)
{
    pw_reply_t rep, back;
    pw_buf_t first = {0}, second = {0};

    int rc = pw_reply_decode(data, size, &rep);
    if (rc != 0) {
        PW_FUZZ_CHECK(rc == PW_EMALFORMED || rc == PW_EVERSION || rc == -ENOMEM);
        /* A failed decode leaves nothing to free. */
        PW_FUZZ_CHECK(rep.rows == NULL && rep.alerts == NULL && rep.events == NULL &&
                      rep.status == NULL && rep.plan == NULL);
        return;
    }
    PW_FUZZ_CHECK(rep.nrows <= rep.caprows && rep.nalerts <= rep.capalerts &&
                  rep.nevents <= rep.capevents && rep.nstatus <= rep.capstatus);
    PW_FUZZ_CHECK(pw_reply_encode(&rep, &first) == 0);
    PW_FUZZ_CHECK(pw_reply_decode(first.data, first.len, &back) == 0);
    PW_FUZZ_CHECK(back.type == rep.type && back.seq == rep.seq);
    /* A plan reply carries the catalog text through byte for byte. */
    PW_FUZZ_CHECK(rep.type != PW_REQ_PLAN || (back.plan_len == rep.plan_len &&
                                              (!rep.plan) == (!back.plan) &&
                                              (!rep.plan || memcmp(rep.plan, back.plan,
                                                                   rep.plan_len) == 0)));
    PW_FUZZ_CHECK(pw_reply_encode(&back, &second) == 0);
    PW_FUZZ_CHECK(same_bytes(&first, &second));
    pw_reply_clear(&rep);
    pw_reply_clear(&back);
    PW_FUZZ_CHECK(rep.rows == NULL && rep.nrows == 0);
    pw_buf_free(&first);
    pw_buf_free(&second);
}

static void fuzz_event(const uint8_t *data, size_t size)
{
    pw_event_t ev, back;
    pw_buf_t first = {0}, second = {0};

    int rc = pw_event_decode(data, size, &ev);
    if (rc != 0) {
        PW_FUZZ_CHECK(rc == PW_EMALFORMED || rc == PW_EVERSION);
        return;
    }
    PW_FUZZ_CHECK(ev.ntop <= PW_TOP_MAX);
    /* A rate event in its own layout is read directly: the general decoder
     * (msgpack-c's tree) must accept whatever that accepts, identically. */
    pw_event_t ref;
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    PW_FUZZ_CHECK(msgpack_unpack_next(&up, (const char *)data, size, &off) ==
                      MSGPACK_UNPACK_SUCCESS &&
                  off == size);
    PW_FUZZ_CHECK(pw_event_from_object(&up.data, &ref) == 0);
    PW_FUZZ_CHECK(memcmp(&ev, &ref, sizeof ev) == 0);
    msgpack_unpacked_destroy(&up);
    PW_FUZZ_CHECK(pw_event_encode(&ev, &first) == 0);
    PW_FUZZ_CHECK(pw_event_decode(first.data, first.len, &back) == 0);
    PW_FUZZ_CHECK(back.type == ev.type && back.seq == ev.seq && back.time_ms == ev.time_ms);
    PW_FUZZ_CHECK(pw_event_encode(&back, &second) == 0);
    PW_FUZZ_CHECK(same_bytes(&first, &second));
    pw_buf_free(&first);
    pw_buf_free(&second);
}

int pw_fuzz_bureau(const uint8_t *data, size_t size)
{
    fuzz_request(data, size);
    fuzz_reply(data, size);
    fuzz_event(data, size);
    return 0;
}
