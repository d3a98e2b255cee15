/* SPDX-License-Identifier: MIT */
#include "pw/error.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

const char *pw_strerror(int rc)
{
    switch (rc) {
    case PW_OK:
        return "success";
#define PW_ERROR_TEXT(name, code, text)                                                   \
    case PW_##name:                                                                       \
        return text;
        PW_ERROR_MAP(PW_ERROR_TEXT)
#undef PW_ERROR_TEXT
    default:
        /* zmq_strerror covers libzmq's own errnos and falls back to strerror. */
        return rc < 0 ? zmq_strerror(-rc) : "unknown error";
    }
}

const char *pw_err_name(int rc)
{
    switch (rc) {
    case PW_OK:
        return "OK";
#define PW_ERROR_NAME(name, code, text)                                                   \
    case PW_##name:                                                                       \
        return #name;
        PW_ERROR_MAP(PW_ERROR_NAME)
#undef PW_ERROR_NAME
    case -ENOMEM:
        return "ENOMEM";
    case -EINVAL:
        return "EINVAL";
    case -ENOENT:
        return "ENOENT";
    case -EAGAIN:
        return "EAGAIN";
    case -EINTR:
        return "EINTR";
    default:
        return "UNKNOWN";
    }
}

int pw_err_from_name(const char *name)
{
#define PW_ERROR_FIND(ename, code, text)                                                  \
    if (strcmp(name, #ename) == 0)                                                        \
        return PW_##ename;
    PW_ERROR_MAP(PW_ERROR_FIND)
#undef PW_ERROR_FIND
    return 0;
}
