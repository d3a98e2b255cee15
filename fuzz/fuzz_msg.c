/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <string.h>

#include "harness.h"
#include "pw/error.h"
#include "pw/msg.h"

static bool same_double(double a, double b)
{
    /* Bitwise: the decoder turns -0.0 into 0.0, and that must survive too. */
    return memcmp(&a, &b, sizeof a) == 0;
}

static bool msg_equal(const pw_msg_t *a, const pw_msg_t *b)
{
    return a->type == b->type && strcmp(a->district, b->district) == 0 &&
           a->epoch == b->epoch && a->seq == b->seq && strcmp(a->element, b->element) == 0 &&
           pw_period_eq(a->period, b->period) && same_double(a->value, b->value) &&
           a->observed_ms == b->observed_ms && a->received_ms == b->received_ms &&
           a->kind == b->kind && a->reason == b->reason && strcmp(a->text, b->text) == 0 &&
           a->spool_head == b->spool_head && a->frame_max == b->frame_max;
}

static bool decode_code(int rc)
{
    return rc == PW_EMALFORMED || rc == PW_EVERSION || rc == PW_ESEQ || rc == PW_EPERIOD ||
           rc == PW_EVALUE || rc == PW_ETIME;
}

static bool check_code(int rc)
{
    return rc == PW_OK || rc == PW_EDISTRICT || rc == PW_EELEMENT || rc == PW_EREPORTER ||
           rc == PW_EPERIOD || rc == PW_EVALUE;
}

int pw_fuzz_msg(const uint8_t *data, size_t size)
{
    pw_msg_t m, back;
    pw_buf_t first = {0}, second = {0};

    int rc = pw_msg_decode(data, size, &m);
    /* The fast reader of the store's own records must agree with the strict
     * decoder on every input, valid or not: it hands what it does not know
     * to the strict one, so its answer is always the strict one's. */
    pw_msg_t fast;
    int frc = pw_msg_decode_stored(data, size, &fast);
    PW_FUZZ_CHECK(frc == rc);
    PW_FUZZ_CHECK(rc != PW_OK || msg_equal(&m, &fast));
    /* So must the in-place network decoder and the msgpack-c one it replaced,
     * kept as the reference: same code, same message. */
    pw_msg_t ref;
    int rrc = pw_msg_decode_reference(data, size, &ref);
    PW_FUZZ_CHECK(rrc == rc);
    PW_FUZZ_CHECK(rc != PW_OK || msg_equal(&m, &ref));
    /* Read as a frame of several messages, each one decodes as a frame of
     * its own would; the reader always moves on; a frame of one message
     * reads as pw_msg_decode() reads it. */
    for (size_t pos = 0, n = 0; pos < size && n < 256; n++) {
        size_t at = pos;
        pw_msg_t one, alone;
        int nrc = pw_msg_decode_next(data, size, &pos, &one);
        PW_FUZZ_CHECK(pos > at && pos <= size);
        if (at == 0 && rc == PW_OK)
            PW_FUZZ_CHECK(nrc == PW_OK && pos == size && msg_equal(&one, &m));
        if (nrc != PW_OK) {
            PW_FUZZ_CHECK(decode_code(nrc));
            break;
        }
        PW_FUZZ_CHECK(pw_msg_decode(data + at, pos - at, &alone) == PW_OK);
        PW_FUZZ_CHECK(msg_equal(&one, &alone));
    }
    if (rc != PW_OK) {
        /* msg.h lists every code the decoder may give; a NACK carries it by name. */
        PW_FUZZ_CHECK(decode_code(rc));
        return 0;
    }
    PW_FUZZ_CHECK(size <= PW_MSG_MAXSIZE);
    PW_FUZZ_CHECK(m.type >= PW_MSG_HELLO && m.type <= PW_MSG_RECORD);
    /* What the aggregator does next with an update: check it against the catalog. */
    PW_FUZZ_CHECK(check_code(pw_msg_check(&m, pw_fuzz_wuhan())));

    /* Whatever decodes re-encodes, decodes to the same message, and the encoding is canonical. */
    PW_FUZZ_CHECK(pw_msg_encode(&m, &first) == 0);
    PW_FUZZ_CHECK(first.len <= PW_MSG_MAXSIZE);
    PW_FUZZ_CHECK(pw_msg_decode(first.data, first.len, &back) == PW_OK);
    PW_FUZZ_CHECK(msg_equal(&m, &back));
    PW_FUZZ_CHECK(pw_msg_encode(&back, &second) == 0);
    PW_FUZZ_CHECK(first.len == second.len && memcmp(first.data, second.data, first.len) == 0);
    /* Every strict prefix of a valid frame is incomplete, so none of them may decode. */
    for (size_t cut = 1; cut < first.len; cut += 1 + cut / 4)
        PW_FUZZ_CHECK(pw_msg_decode(first.data, cut, &back) != PW_OK);

    pw_buf_free(&first);
    pw_buf_free(&second);
    return 0;
}
