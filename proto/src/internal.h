/* SPDX-License-Identifier: MIT */
#ifndef PW_INTERNAL_H
#define PW_INTERNAL_H

#include <stddef.h>

#include <msgpack.h>

#include "pw/msg.h"

/* Private declarations shared by the files of proto/src; never installed. */

/** Largest standalone event frame (snapshot and range replies embed many events). */
#define PW__EVENT_MAXSIZE (16u * 1024u * 1024u)

/** Deepest container nesting a frame may use (reply > alerts > event > top > district is 5). */
#define PW__MP_MAXDEPTH 5

/** Intake messages are flat maps: anything nested deeper than this is hostile. */
#define PW__MSG_MAXDEPTH 4

/* The intake message's keys, shared by the writer, the validator and both
 * decoders; in the order the encoder writes them. The order of msg.h's table
 * is a subsequence of this one for every type, so a single list gives both
 * the key set and the key order of each type. */
enum pw__msg_key {
    K_PV,
    K_TY,
    K_D,
    K_EP,
    K_S,
    K_E,
    K_P,
    K_V,
    K_T,
    K_RT,
    K_K,
    K_R,
    K_M,
    K_LG,
    K_B,
    K_COUNT
};

#define KEY_BIT(k) (1u << (unsigned)(k))

/** The key a map key is (K_PV..K_B), or -1 for any other object. */
int pw__msg_key_index(const msgpack_object *key);

/**
 * What both decoders do once the keys are known: vals[k] is the value of key
 * k, or NULL, and seen has KEY_BIT(k) for each one present. Checks the type
 * and that exactly its keys are there, then every field in key order, so that
 * the first bad field in that order names the code. Returns 0, PW_EMALFORMED,
 * or the code of the first bad field (PW_ESEQ, PW_EPERIOD, PW_EVALUE,
 * PW_ETIME); out is then partly filled, for the caller to reset.
 */
int pw__msg_decode_fields(const msgpack_object *const vals[K_COUNT], unsigned seen, pw_msg_t *out);

/* The event keys, in the order the writer puts them; an event's map may
 * also hold keys of later versions, which the decoder skips. */
enum pw__event_key {
    E_PV,
    E_TY,
    E_Q,
    E_T,
    E_I,
    E_SR,
    E_P,
    E_VAL,
    E_RATE,
    E_BAND,
    E_ACH,
    E_HAVE,
    E_WANT,
    E_A,
    E_WHY,
    E_PL,
    E_TG,
    E_NP,
    E_TOP,
    E_COUNT
};


/** The spelling of each event key, and its length (for the direct readers and writers). */
extern const char *const pw__event_key_names[E_COUNT];
extern const unsigned char pw__event_key_lens[E_COUNT];

#endif
