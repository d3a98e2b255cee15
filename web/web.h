/* SPDX-License-Identifier: MIT */
#ifndef PW_WEB_H
#define PW_WEB_H

/*
 * planwatch web: the bureau's dashboard, a process of its own that follows the
 * publisher like a monitor and serves live pages, alert follow-up and
 * notifications to logged-in desks (see live.h, http.h, pages.h, notify.h,
 * users.h and state/followup.h).
 */

/** planwatch web: argv[0] is the subcommand's name. Exit status 0, 1 or 2. */
int pw_cmd_web(int argc, char **argv);

#endif
