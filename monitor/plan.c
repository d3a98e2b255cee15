/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "pw/bureau.h"
#include "pw/error.h"

/* Checks that file is the plan a store or publisher records (stored), as
 * pw_cli_store_catalog() does; where names it in the message. */
static int same_plan(const char *cmd, const char *where, const pw_catalog_t *stored,
                     const char *path, const pw_catalog_t *file)
{
    if (memcmp(stored->digest, file->digest, 32) == 0)
        return 0;
    char a[13], b[13];
    pw_cli_short_digest(stored->digest, a);
    pw_cli_short_digest(file->digest, b);
    fprintf(stderr,
            "planwatch %s: %s is not the plan %s serves (its plan is \"%s\", digest %s; the "
            "file's is \"%s\", digest %s): leave out --catalog to use its own plan\n",
            cmd, path, where, stored->name, a, file->name, b);
    return PW_EINCOMPAT;
}

int pw_client_catalog(const char *cmd, const char *pub, const char *snap,
                             const pw_client_auth_t *auth, const char *path, int timeout_ms,
                             pw_catalog_t **out)
{
    *out = NULL;
    pw_client_t *client = NULL;
    pw_reply_t rep = {0};
    pw_request_t req = {.type = PW_REQ_PLAN};
    pw_catalog_t *served = NULL, *file = NULL;
    int rc = pw_client_new(pub, snap, auth, &client);
    if (rc != 0) {
        fprintf(stderr, "planwatch %s: cannot connect to %s: %s\n", cmd, pub, pw_strerror(rc));
        goto out;
    }
    if ((rc = pw_client_request(client, &req, timeout_ms, &rep)) != 0) {
        /* auth->why says when handshakes failed: keys are then the likely cause. */
        const char *why = auth && auth->why ? auth->why : "";
        if (rc == PW_ETIMEOUT)
            fprintf(stderr, "planwatch %s: no answer from %s (asked for its plan): timed out "
                            "after %d s%s%s\n",
                    cmd, pub, (timeout_ms + 999) / 1000, why[0] ? ": " : "", why);
        else
            fprintf(stderr, "planwatch %s: no plan from the publisher at %s: %s\n", cmd, pub,
                    pw_strerror(rc));
        goto out;
    }
    if (rep.plan) {
        char name[512], err[512] = "";
        snprintf(name, sizeof(name), "the plan the publisher at %s serves", pub);
        if ((rc = pw_catalog_parse(name, rep.plan, rep.plan_len, &served, err, sizeof(err)))) {
            fprintf(stderr, "planwatch %s: %s\n", cmd, err[0] ? err : pw_strerror(rc));
            goto out;
        }
    }
    if (served && !path) {
        *out = served;
        served = NULL;
    } else if ((rc = pw_cli_load_catalog(path, &file)) == 0 &&
               (!served || (rc = same_plan(cmd, pub, served, path, file)) == 0)) {
        /* A store that records no plan: the file (or default) as before. */
        *out = file;
        file = NULL;
    }
out:
    pw_catalog_destroy(&served);
    pw_catalog_destroy(&file);
    pw_reply_clear(&rep);
    pw_client_destroy(&client);
    return rc;
}
