/* SPDX-License-Identifier: MIT */
#include "pw/endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pw_notify_endpoint(const char *store_dir, char *buf, size_t len)
{
    snprintf(buf, len, "ipc://%s/notify.sock", store_dir);
}

int pw_snapshot_endpoint(const char *pub, char *buf, size_t len)
{
    if (strncmp(pub, "ipc://", 6) == 0) {
        snprintf(buf, len, "%s.snap", pub);
        return 0;
    }
    const char *colon = strrchr(pub, ':');
    if (strncmp(pub, "tcp://", 6) != 0 || !colon || colon[1] == '*')
        return -EINVAL;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port >= 65535)
        return -EINVAL;
    snprintf(buf, len, "%.*s:%ld", (int)(colon - pub), pub, port + 1);
    return 0;
}
