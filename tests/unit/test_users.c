/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's desk logins (web/users.h): the users file, its atomic
 * rewrites and argon2id checks, and the sessions of those logged in.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proc.h"
#include "pw/error.h"
#include "tmpdir.h"
#include "users.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    cr_assert_eq(pw_tmpdir_make(dir), 0);
    snprintf(path, sizeof(path), "%s/web.users", dir);
}

static void teardown(void)
{
    pw_tmpdir_remove(dir);
}

TestSuite(users, .init = setup, .fini = teardown, .timeout = 60.0);

/* Well-formed hashes for files the tests write by hand (none checks a password). */
#define H1 "$argon2id$v=19$m=65536,t=2,p=1$o1BlwO6VIjTmGlZphdeVDA$RJ7Lw2FZyWuC7DBT7XesE0VjOpjUCeQwy48B901KtJ4"
#define H2 "$argon2id$v=19$m=65536,t=2,p=1$XEL0tq+qXpLj++p0Xxoxkg$YOInsrtUXa+fF9Gh/m8OoEyvE0SOvRA9ajtzQhvB8Mc"

static void write_file(const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    cr_assert_geq(fputs(text, f), 0);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, mode), 0);
}

static pw_users_t *load(void)
{
    char err[512] = "";
    pw_users_t *u = NULL;
    int rc = pw_users_load(path, &u, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s (%s)", err, pw_strerror(rc));
    return u;
}

static mode_t mode_of(const char *p)
{
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    return st.st_mode & 0777;
}

Test(users, loads_users_comments_and_blank_lines)
{
    write_file("# the bureau's desks\n"
               "\n"
               "chen:director:" H1 "\n"
               "   # an indented comment\n"
               "li.wei:staff:" H2 "\n"
               "\t\n"
               "root_admin-2:admin:" H1, /* no final newline */
               0600);
    pw_users_t *u = load();
    cr_assert_eq(pw_users_count(u), 3);
    const char *name;
    pw_role_t role;
    pw_users_at(u, 0, &name, &role);
    cr_assert_str_eq(name, "chen");
    cr_assert_eq(role, PW_ROLE_DIRECTOR);
    pw_users_at(u, 1, &name, &role);
    cr_assert_str_eq(name, "li.wei");
    cr_assert_eq(role, PW_ROLE_STAFF);
    pw_users_at(u, 2, &name, &role);
    cr_assert_str_eq(name, "root_admin-2");
    cr_assert_eq(role, PW_ROLE_ADMIN);
    cr_assert_not(pw_users_loose(u));
    pw_users_destroy(&u);
    cr_assert_null(u);
    pw_users_destroy(&u); /* NULL-safe */
}

Test(users, an_empty_file_has_no_users)
{
    write_file("", 0600);
    pw_users_t *u = load();
    cr_assert_eq(pw_users_count(u), 0);
    pw_users_destroy(&u);
}

/* The rows are passed by index: a test runs in a process of its own, where
 * the parent's pointers to the strings mean nothing. */
static const struct bad_case {
    const char *text;
    const char *want; /* in the message, after "path:" */
} bad_cases[] = {
    {"# ok\nchen:director:" H1 "\nwang:boss:" H1 "\n", ":3: unknown role"},
    {"chen:director:" H1 "\nwang:" H1 "\n", ":2: "},
    {"wang\n", ":1: expected NAME:ROLE:HASH"},
    {"wang:staff\n", ":1: expected NAME:ROLE:HASH"},
    {"\n\nwang li:staff:" H1 "\n", ":3: bad name"},
    {":staff:" H1 "\n", ":1: bad name"},
    {" wang:staff:" H1 "\n", ":1: bad name"},
    {"wang:staff:$2y$10$abcdefghijklmnopqrstuv\n", ":1: the hash is not an argon2id"},
    {"wang:staff:$argon2i$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA\n", ":1: the hash is not an argon2id"},
    {"wang:staff:plaintext-password\n", ":1: the hash is not an argon2id"},
    {"wang:staff:\n", ":1: the hash is not an argon2id"},
    {"wang:staff:" H1 "\n# x\nwang:admin:" H2 "\n", ":3: this user is already named"},
    {"a123456789012345678901234567890123456789012345678901234567890123:staff:" H1 "\n",
     ":1: bad name"},
};

#define NBAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

ParameterizedTestParameters(users, bad_lines_are_named_by_line)
{
    static size_t index[NBAD];
    for (size_t i = 0; i < NBAD; i++)
        index[i] = i;
    return cr_make_param_array(size_t, index, NBAD);
}

ParameterizedTest(size_t *i, users, bad_lines_are_named_by_line)
{
    const struct bad_case *c = &bad_cases[*i];
    write_file(c->text, 0600);
    char err[512] = "", want[256];
    pw_users_t *u = NULL;
    int rc = pw_users_load(path, &u, err, sizeof(err));
    cr_assert_eq(rc, -EINVAL, "case %zu: %s", *i, pw_strerror(rc));
    cr_assert_null(u);
    snprintf(want, sizeof(want), "%s%s", path, c->want);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "case %zu: got '%s', want '%s...'", *i, err,
              want);
}

