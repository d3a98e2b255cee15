/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "pw/util.h"

Test(util, big_calloc_is_zeroed_writable_and_whole_huge_pages)
{
    size_t len = 0, n = 16449, size = 376; /* the aggregator's decoded batch */
    unsigned char *p = pw_big_calloc(n, size, &len);
    cr_assert_not_null(p);
    cr_assert_geq(len, n * size);
    cr_assert_eq(len % ((size_t)2 << 20), 0, "whole 2 MiB pages: %zu", len);
    for (size_t i = 0; i < len; i += 4096)
        cr_assert_eq(p[i], 0);
    memset(p, 0xab, len);
    cr_assert_eq(p[len - 1], 0xab);
    pw_big_free(p, len);
    pw_big_free(NULL, 0);
}

Test(util, big_calloc_refuses_an_overflowing_size)
{
    size_t len = 7;
    cr_assert_null(pw_big_calloc(SIZE_MAX / 2, 4, &len));
    cr_assert_eq(len, 0);
}
