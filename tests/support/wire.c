/* SPDX-License-Identifier: MIT */
#include "wire.h"

#include <zmq.h>

int pw_wire_send(void *sock, const pw_msg_t *m)
{
    pw_buf_t buf = {0};
    int rc = pw_msg_encode(m, &buf) == 0 && zmq_send(sock, buf.data, buf.len, 0) >= 0 ? 0 : -1;
    pw_buf_free(&buf);
    return rc;
}

bool pw_wire_recv(void *sock, int ms, pw_msg_t *m)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0)
        return false;
    char buf[8192];
    int n = zmq_recv(sock, buf, sizeof(buf), 0);
    return n > 0 && n <= (int)sizeof(buf) && pw_msg_decode(buf, (size_t)n, m) == 0;
}
