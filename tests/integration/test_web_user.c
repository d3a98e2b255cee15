/* SPDX-License-Identifier: MIT */
/* planwatch web-user: the dashboard's desk logins, through the real binary. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"

PW_FIXTURE_SUITE(web_user, 120.0);

static char users[192];

/* planwatch with args (after the program name); stdin is /dev/null. */
static int run(char *const args[], char **out, char **err)
{
    return pw_fixture_run(&fx, args, 30000, out, err);
}

/* `planwatch web-user add NAME --role ROLE --users USERS --password-stdin` fed password. */
static int add(const char *name, const char *role, const char *password, char **out, char **err)
{
    char script[1024], path[192];
    snprintf(script, sizeof(script),
             "printf '%%s\\n' '%s' | \"$0\" web-user add '%s' --role '%s' --users \"$1\" "
             "--password-stdin",
             password, name, role);
    snprintf(path, sizeof(path), "%s/add-%d.out", fx.dir, fx.runs++);
    char *args[] = {"sh", "-c", script, PLANWATCH_BIN, users, NULL};
    return pw_proc_capture("/bin/sh", args, path, 30000, out, err);
}

static void set_users(void)
{
    pw_fixture_path(&fx, users, sizeof(users), "web.users");
}

Test(web_user, add_list_remove)
{
    set_users();
    char *out, *err;
    cr_assert_eq(add("chen", "director", "correct horse", &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "added chen (director)"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(add("wang", "admin", "battery staple", &out, &err), 0, "%s", err);
    free(out);
    free(err);
    struct stat st;
    cr_assert_eq(stat(users, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char *text = pw_read_file(users);
    cr_assert(strstr(text, "chen:director:$argon2id$"), "%s", text);
    cr_assert_not(strstr(text, "correct horse"));

    char *list[] = {"web-user", "list", "--users", users, NULL};
    cr_assert_eq(run(list, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "chen") && strstr(out, "director"), "%s", out);
    cr_assert(strstr(out, "wang") && strstr(out, "admin"), "%s", out);
    cr_assert_not(strstr(out, "$argon2id$"), "list never shows a hash: %s", out);
    cr_assert_not(strstr(out, strchr(strstr(text, "chen:"), '$')), "%s", out);
    free(text);
    free(out);
    free(err);

    char *rm[] = {"web-user", "remove", "chen", "--users", users, NULL};
    cr_assert_eq(run(rm, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    cr_assert_eq(run(list, &out, &err), 0, "%s", err);
    cr_assert_not(strstr(out, "chen"), "%s", out);
    cr_assert(strstr(out, "wang"), "%s", out);
    free(out);
    free(err);

    cr_assert_eq(run(rm, &out, &err), 1, "removing chen twice");
    cr_assert(strstr(err, "planwatch web-user: ") && strstr(err, "chen"), "%s", err);
    free(out);
    free(err);
}

Test(web_user, the_environment_names_the_default_file)
{
    set_users();
    setenv("PLANWATCH_WEB_USERS", users, 1); /* the child inherits it */
    char *out, *err;
    cr_assert_eq(add("chen", "staff", "correct horse", &out, &err), 0, "%s", err);
    free(out);
    free(err);
    char *list[] = {"web-user", "list", NULL};
    cr_assert_eq(run(list, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "chen") && strstr(out, "staff"), "%s", out);
    free(out);
    free(err);
}

Test(web_user, usage_errors_exit_2)
{
    set_users();
    char *cases[][8] = {
        {"web-user", "add", "chen", "--role", "boss", "--users", users, NULL},
        {"web-user", "add", "chen", "--users", users, NULL},
        {"web-user", "add", "bad name", "--role", "staff", "--users", users, NULL},
        {"web-user", "frobnicate", NULL},
        {"web-user", NULL},
        {"web-user", "remove", NULL},
        {"web-user", "list", "extra", NULL},
        {"web-user", "list", "--role", "admin", NULL},
        {"web-user", "list", "--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out, *err;
        cr_assert_eq(run(cases[i], &out, &err), 2, "case %zu", i);
        cr_assert(err && strlen(err) > 0, "case %zu says why on stderr", i);
        free(out);
        free(err);
    }
    struct stat st;
    cr_assert_neq(stat(users, &st), 0, "no bad usage wrote the file");
}

Test(web_user, no_password_without_a_terminal_exits_1)
{
    set_users();
    char *args[] = {"web-user", "add", "chen", "--role", "staff", "--users", users, NULL};
    char *out, *err;
    cr_assert_eq(run(args, &out, &err), 1);
    cr_assert(strstr(err, "planwatch web-user: no password"), "%s", err);
    free(out);
    free(err);
    struct stat st;
    cr_assert_neq(stat(users, &st), 0, "nothing written");
}

Test(web_user, a_short_password_or_a_bad_file_exits_1)
{
    set_users();
    char *out, *err;
    cr_assert_eq(add("chen", "staff", "short", &out, &err), 1);
    cr_assert(strstr(err, "password"), "%s", err);
    free(out);
    free(err);
    pw_fixture_write(users, "# desks\nchen:boss:$argon2id$x\n");
    char *list[] = {"web-user", "list", "--users", users, NULL};
    cr_assert_eq(run(list, &out, &err), 1);
    char want[256];
    snprintf(want, sizeof(want), "%s:2: unknown role", users);
    cr_assert(strstr(err, want), "%s", err);
    free(out);
    free(err);
}

Test(web_user, a_loose_file_is_warned_about)
{
    set_users();
    pw_fixture_write(users, "# nobody yet\n");
    chmod(users, 0644);
    char *list[] = {"web-user", "list", "--users", users, NULL};
    char *out, *err;
    cr_assert_eq(run(list, &out, &err), 0, "%s", err);
    cr_assert(strstr(err, "warning") && strstr(err, "chmod 600"), "%s", err);
    free(out);
    free(err);
}
