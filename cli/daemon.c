/* SPDX-License-Identifier: MIT */
#include "daemon.h"

#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "config.h"
#include "pw/error.h"

/* While the options are read: what the runner takes itself, and the command's. */
struct reading {
    const pw_cli_daemon_t *daemon;
    void *opts;
    pw_log_level_t level;
    bool check_only;
};

static int take_option(void *ctx, int c, const char *arg)
{
    struct reading *r = ctx;
    if (c == PW_CLI_CHECK_CONFIG) {
        r->check_only = true;
        return 0;
    }
    if (c != PW_CLI_LOG_LEVEL)
        return pw_cli_take(&r->daemon->cmd, r->opts, c, arg);
    if (pw_log_level_parse(arg, &r->level) != 0) {
        fprintf(stderr, "planwatch %s: %sunknown log level '%s'\n", r->daemon->cmd.name,
                pw_config_where(), arg);
        return 2;
    }
    return 0;
}

static int finish(void *ctx, int nargs, char **args)
{
    struct reading *r = ctx;
    if (r->daemon->cmd.finish)
        return r->daemon->cmd.finish(r->opts, nargs, args);
    return nargs ? PW_CLI_USAGE : 0;
}

/* Load the plan, start, run until stopped, stop: the exit status. */
static int live(const pw_cli_daemon_t *self, void *opts)
{
    pw_catalog_t *cat = NULL;
    if (self->catalog(opts, &cat) != 0)
        return 1;
    int rc = self->start(opts, cat);
    if (rc != 0)
        PW_ERROR("cannot start: %s", pw_strerror(rc));
    else
        rc = self->run(opts, &pw_cli_stop);
    if (self->stop)
        self->stop(opts);
    pw_catalog_destroy(&cat);
    return rc == 0 ? 0 : 1;
}

int pw_cli_daemon_main(const pw_cli_daemon_t *self, int argc, char **argv, void *opts)
{
    int status = pw_config_expand(self->cmd.name, self->cmd.longopts, &argc, &argv);
    if (status != 0)
        return status;
    struct reading r = {.daemon = self, .opts = opts, .level = self->level};
    pw_cli_command_t cmd = self->cmd;
    cmd.option = take_option;
    cmd.finish = finish;
    cmd.fields = NULL; /* they are the command's, taken by take_option */
    if (!pw_cli_parse(&cmd, argc, argv, &r, &status))
        return status;
    if (r.check_only)
        return self->check(opts);
    pw_log_init(self->cmd.name, r.level);
    pw_cli_signals();
    return live(self, opts);
}
