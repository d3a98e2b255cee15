/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "command.h"
#include "pw/error.h"
#include "pw/util.h"
#include "users.h"

#define DEFAULT_USERS "/etc/planwatch/web.users"

static const char usage_text[] =
    "usage: planwatch web-user add|remove|list [NAME] [options]\n"
    "\n"
    "Keeps the desk logins of the dashboard (planwatch web) in its users file:\n"
    "one line NAME:ROLE:HASH per login, the password hashed with argon2id\n"
    "(libsodium). The file is rewritten atomically, mode 0600, keeping its other\n"
    "lines and comments. A director reads the pages; staff also follow alerts\n"
    "up; an admin also sees the users and the sessions. A NAME is 1 to 63 of\n"
    "A-Z a-z 0-9 . _ -; a password 8 to 1024 bytes. Exit status: 0 done, 1\n"
    "failed, 2 bad usage.\n"
    "\n"
    "commands:\n"
    "  add NAME --role ROLE   add the login NAME, or give an existing one a new\n"
    "                         role and password; the password is asked twice on\n"
    "                         the terminal, without echo\n"
    "  remove NAME            remove the login NAME\n"
    "  list                   the logins and their roles (never the hashes)\n"
    "\n"
    "options:\n"
    "  --role ROLE            director, staff or admin (add)\n"
    "  --users FILE           the users file (default: $PLANWATCH_WEB_USERS,\n"
    "                         else " DEFAULT_USERS ")\n"
    "  --password-stdin       read the password from the first line of stdin\n"
    "                         (add; for scripts)\n"
    "  -h, --help             this text\n";

#define PASSWORD_LINE_MAX 1024

enum action { ADD, REMOVE, LIST };

/* The command's options. */
struct web_user_cmd {
    const char *users, *role_name, *name;
    bool password_stdin;
    enum action action;
    pw_role_t role;
};

static int finish(void *p, int nargs, char **args)
{
    struct web_user_cmd *o = p;
    if (nargs < 1)
        return PW_CLI_USAGE;
    if (strcmp(args[0], "add") == 0)
        o->action = ADD;
    else if (strcmp(args[0], "remove") == 0)
        o->action = REMOVE;
    else if (strcmp(args[0], "list") == 0)
        o->action = LIST;
    else {
        fprintf(stderr, "planwatch web-user: unknown command '%s' (add, remove or list)\n",
                args[0]);
        return 2;
    }
    if (nargs != (o->action == LIST ? 1 : 2))
        return PW_CLI_USAGE;
    o->name = o->action == LIST ? NULL : args[1];
    if (o->name && !pw_user_name_ok(o->name)) {
        fprintf(stderr, "planwatch web-user: bad user name '%s' (1-63 of A-Z a-z 0-9 . _ -)\n",
                o->name);
        return 2;
    }
    if (o->action != ADD && (o->role_name || o->password_stdin)) {
        fprintf(stderr, "planwatch web-user: --role and --password-stdin are for add\n");
        return 2;
    }
    if (o->action == ADD) {
        if (!o->role_name) {
            fprintf(stderr, "planwatch web-user: add needs --role director|staff|admin\n");
            return 2;
        }
        o->role = pw_role_parse(o->role_name);
        if (o->role == PW_ROLE_NONE) {
            fprintf(stderr, "planwatch web-user: unknown role '%s' (director, staff or admin)\n",
                    o->role_name);
            return 2;
        }
    }
    if (!o->users) {
        const char *env = getenv("PLANWATCH_WEB_USERS");
        o->users = env && env[0] ? env : DEFAULT_USERS;
    }
    return 0;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/*
 * Reads one line of f into buf (len bytes), without its line end. 0, 1 at
 * the end of input, -E2BIG for a longer line (the rest of it is read and
 * dropped, so that no part of a password is left for the next read), -EINTR
 * or -EIO.
 */
static int read_line(FILE *f, char *buf, size_t len)
{
    size_t n = 0;
    bool long_line = false;
    for (;;) {
        int c = fgetc(f);
        if (c == EOF) {
            if (interrupted || (ferror(f) && errno == EINTR))
                return -EINTR;
            if (ferror(f))
                return -EIO;
            if (n == 0 && !long_line)
                return 1;
            break;
        }
        if (c == '\n')
            break;
        if (n + 1 < len)
            buf[n++] = (char)c;
        else
            long_line = true;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return long_line ? -E2BIG : 0;
}

/*
 * Asks for a password on the terminal, echo off, into buf. The signals that
 * end the command are caught meanwhile, so that the terminal gets its echo
 * back whatever happens. 0 or -errno.
 */
static int ask(const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    struct sigaction sa = {0}, old_int, old_term, old_hup;
    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return -errno;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    fputs(prompt, stderr);
    fflush(stderr);
    int rc = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0 ? -errno : 0;
    if (rc == 0)
        rc = read_line(stdin, buf, len);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    if (interrupted)
        fputs("\n", stderr);
    return rc == 1 ? -ENODATA : rc;
}

/* The new password into pw (len bytes): from stdin, or asked twice. 0, or 1 said why. */
static int get_password(const struct web_user_cmd *o, char *pw, size_t len)
{
    int rc;
    if (o->password_stdin) {
        rc = read_line(stdin, pw, len);
        if (rc == 0)
            return 0;
        fprintf(stderr, "planwatch web-user: reading the password from stdin: %s\n",
                rc == 1 ? "no line" : rc == -E2BIG ? "over 1024 bytes" : pw_strerror(rc));
        return 1;
    }
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "planwatch web-user: no password: stdin is not a terminal "
                        "(give it with --password-stdin)\n");
        return 1;
    }
    char again[PASSWORD_LINE_MAX + 2];
    char prompt[PW_USER_MAX + 32];
    snprintf(prompt, sizeof(prompt), "Password for %s: ", o->name);
    rc = ask(prompt, pw, len);
    if (rc == 0)
        rc = ask("Again: ", again, sizeof(again));
    if (rc == 0 && strcmp(pw, again) != 0) {
        fprintf(stderr, "planwatch web-user: the passwords differ\n");
        rc = 1;
    } else if (rc != 0) {
        fprintf(stderr, "planwatch web-user: reading the password: %s\n",
                rc == -EINTR ? "interrupted" : rc == -E2BIG ? "over 1024 bytes"
                                                            : pw_strerror(rc));
        rc = 1;
    }
    pw_secure_zero(again, sizeof(again));
    return rc;
}