Test(users, missing_file_is_enoent_and_named)
{
    char err[512] = "";
    pw_users_t *u = NULL;
    cr_assert_eq(pw_users_load(path, &u, err, sizeof(err)), -ENOENT);
    cr_assert_null(u);
    cr_assert(strstr(err, path), "%s", err);
}

Test(users, a_file_readable_by_others_is_flagged)
{
    write_file("chen:director:" H1 "\n", 0644);
    pw_users_t *u = load();
    cr_assert(pw_users_loose(u));
    pw_users_destroy(&u);
}

Test(users, right_and_wrong_password_and_unknown_user)
{
    char err[512] = "";
    cr_assert_eq(pw_users_set(path, "chen", PW_ROLE_STAFF, "correct horse", err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(pw_users_set(path, "wang", PW_ROLE_ADMIN, "battery staple", err, sizeof(err)),
                 0, "%s", err);
    pw_users_t *u = load();
    cr_assert_eq(pw_users_check(u, "chen", "correct horse"), PW_ROLE_STAFF);
    cr_assert_eq(pw_users_check(u, "wang", "battery staple"), PW_ROLE_ADMIN);
    cr_assert_eq(pw_users_check(u, "chen", "correct horsE"), PW_ROLE_NONE);
    cr_assert_eq(pw_users_check(u, "chen", "battery staple"), PW_ROLE_NONE);
    cr_assert_eq(pw_users_check(u, "chen", ""), PW_ROLE_NONE);
    cr_assert_eq(pw_users_check(u, "nobody", "correct horse"), PW_ROLE_NONE);
    cr_assert_eq(pw_users_check(u, "", "correct horse"), PW_ROLE_NONE);
    cr_assert_eq(pw_users_check(u, NULL, "correct horse"), PW_ROLE_NONE);
    pw_users_destroy(&u);
}

Test(users, set_creates_the_file_0600_with_an_argon2id_line)
{
    char err[512] = "";
    cr_assert_eq(pw_users_set(path, "chen", PW_ROLE_DIRECTOR, "password1", err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(mode_of(path), 0600);
    char *text = pw_read_file(path);
    cr_assert(strncmp(text, "chen:director:$argon2id$", 24) == 0, "%s", text);
    cr_assert_not(strstr(text, "password1"));
    cr_assert_eq(pw_count(text, "\n"), 1);
    free(text);
}

Test(users, set_makes_a_loose_file_0600)
{
    write_file("chen:director:" H1 "\n", 0644);
    char err[512] = "";
    cr_assert_eq(pw_users_set(path, "wang", PW_ROLE_STAFF, "password1", err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(mode_of(path), 0600);
}

Test(users, set_adds_and_replaces_keeping_every_other_line)
{
    const char *head = "# desks of the bureau\n"
                       "\n"
                       "chen:director:" H1 "\n"
                       "  # wang is on leave until June\n";
    const char *tail = "zhao:admin:" H2 "\n"
                       "# end\n";
    char text[2048];
    snprintf(text, sizeof(text), "%swang:staff:%s\n%s", head, H2, tail);
    write_file(text, 0600);
    char err[512] = "";
    /* Replace: the line stays where it was, with the new role and hash. */
    cr_assert_eq(pw_users_set(path, "wang", PW_ROLE_ADMIN, "new password", err, sizeof(err)), 0,
                 "%s", err);
    char *got = pw_read_file(path);
    cr_assert(strncmp(got, head, strlen(head)) == 0, "%s", got);
    cr_assert(strncmp(got + strlen(head), "wang:admin:$argon2id$", 21) == 0, "%s", got);
    cr_assert_not(strstr(got, H2 "\nzhao"), "the old hash is gone: %s", got);
    size_t n = strlen(got);
    cr_assert(n > strlen(tail) && strcmp(got + n - strlen(tail), tail) == 0, "%s", got);
    cr_assert_eq(pw_count(got, "wang:"), 1);
    free(got);
    /* Add: appended at the end, the rest untouched. */
    cr_assert_eq(pw_users_set(path, "liu", PW_ROLE_STAFF, "password2", err, sizeof(err)), 0,
                 "%s", err);
    got = pw_read_file(path);
    cr_assert(strncmp(got, head, strlen(head)) == 0, "%s", got);
    cr_assert(strstr(got, tail), "%s", got);
    cr_assert(strstr(got, "# end\nliu:staff:$argon2id$"), "%s", got);
    free(got);
    pw_users_t *u = load();
    cr_assert_eq(pw_users_count(u), 4);
    cr_assert_eq(pw_users_check(u, "wang", "new password"), PW_ROLE_ADMIN);
    cr_assert_eq(pw_users_check(u, "liu", "password2"), PW_ROLE_STAFF);
    pw_users_destroy(&u);
}

Test(users, set_appends_after_a_last_line_without_newline)
{
    write_file("chen:director:" H1, 0600);
    char err[512] = "";
    cr_assert_eq(pw_users_set(path, "wang", PW_ROLE_STAFF, "password1", err, sizeof(err)), 0,
                 "%s", err);
    pw_users_t *u = load();
    cr_assert_eq(pw_users_count(u), 2);
    pw_users_destroy(&u);
}

Test(users, set_refuses_bad_input_and_leaves_the_file)
{
    const char *text = "chen:director:" H1 "\n";
    write_file(text, 0600);
    char err[512] = "";
    cr_assert_eq(pw_users_set(path, "bad name", PW_ROLE_STAFF, "password1", err, sizeof(err)),
                 -EINVAL);
    cr_assert(strstr(err, "name"), "%s", err);
    cr_assert_eq(pw_users_set(path, "wang", PW_ROLE_NONE, "password1", err, sizeof(err)),
                 -EINVAL);
    cr_assert_eq(pw_users_set(path, "wang", PW_ROLE_STAFF, "short", err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "password"), "%s", err);
    char big[1100];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_assert_eq(pw_users_set(path, "wang", PW_ROLE_STAFF, big, err, sizeof(err)), -EINVAL);
    char *got = pw_read_file(path);
    cr_assert_str_eq(got, text);
    free(got);
}

Test(users, set_and_remove_refuse_a_malformed_file)
{
    const char *text = "chen:director:" H1 "\nwang:boss:" H1 "\n";
    write_file(text, 0600);
    char err[512] = "";
    cr_assert_eq(pw_users_set(path, "liu", PW_ROLE_STAFF, "password1", err, sizeof(err)),
                 -EINVAL);
    cr_assert(strstr(err, ":2: unknown role"), "%s", err);
    cr_assert_eq(pw_users_remove(path, "chen", err, sizeof(err)), -EINVAL);
    char *got = pw_read_file(path);
    cr_assert_str_eq(got, text);
    free(got);
}

Test(users, remove_drops_only_that_line)
{
    write_file("# desks\nchen:director:" H1 "\n\nwang:staff:" H2 "\n# end\n", 0644);
    char err[512] = "";
    cr_assert_eq(pw_users_remove(path, "chen", err, sizeof(err)), 0, "%s", err);
    char *got = pw_read_file(path);
    cr_assert_str_eq(got, "# desks\n\nwang:staff:" H2 "\n# end\n");
    free(got);
    cr_assert_eq(mode_of(path), 0600);
    cr_assert_eq(pw_users_remove(path, "chen", err, sizeof(err)), PW_ENOTFOUND);
    cr_assert(strstr(err, "chen"), "%s", err);
    /* A comment that looks like a user is not one. */
    cr_assert_eq(pw_users_remove(path, "desks", err, sizeof(err)), PW_ENOTFOUND);
    got = pw_read_file(path);
    cr_assert_str_eq(got, "# desks\n\nwang:staff:" H2 "\n# end\n");
    free(got);
}

Test(users, remove_from_a_missing_file_fails)
{
    char err[512] = "";
    cr_assert_eq(pw_users_remove(path, "chen", err, sizeof(err)), -ENOENT);
    cr_assert(strstr(err, path), "%s", err);
}

Test(users, no_temporary_file_is_left_behind)
{
    char err[512] = "";
    cr_assert_eq(pw_users_set(path, "chen", PW_ROLE_STAFF, "password1", err, sizeof(err)), 0);
    cr_assert_eq(pw_users_remove(path, "chen", err, sizeof(err)), 0);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", dir);
    cr_assert_eq(system(cmd), 0, "only the users file is in %s", dir);
}

Test(users, role_names_and_parse)
{
    cr_assert_str_eq(pw_role_name(PW_ROLE_DIRECTOR), "director");
    cr_assert_str_eq(pw_role_name(PW_ROLE_STAFF), "staff");
    cr_assert_str_eq(pw_role_name(PW_ROLE_ADMIN), "admin");
    for (pw_role_t r = PW_ROLE_DIRECTOR; r <= PW_ROLE_ADMIN; r++)
        cr_assert_eq(pw_role_parse(pw_role_name(r)), r);
    cr_assert_eq(pw_role_parse("Admin"), PW_ROLE_NONE);
    cr_assert_eq(pw_role_parse("root"), PW_ROLE_NONE);
    cr_assert_eq(pw_role_parse(""), PW_ROLE_NONE);
    cr_assert_eq(pw_role_parse("none"), PW_ROLE_NONE);
    cr_assert_eq(pw_role_parse(NULL), PW_ROLE_NONE);
}

Test(users, user_names)
{
    cr_assert(pw_user_name_ok("chen"));
    cr_assert(pw_user_name_ok("li.wei_2-b"));
    cr_assert_not(pw_user_name_ok(""));
    cr_assert_not(pw_user_name_ok("a:b"));
    cr_assert_not(pw_user_name_ok("a b"));
    cr_assert_not(pw_user_name_ok("caf\xc3\xa9"));
    char n[PW_USER_MAX + 1];
    memset(n, 'a', sizeof(n));
    n[PW_USER_MAX - 1] = '\0';
    cr_assert(pw_user_name_ok(n)); /* 63 bytes */
    n[PW_USER_MAX - 1] = 'a';
    n[PW_USER_MAX] = '\0';
    cr_assert_not(pw_user_name_ok(n)); /* 64 */
}

static bool is_hex64(const char *t)
{
    if (strlen(t) != 64)
        return false;
    for (const char *p = t; *p; p++)
        if (!strchr("0123456789abcdef", *p))
            return false;
    return true;
}

Test(users, sessions_start_find_end)
{
    pw_sessions_t *s = NULL;
    cr_assert_eq(pw_sessions_new(60000, &s), 0);
    char t1[65], t2[65], name[PW_USER_MAX];
    cr_assert_eq(pw_sessions_start(s, "chen", PW_ROLE_DIRECTOR, 1000, t1), 0);
    cr_assert_eq(pw_sessions_start(s, "wang", PW_ROLE_ADMIN, 1000, t2), 0);
    cr_assert(is_hex64(t1), "%s", t1);
    cr_assert(is_hex64(t2), "%s", t2);
    cr_assert_str_neq(t1, t2);
    cr_assert_eq(pw_sessions_find(s, t1, 2000, name), PW_ROLE_DIRECTOR);
    cr_assert_str_eq(name, "chen");
    cr_assert_eq(pw_sessions_find(s, t2, 2000, name), PW_ROLE_ADMIN);
    cr_assert_str_eq(name, "wang");
    cr_assert_eq(pw_sessions_count(s, 2000), 2);
    pw_sessions_end(s, t1);
    cr_assert_eq(pw_sessions_find(s, t1, 2000, name), PW_ROLE_NONE);
    cr_assert_str_eq(name, "");
    cr_assert_eq(pw_sessions_find(s, t2, 2000, NULL), PW_ROLE_ADMIN);
    pw_sessions_end(s, t1); /* twice: nothing */
    pw_sessions_destroy(&s);
    cr_assert_null(s);
    pw_sessions_destroy(&s);
}

Test(users, sessions_refuse_tokens_that_are_not_theirs)
{
    pw_sessions_t *s = NULL;
    cr_assert_eq(pw_sessions_new(60000, &s), 0);
    char t[65], name[PW_USER_MAX];
    cr_assert_eq(pw_sessions_start(s, "chen", PW_ROLE_STAFF, 0, t), 0);
    char other[65];
    memcpy(other, t, sizeof(other));
    other[10] = other[10] == '0' ? '1' : '0';
    cr_assert_eq(pw_sessions_find(s, other, 1, name), PW_ROLE_NONE);
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (t[i] >= 'a' && t[i] <= 'f') ? (char)(t[i] - 'a' + 'A') : t[i];
    if (strcmp(upper, t) != 0)
        cr_assert_eq(pw_sessions_find(s, upper, 1, name), PW_ROLE_NONE);
    char shorter[65];
    snprintf(shorter, sizeof(shorter), "%.63s", t);
    cr_assert_eq(pw_sessions_find(s, shorter, 1, name), PW_ROLE_NONE);
    char longer[70];
    snprintf(longer, sizeof(longer), "%s00", t);
    cr_assert_eq(pw_sessions_find(s, longer, 1, name), PW_ROLE_NONE);
    cr_assert_eq(pw_sessions_find(s, "", 1, name), PW_ROLE_NONE);
    cr_assert_eq(pw_sessions_find(s, NULL, 1, name), PW_ROLE_NONE);
    cr_assert_eq(pw_sessions_find(s, t, 1, name), PW_ROLE_STAFF);
    cr_assert_eq(pw_sessions_start(s, "bad name", PW_ROLE_STAFF, 0, t), -EINVAL);
    cr_assert_eq(pw_sessions_start(s, "chen", PW_ROLE_NONE, 0, t), -EINVAL);
    pw_sessions_destroy(&s);
}

Test(users, sessions_expire_when_idle_and_a_request_keeps_them)
{
    pw_sessions_t *s = NULL;
    cr_assert_eq(pw_sessions_new(1000, &s), 0);
    char t1[65], t2[65];
    cr_assert_eq(pw_sessions_start(s, "chen", PW_ROLE_STAFF, 0, t1), 0);
    cr_assert_eq(pw_sessions_start(s, "wang", PW_ROLE_STAFF, 0, t2), 0);
    /* chen keeps asking: each request moves the idle deadline on. */
    cr_assert_eq(pw_sessions_find(s, t1, 999, NULL), PW_ROLE_STAFF);
    cr_assert_eq(pw_sessions_find(s, t1, 1998, NULL), PW_ROLE_STAFF);
    cr_assert_eq(pw_sessions_find(s, t2, 1000, NULL), PW_ROLE_NONE);
    cr_assert_eq(pw_sessions_find(s, t1, 2997, NULL), PW_ROLE_STAFF);
    cr_assert_eq(pw_sessions_find(s, t1, 3997, NULL), PW_ROLE_NONE);
    cr_assert_eq(pw_sessions_find(s, t1, 3998, NULL), PW_ROLE_NONE);
    cr_assert_eq(pw_sessions_count(s, 4000), 0);
    pw_sessions_destroy(&s);
}

Test(users, sessions_end_user_ends_only_theirs)
{
    pw_sessions_t *s = NULL;
    cr_assert_eq(pw_sessions_new(60000, &s), 0);
    char a1[65], a2[65], b[65];
    cr_assert_eq(pw_sessions_start(s, "chen", PW_ROLE_STAFF, 0, a1), 0);
    cr_assert_eq(pw_sessions_start(s, "wang", PW_ROLE_ADMIN, 0, b), 0);
    cr_assert_eq(pw_sessions_start(s, "chen", PW_ROLE_STAFF, 0, a2), 0);
    pw_sessions_end_user(s, "chen");
    cr_assert_eq(pw_sessions_find(s, a1, 1, NULL), PW_ROLE_NONE);
    cr_assert_eq(pw_sessions_find(s, a2, 1, NULL), PW_ROLE_NONE);
    cr_assert_eq(pw_sessions_find(s, b, 1, NULL), PW_ROLE_ADMIN);
    pw_sessions_end_user(s, "nobody");
    cr_assert_eq(pw_sessions_count(s, 1), 1);
    pw_sessions_destroy(&s);
}

Test(users, sessions_are_bounded_and_the_idlest_goes)
{
    pw_sessions_t *s = NULL;
    cr_assert_eq(pw_sessions_new(1000000, &s), 0);
    char first[65], second[65], t[65];
    cr_assert_eq(pw_sessions_start(s, "first", PW_ROLE_STAFF, 0, first), 0);
    cr_assert_eq(pw_sessions_start(s, "second", PW_ROLE_STAFF, 1, second), 0);
    cr_assert_eq(pw_sessions_find(s, first, 2, NULL), PW_ROLE_STAFF); /* now second is idlest */
    for (int i = 2; i < PW_SESSIONS_MAX; i++)
        cr_assert_eq(pw_sessions_start(s, "flood", PW_ROLE_DIRECTOR, 10 + i, t), 0);
    cr_assert_eq(pw_sessions_count(s, 20000), PW_SESSIONS_MAX);
    cr_assert_eq(pw_sessions_start(s, "late", PW_ROLE_ADMIN, 20000, t), 0);
    cr_assert_eq(pw_sessions_count(s, 20000), PW_SESSIONS_MAX);
    cr_assert_eq(pw_sessions_find(s, second, 20000, NULL), PW_ROLE_NONE);
    cr_assert_eq(pw_sessions_find(s, first, 20000, NULL), PW_ROLE_STAFF);
    cr_assert_eq(pw_sessions_find(s, t, 20000, NULL), PW_ROLE_ADMIN);
    pw_sessions_destroy(&s);
}
