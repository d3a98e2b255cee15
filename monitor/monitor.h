/* SPDX-License-Identifier: MIT */
#ifndef PW_MONITOR_H
#define PW_MONITOR_H

/*
 * The bureau's monitor: the evaluation table and alerts from a publisher,
 * kept up to date (client.h), drawn as tables or JSON (view.h), with hooks
 * for alerts (hook.h).
 */

/** planwatch monitor: argv[0] is the subcommand's name. Exit status 0, 1 or 2. */
int pw_cmd_monitor(int argc, char **argv);

#endif