static void warn_loose(const pw_users_t *users, const char *path)
{
    if (pw_users_loose(users))
        fprintf(stderr, "planwatch web-user: warning: %s is readable by group or others "
                        "(it holds password hashes: chmod 600 it)\n", path);
}

static int list(const struct web_user_cmd *o)
{
    char err[512];
    pw_users_t *users = NULL;
    int rc = pw_users_load(o->users, &users, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "planwatch web-user: %s\n", err);
        return 1;
    }
    warn_loose(users, o->users);
    for (size_t i = 0; i < pw_users_count(users); i++) {
        const char *name;
        pw_role_t role;
        pw_users_at(users, i, &name, &role);
        printf("%-24s %s\n", name, pw_role_name(role));
    }
    pw_users_destroy(&users);
    return 0;
}

static int add(const struct web_user_cmd *o)
{
    char err[512];
    pw_users_t *users = NULL;
    /* Read the file first: a bad one is said before anyone types a password. */
    int rc = pw_users_load(o->users, &users, err, sizeof(err));
    if (rc != 0 && rc != -ENOENT) {
        fprintf(stderr, "planwatch web-user: %s\n", err);
        return 1;
    }
    bool known = false;
    for (size_t i = 0; users && i < pw_users_count(users); i++) {
        const char *name;
        pw_users_at(users, i, &name, NULL);
        known |= strcmp(name, o->name) == 0;
    }
    pw_users_destroy(&users);
    char pw[PASSWORD_LINE_MAX + 2];
    int status = get_password(o, pw, sizeof(pw));
    if (status == 0) {
        rc = pw_users_set(o->users, o->name, o->role, pw, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "planwatch web-user: %s: %s\n", o->name, err);
            status = 1;
        } else {
            printf("%s %s (%s) in %s\n", known ? "replaced" : "added", o->name,
                   pw_role_name(o->role), o->users);
        }
    }
    pw_secure_zero(pw, sizeof(pw));
    return status;
}

static int remove_user(const struct web_user_cmd *o)
{
    char err[512];
    int rc = pw_users_remove(o->users, o->name, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "planwatch web-user: %s\n", err);
        return 1;
    }
    printf("removed %s from %s\n", o->name, o->users);
    return 0;
}

int pw_cmd_web_user(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"role", required_argument, 0, 'r'},
        {"users", required_argument, 0, 'u'},
        {"password-stdin", no_argument, 0, 'p'},
        {"help", no_argument, 0, PW_CLI_HELP},
        {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'r', offsetof(struct web_user_cmd, role_name)},
        {'u', offsetof(struct web_user_cmd, users)},
        {'p', offsetof(struct web_user_cmd, password_stdin)},
        {0, 0}};
    static const pw_cli_command_t command = {"web-user", usage_text, longopts,
                                             NULL, finish, fields};
    struct web_user_cmd o = {0};
    int status;
    if (!pw_cli_parse(&command, argc, argv, &o, &status))
        return status;
    switch (o.action) {
    case ADD:
        return add(&o);
    case REMOVE:
        return remove_user(&o);
    default:
        return list(&o);
    }
}
