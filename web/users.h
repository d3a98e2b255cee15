/* SPDX-License-Identifier: MIT */
#ifndef PW_WEB_USERS_H
#define PW_WEB_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The dashboard's desk logins: a users file of lines
 *     NAME:ROLE:HASH
 * (HASH: libsodium's argon2id string, crypto_pwhash_str), written 0600 and
 * replaced atomically; and the sessions of those logged in: a random token
 * (a cookie) per login, forgotten after an idle time or at logout.
 * Roles: a director reads; staff also follow alerts up; an admin also sees
 * the users and the sessions.
 */

#define PW_USER_MAX 64 /**< a user name's bytes, NUL included */

typedef enum pw_role {
    PW_ROLE_NONE = 0,
    PW_ROLE_DIRECTOR,
    PW_ROLE_STAFF,
    PW_ROLE_ADMIN,
} pw_role_t;

typedef struct pw_users pw_users_t;

/**
 * Reads the users file path. Errors say "path:line: what" into err. Caller owns *out.
 * 0, -EINVAL (a bad line, or not a regular file), -ENOENT, -EFBIG (over 1 MiB),
 * -ENOMEM, -errno.
 */
int pw_users_load(const char *path, pw_users_t **out, char *err, size_t errlen);

/** Frees and NULLs. NULL-safe. */
void pw_users_destroy(pw_users_t **self_p);

/** How many users. */
size_t pw_users_count(const pw_users_t *self);

/** The i-th user's name and role (i < count). */
void pw_users_at(const pw_users_t *self, size_t i, const char **name, pw_role_t *role);

/**
 * Checks name's password (argon2id, constant-time). The role on success,
 * PW_ROLE_NONE for an unknown name or a wrong password (no difference shown).
 */
pw_role_t pw_users_check(const pw_users_t *self, const char *name, const char *password);

/**
 * Adds or replaces user name with role and password in the file path
 * (created 0600 when missing), rewriting it atomically. A name is 1-63 of
 * [A-Za-z0-9._-]; a password 8-1024 bytes. 0, -EINVAL (said in err), -errno.
 */
int pw_users_set(const char *path, const char *name, pw_role_t role, const char *password,
                 char *err, size_t errlen);

/**
 * Removes user name from the file path. 0, PW_ENOTFOUND, -EINVAL (a bad line
 * in the file, which is then left as it is), -errno.
 */
int pw_users_remove(const char *path, const char *name, char *err, size_t errlen);

/** True when name is a valid user name: 1-63 of [A-Za-z0-9._-]. */
bool pw_user_name_ok(const char *name);

/**
 * True when the file self was loaded from was readable or writable by group
 * or others (it holds password hashes: it should be 0600). For a warning.
 */
bool pw_users_loose(const pw_users_t *self);

/** User name's password hash (argon2id string), or NULL when there is none. Borrowed. */
const char *pw_users_hash(const pw_users_t *self, const char *name);

/** "director", "staff", "admin". */
const char *pw_role_name(pw_role_t r);

/** The role named by s, or PW_ROLE_NONE. */
pw_role_t pw_role_parse(const char *s);

/** Sessions: thread-safe; tokens are 64 hex digits. */
typedef struct pw_sessions pw_sessions_t;

/** Sessions forgotten after idle_ms without a request. Caller owns *out. 0 or -ENOMEM. */
int pw_sessions_new(int64_t idle_ms, pw_sessions_t **out);

/** Frees and NULLs. NULL-safe. */
void pw_sessions_destroy(pw_sessions_t **self_p);

/**
 * Starts a session for name with role; its token into token (65 bytes). 0,
 * -EINVAL (not a user name, or PW_ROLE_NONE) or -ENOMEM.
 */
int pw_sessions_start(pw_sessions_t *self, const char *name, pw_role_t role, int64_t now_ms,
                      char token[65]);

/**
 * The session of token, if live at now_ms (and touches it): its user into
 * name (PW_USER_MAX bytes) and role returned; PW_ROLE_NONE when none.
 */
pw_role_t pw_sessions_find(pw_sessions_t *self, const char *token, int64_t now_ms, char *name);

/**
 * Whether the session of token is live at now_ms, without touching it: an
 * open page's stream asks this, and must not keep an unattended desk's
 * session from idling out.
 */
bool pw_sessions_alive(pw_sessions_t *self, const char *token, int64_t now_ms);

/** Ends the session of token (logout). */
void pw_sessions_end(pw_sessions_t *self, const char *token);

/** Ends every session of user name (removed, or its role changed). */
void pw_sessions_end_user(pw_sessions_t *self, const char *name);

/** The most sessions kept: starting one more ends the one idle longest. */
#define PW_SESSIONS_MAX 10000

/** How many sessions are live at now_ms (the idle ones are forgotten first). */
size_t pw_sessions_count(pw_sessions_t *self, int64_t now_ms);

/** planwatch web-user: argv[0] is the subcommand's name. Exit status 0, 1 or 2. */
int pw_cmd_web_user(int argc, char **argv);

#endif
