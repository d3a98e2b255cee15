/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "man.h"
#include "pw/error.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"demo", pw_cmd_demo, "run the whole pipeline on the Wuhan demo data"},
    {"aggregator", pw_cmd_aggregator, "take updates, store them, compute rates and alerts"},
    {"collector", pw_cmd_collector, "send a district's data file to the aggregator"},
    {"publisher", pw_cmd_publisher, "serve rates and alerts to the bureau"},
    {"monitor", pw_cmd_monitor, "show the evaluation table and alerts"},
    {"replay", pw_cmd_replay, "replay stored history: rebuild, re-watch, as-of, what-if"},
    {"verify", pw_cmd_verify, "compare two stores and list every difference"},
    {"export", pw_cmd_export, "write a store's update log to a portable file (msgpack or CSV)"},
    {"import", pw_cmd_import, "load an exported log into a new store"},
    {"keygen", pw_cmd_keygen, "create CURVE keys for the aggregator, publisher, districts, desks"},
    {"report", pw_cmd_report, "the evaluation table for a period: text, HTML with charts, CSV"},
    {"status", pw_cmd_status, "show the daemons' counters from their --metrics files"},
    {"web", pw_cmd_web, "serve the bureau's live dashboard: pages, alert follow-up, notices"},
    {"web-user", pw_cmd_web_user, "add, remove and list the dashboard's desk logins"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: planwatch <command> [options]   (planwatch <command> --help)\n\n"
                 "Watches a five-year plan's indicators: district collectors send data\n"
                 "elements, the aggregator stores them in LMDB and computes city-wide\n"
                 "values, progress rates and alerts, the publisher serves them.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].what);
    fprintf(out, "\noptions:\n  -h, --help     this text\n  -V, --version  the version\n");
}

/* Runs a command's --help with stdout caught in a temporary file; the text or NULL. */
static char *help_of(int (*fn)(int, char **), const char *name)
{
    FILE *tmp = tmpfile();
    if (!tmp)
        return NULL;
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    char *text = NULL;
    if (saved >= 0 && dup2(fileno(tmp), STDOUT_FILENO) >= 0) {
        char cmd[32], help[] = "--help";
        snprintf(cmd, sizeof(cmd), "%s", name);
        char *args[] = {cmd, help, NULL};
        int rc = fn(2, args);
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        long size = ftell(tmp);
        if (rc == 0 && size > 0 && (text = calloc(1, (size_t)size + 1)) != NULL) {
            rewind(tmp);
            if (fread(text, 1, (size_t)size, tmp) != (size_t)size) {
                free(text);
                text = NULL;
            }
        }
    }
    if (saved >= 0)
        close(saved);
    fclose(tmp);
    return text;
}

/* planwatch --man [CMD]: the man page of planwatch or of a command, made from
 * the very --help text, so the two cannot disagree (the build writes them). */
static int man(const char *name)
{
    size_t n = sizeof(commands) / sizeof(commands[0]);
    const char *see[sizeof(commands) / sizeof(commands[0])];
    char pages[sizeof(commands) / sizeof(commands[0])][48];
    for (size_t i = 0; i < n; i++) {
        snprintf(pages[i], sizeof(pages[i]), "planwatch-%s", commands[i].name);
        see[i] = pages[i];
    }
    if (!name) {
        FILE *tmp = tmpfile();
        char *text = NULL;
        long size;
        if (tmp) {
            usage(tmp);
            if ((size = ftell(tmp)) > 0 && (text = calloc(1, (size_t)size + 1)) != NULL) {
                rewind(tmp);
                if (fread(text, 1, (size_t)size, tmp) != (size_t)size)
                    text[0] = '\0';
            }
            fclose(tmp);
        }
        int rc = text && text[0] ? pw_man_write(stdout, "planwatch", "watch a five-year plan's "
                                                "indicators", text, see, n) : -EIO;
        free(text);
        return rc == 0 ? 0 : 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        char *text = help_of(commands[i].fn, name);
        const char *parent[] = {"planwatch"};
        int rc = text ? pw_man_write(stdout, pages[i], commands[i].what, text, parent, 1) : -EIO;
        free(text);
        return rc == 0 ? 0 : 1;
    }
    fprintf(stderr, "planwatch: --man: unknown command '%s'\n", name);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("planwatch %s\n", PW_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--man") == 0)
        return man(argc > 2 ? argv[2] : NULL);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            int rc = commands[i].fn(argc - 1, argv + 1);
            /* --check-config answers yes or no: a bad option is a bad configuration. */
            if (rc == 2 && pw_config_checking())
                rc = 1;
            pw_config_release();
            return rc;
        }
    fprintf(stderr, "planwatch: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
