/* SPDX-License-Identifier: MIT */
#ifndef PW_ENDPOINT_H
#define PW_ENDPOINT_H

#include <stddef.h>

/* The endpoints one daemon derives from another's, so that both agree. */

/** The aggregator's notify endpoint for a store directory: ipc://DIR/notify.sock. */
void pw_notify_endpoint(const char *store_dir, char *buf, size_t len);

/**
 * The snapshot endpoint that goes with a PUB endpoint: the next TCP port
 * ("tcp://h:5560" -> "tcp://h:5561"), or the ipc path plus ".snap".
 * 0, or -EINVAL when it cannot be derived (a wildcard port).
 */
int pw_snapshot_endpoint(const char *pub, char *buf, size_t len);

#endif
