/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pw/error.h"

volatile sig_atomic_t pw_cli_stop = 0;
volatile sig_atomic_t pw_cli_reload = 0;

static void on_hup(int sig)
{
    (void)sig;
    pw_cli_reload = 1;
}

static void on_signal(int sig)
{
    (void)sig;
    if (pw_cli_stop)
        _exit(1); /* asked twice: stop now */
    pw_cli_stop = 1;
}

void pw_cli_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

const char *pw_cli_self(void)
{
    static char path[4096];
    if (!path[0]) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        if (n <= 0)
            snprintf(path, sizeof(path), "planwatch");
        else
            path[n] = '\0';
    }
    return path;
}

const char *pw_cli_datadir(void)
{
    const char *env = getenv("PLANWATCH_DATA");
    if (env && *env)
        return env;
    /* An installed binary uses the share/planwatch installed with it, found
     * from where it is: `cmake --install --prefix` may have put both under
     * another prefix than the configured one. A binary in its build tree uses
     * the source tree's data. */
    static char beside[4096];
    const char *self = pw_cli_self(), *slash = strrchr(self, '/');
    char probe[sizeof(beside) + 32];
    if (slash && (size_t)snprintf(beside, sizeof(beside), "%.*s/%s", (int)(slash - self), self,
                                  PW_DATADIR_FROM_BIN) < sizeof(beside)) {
        snprintf(probe, sizeof(probe), "%s/wuhan/catalog.conf", beside);
        if (access(probe, R_OK) == 0)
            return beside;
    }
    if (access(PW_DATADIR_BUILD "/wuhan/catalog.conf", R_OK) == 0)
        return PW_DATADIR_BUILD;
    return PW_DATADIR_INSTALL;
}

int pw_cli_load_catalog(const char *path, pw_catalog_t **out)
{
    char def[4096], err[512] = "";
    if (!path) {
        snprintf(def, sizeof(def), "%s/wuhan/catalog.conf", pw_cli_datadir());
        path = def;
    }
    int rc = pw_catalog_load(path, out, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "planwatch: %s\n", err[0] ? err : pw_strerror(rc));
    return rc;
}

