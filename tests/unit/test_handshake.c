/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "pw/handshake.h"
#include "pw/log.h"

static void quiet(void)
{
    pw_log_init("test", PW_LOG_ERROR); /* the refusals are warnings: not shown */
}

TestSuite(handshake, .init = quiet, .timeout = 10.0);

static uint64_t withheld(const pw_refusal_limit_t *l, const char *addr)
{
    uint64_t n = 0;
    for (size_t i = 0; i < PW_REFUSAL_PEERS; i++)
        if (strcmp(l->peers[i].addr, addr) == 0)
            n += l->peers[i].withheld;
    return n;
}

Test(handshake, refusals_are_logged_once_per_address_and_reason_then_counted)
{
    static pw_refusal_limit_t l;
    for (int i = 0; i < 50; i++)
        pw_refusal_log(&l, PW_LOG_WARN, "intake", "10.0.0.1", "wrong key");
    cr_assert_eq(withheld(&l, "10.0.0.1"), 49, "one line, 49 counted");
    /* Another reason, or another address, gets its own line. */
    pw_refusal_log(&l, PW_LOG_WARN, "intake", "10.0.0.1", "mismatch");
    pw_refusal_log(&l, PW_LOG_WARN, "intake", "10.0.0.2", "wrong key");
    cr_assert_eq(withheld(&l, "10.0.0.1"), 49);
    cr_assert_eq(withheld(&l, "10.0.0.2"), 0);
    /* More peers than the table holds: the quietest make room, no crash. */
    for (int i = 0; i < 3 * PW_REFUSAL_PEERS; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "10.0.1.%d", i);
        pw_refusal_log(&l, PW_LOG_WARN, "intake", addr, "wrong key");
    }
}
