/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE
#include "tmpdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "pw/util.h"

int pw_tmpdir_make(char buf[64])
{
    snprintf(buf, 64, "/tmp/pw-test-XXXXXX");
    return mkdtemp(buf) ? 0 : -errno;
}

void pw_tmpdir_remove(const char *path)
{
    if (path && path[0])
        pw_rm_rf(path);
}
