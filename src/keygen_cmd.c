/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "command.h"
#include "commands.h"
#include "pw/auth.h"
#include "pw/error.h"
#include "pw/util.h"

static const char usage_text[] =
    "usage: planwatch keygen --out DIR [options]\n"
    "\n"
    "Creates the CURVE keys of a planwatch installation (ZeroMQ CURVE, Z85 text):\n"
    "  DIR/aggregator.pub, .secret      the aggregator's (collectors need the .pub)\n"
    "  DIR/publisher.pub, .secret       the publisher's (monitors need the .pub)\n"
    "  DIR/districts/ID.pub, .secret    one per reporter of the catalog\n"
    "  DIR/desks/NAME.pub, .secret      one per bureau desk (monitors)\n"
    ".secret files are mode 0600. Existing keys are kept: run it again to add\n"
    "what is missing. Give each office only its own .secret and the server's\n"
    ".pub; the aggregator needs aggregator.secret and districts/*.pub only.\n"
    "\n"
    "options:\n"
    "  --out DIR          where the keys go (created, mode 0700)\n"
    "  --catalog FILE     the reporters to make district keys for\n"
    "                     (default: the Wuhan plan's)\n"
    "  --district ID      only this district's key (repeatable)\n"
    "  --desk NAME        only this desk's key (repeatable; without --district\n"
    "                     or --desk: every district and the desks 'bureau'\n"
    "                     and 'web', the dashboard's)\n"
    "  --force            replace the keys named by --district/--desk: key\n"
    "                     rotation (then SIGHUP the aggregator or publisher)\n"
    "  -h, --help         this text\n";

#define NAMES_MAX 64

/* Creates one pair unless it exists (or replaces it when forced); 0 or 1 on error. */
static int make(const char *dir, const char *name, const char *role, bool force)
{
    int rc = pw_key_generate(dir, name, role, force);
    if (rc == -EEXIST) {
        printf("kept     %s/%s.pub\n", dir, name);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "planwatch keygen: %s/%s: %s\n", dir, name, pw_strerror(rc));
        return 1;
    }
    printf("%s %s/%s.pub and .secret\n", force ? "replaced" : "created ", dir, name);
    return 0;
}

/* The command's options. */
struct keygen_cmd {
    const char *out, *catalog_path;
    const char *districts[NAMES_MAX], *desks[NAMES_MAX];
    size_t nd, nk;
    bool force;
};

static int take_option(void *p, int c, const char *arg)
{
    struct keygen_cmd *o = p;
    switch (c) {
    case 'd':
    case 'k':
        if ((c == 'd' ? o->nd : o->nk) == NAMES_MAX) {
            fprintf(stderr, "planwatch keygen: at most %d of each\n", NAMES_MAX);
            return 2;
        }
        if (c == 'd')
            o->districts[o->nd++] = arg;
        else
            o->desks[o->nk++] = arg;
        return 0;
    default:
        return PW_CLI_USAGE;
    }
}

static int finish(void *p, int nargs, char **args)
{
    const struct keygen_cmd *o = p;
    (void)args;
    return !o->out || nargs != 0 ? PW_CLI_USAGE : 0;
}

int pw_cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, 0, 'o'},      {"catalog", required_argument, 0, 'c'},
        {"district", required_argument, 0, 'd'}, {"desk", required_argument, 0, 'k'},
        {"force", no_argument, 0, 'f'},          {"help", no_argument, 0, PW_CLI_HELP},
        {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'o', offsetof(struct keygen_cmd, out)},
        {'c', offsetof(struct keygen_cmd, catalog_path)},
        {'f', offsetof(struct keygen_cmd, force)},
        {0, 0}};
    static const pw_cli_command_t command = {"keygen", usage_text, longopts,
                                             take_option, finish, fields};
    struct keygen_cmd o = {0};
    int status;
    if (!pw_cli_parse(&command, argc, argv, &o, &status))
        return status;
    const char *out = o.out, *const *districts = o.districts, *const *desks = o.desks;
    size_t nd = o.nd, nk = o.nk;
    bool force = o.force;
    if (force && nd == 0 && nk == 0) {
        fprintf(stderr, "planwatch keygen: --force replaces only the keys named by "
                        "--district or --desk\n");
        return 2;
    }
    pw_catalog_t *cat = NULL;
    if (pw_cli_load_catalog(o.catalog_path, &cat) != 0)
        return 1;
    int failed = 0;
    for (size_t i = 0; i < nd; i++) {
        if (pw_catalog_district(cat, districts[i], strlen(districts[i])) < 0) {
            fprintf(stderr, "planwatch keygen: '%s' is not a district of the catalog\n",
                    districts[i]);
            failed = 1;
        }
    }
    char sub[4096];
    int rc = failed ? 0 : pw_mkdir_p(out);
    if (rc != 0) {
        fprintf(stderr, "planwatch keygen: %s: %s\n", out, pw_strerror(rc));
        failed = 1;
    }
    if (!failed) {
        failed |= make(out, "aggregator", "aggregator", false);
        failed |= make(out, "publisher", "publisher", false);
        snprintf(sub, sizeof(sub), "%s/districts", out);
        if (nd == 0 && nk == 0)
            for (size_t i = 0; i < cat->ndistricts; i++)
                failed |= make(sub, cat->districts[i].id, "district", false);
        for (size_t i = 0; i < nd; i++)
            failed |= make(sub, districts[i], "district", force);
        snprintf(sub, sizeof(sub), "%s/desks", out);
        /* The bureau's monitors, and the dashboard (planwatch web). */
        if (nd == 0 && nk == 0)
            failed |= make(sub, "bureau", "desk", false) | make(sub, "web", "desk", false);
        for (size_t i = 0; i < nk; i++)
            failed |= make(sub, desks[i], "desk", force);
    }
    pw_catalog_destroy(&cat);
    return failed ? 1 : 0;
}
