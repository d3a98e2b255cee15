/* SPDX-License-Identifier: MIT */
#ifndef PW_TEST_TMPDIR_H
#define PW_TEST_TMPDIR_H

/** Creates a fresh directory /tmp/pw-test-XXXXXX into buf (64 bytes). 0 or -errno. */
int pw_tmpdir_make(char buf[64]);

/** Removes the directory tree. */
void pw_tmpdir_remove(const char *path);

#endif
