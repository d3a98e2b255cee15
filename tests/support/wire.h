/* SPDX-License-Identifier: MIT */
#ifndef PW_TEST_WIRE_H
#define PW_TEST_WIRE_H

#include <stdbool.h>

#include "pw/msg.h"

/* Speaking the intake protocol by hand, as a hostile or test client would. */

/** Encodes m and sends it as one frame. 0 or -1. */
int pw_wire_send(void *sock, const pw_msg_t *m);

/** Waits up to ms for one frame and decodes it into *m. false on timeout or a bad frame. */
bool pw_wire_recv(void *sock, int ms, pw_msg_t *m);

#endif
