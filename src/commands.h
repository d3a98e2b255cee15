/* SPDX-License-Identifier: MIT */
#ifndef PW_COMMANDS_H
#define PW_COMMANDS_H

/* The subcommands main.c dispatches to: each component's, from its header, and
 * the few that belong to the program as a whole. argv[0] is the subcommand's name. */

#include "aggregator.h"
#include "collector.h"
#include "monitor.h"
#include "publisher.h"
#include "replay.h"
#include "report.h"
#include "users.h"
#include "web.h"

int pw_cmd_demo(int argc, char **argv);
int pw_cmd_keygen(int argc, char **argv);
int pw_cmd_status(int argc, char **argv);

#endif
