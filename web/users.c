/* SPDX-License-Identifier: MIT */
#include "users.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "pw/error.h"

/* A users file is a handful of lines; anything much bigger is not one. */
#define USERS_FILE_MAX (1u << 20)
#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024
#define HASH_PREFIX "$argon2id$"

struct pw_user {
    char name[PW_USER_MAX];
    pw_role_t role;
    char hash[crypto_pwhash_STRBYTES];
};

struct pw_users {
    struct pw_user *v;
    size_t n, cap;
    bool loose; /* the file was readable by group or others */
};

/*
 * Verified against for an unknown name, so that it costs what a known one
 * does: made once by crypto_pwhash_str() with the interactive limits we hash
 * with, of a password nobody is told.
 */
static const char dummy_hash[crypto_pwhash_STRBYTES] = "$argon2id$v=19$m=65536,t=2,p=1$o1BlwO6VIjTmGlZphdeVDA$"
                                 "RJ7Lw2FZyWuC7DBT7XesE0VjOpjUCeQwy48B901KtJ4";

/* sodium_init() is itself thread-safe and idempotent: 0 and 1 both mean ready. */
static int sodium_ready(void)
{
    return sodium_init() < 0 ? -EIO : 0;
}

static void say(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *pw_role_name(pw_role_t r)
{
    switch (r) {
    case PW_ROLE_DIRECTOR:
        return "director";
    case PW_ROLE_STAFF:
        return "staff";
    case PW_ROLE_ADMIN:
        return "admin";
    default:
        return "none";
    }
}

pw_role_t pw_role_parse(const char *s)
{
    if (!s)
        return PW_ROLE_NONE;
    for (pw_role_t r = PW_ROLE_DIRECTOR; r <= PW_ROLE_ADMIN; r++)
        if (strcmp(s, pw_role_name(r)) == 0)
            return r;
    return PW_ROLE_NONE;
}

/* A name of len bytes (not NUL-terminated) is 1-63 of [A-Za-z0-9._-]. */
static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len >= PW_USER_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

bool pw_user_name_ok(const char *name)
{
    return name && name_ok(name, strlen(name));
}

/* A line holds only blanks, or is a comment: kept as it is, never a user. */
static bool ignorable(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i == len || s[i] == '#';
}

/*
 * Parses one user line s (len bytes, no newline) into u; NULL, or what is
 * wrong with it. The hash is checked for its form only: a wrong one fails
 * every password, which is the safe way to fail.
 */
static const char *parse_line(const char *s, size_t len, struct pw_user *u)
{
    if (len > 0 && s[len - 1] == '\r')
        len--;
    const char *c1 = memchr(s, ':', len);
    if (!c1)
        return "expected NAME:ROLE:HASH";
    const char *c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - s));
    if (!c2)
        return "expected NAME:ROLE:HASH";
    size_t nlen = (size_t)(c1 - s), rlen = (size_t)(c2 - c1 - 1);
    size_t hlen = len - (size_t)(c2 + 1 - s);
    if (!name_ok(s, nlen))
        return "bad name (1-63 of A-Z a-z 0-9 . _ -)";
    char role[16];
    if (rlen >= sizeof(role))
        return "unknown role (director, staff or admin)";
    memcpy(role, c1 + 1, rlen);
    role[rlen] = '\0';
    u->role = pw_role_parse(role);
    if (u->role == PW_ROLE_NONE)
        return "unknown role (director, staff or admin)";
    if (hlen < sizeof(HASH_PREFIX) || hlen >= sizeof(u->hash) ||
        strncmp(c2 + 1, HASH_PREFIX, sizeof(HASH_PREFIX) - 1) != 0)
        return "the hash is not an argon2id string ($argon2id$...)";
    for (size_t i = 0; i < hlen; i++)
        if (c2[1 + i] == ' ' || c2[1 + i] == '\t')
            return "the hash is not an argon2id string ($argon2id$...)";
    memcpy(u->name, s, nlen);
    u->name[nlen] = '\0';
    memcpy(u->hash, c2 + 1, hlen);
    u->hash[hlen] = '\0';
    return NULL;
}

static const struct pw_user *find(const pw_users_t *self, const char *name)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->v[i].name, name) == 0)
            return &self->v[i];
    return NULL;
}

/* Parses text (len bytes) as the users file path into self. 0, -EINVAL or -ENOMEM. */
static int parse(pw_users_t *self, const char *path, const char *text, size_t len, char *err,
                 size_t errlen)
{
    size_t lineno = 0;
    for (const char *line = text; line < text + len;) {
        const char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t llen = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        lineno++;
        if (!ignorable(line, llen)) {
            struct pw_user u;
            const char *what = parse_line(line, llen, &u);
            if (!what && find(self, u.name))
                what = "this user is already named above";
            if (what) {
                say(err, errlen, "%s:%zu: %s", path, lineno, what);
                return -EINVAL;
            }
            if (self->n == self->cap) {
                size_t cap = self->cap ? self->cap * 2 : 8;
                struct pw_user *v = realloc(self->v, cap * sizeof(*v));
                if (!v) {
                    say(err, errlen, "%s: %s", path, pw_strerror(-ENOMEM));
                    return -ENOMEM;
                }
                self->v = v;
                self->cap = cap;
            }
            self->v[self->n++] = u;
        }
        line += llen + (nl ? 1 : 0);
    }
    return 0;
}

/*
 * Reads the file path whole into *text_out (NUL-terminated; caller frees) and
 * its status into *st. 0, -ENOENT when missing, -EFBIG, -errno.
 */
static int read_text(const char *path, char **text_out, size_t *len_out, struct stat *st)
{
    *text_out = NULL;
    *len_out = 0;
    int rc = 0;
    char *text = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, st) != 0) {
        rc = -errno;
        goto cleanup;
    }
    if (!S_ISREG(st->st_mode)) {
        rc = -EINVAL;
        goto cleanup;
    }
    if (st->st_size > (off_t)USERS_FILE_MAX) {
        rc = -EFBIG;
        goto cleanup;
    }
    size_t cap = (size_t)st->st_size + 1, len = 0;
    text = malloc(cap);
    if (!text) {
        rc = -ENOMEM;
        goto cleanup;
    }
    /* Read to the end, not to st_size: the file may have grown since fstat. */
    for (;;) {
        if (len + 1 == cap) {
            if (cap > USERS_FILE_MAX) {
                rc = -EFBIG;
                goto cleanup;
            }
            char *t = realloc(text, cap * 2);
            if (!t) {
                rc = -ENOMEM;
                goto cleanup;
            }
            text = t;
            cap *= 2;
        }
        ssize_t got = read(fd, text + len, cap - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            goto cleanup;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    text[len] = '\0';
    *text_out = text;
    *len_out = len;
    text = NULL;
cleanup:
    free(text);
    close(fd);
    return rc;
}

int pw_users_load(const char *path, pw_users_t **out, char *err, size_t errlen)
{
    *out = NULL;
    say(err, errlen, "%s", "");
    char *text = NULL;
    size_t len;
    struct stat st;
    pw_users_t *self = NULL;
    int rc = read_text(path, &text, &len, &st);
    if (rc != 0) {
        say(err, errlen, "%s: %s", path,
            rc == -EINVAL ? "not a regular file" : pw_strerror(rc));
        goto cleanup;
    }
    self = calloc(1, sizeof(*self));
    if (!self) {
        rc = -ENOMEM;
        say(err, errlen, "%s: %s", path, pw_strerror(rc));
        goto cleanup;
    }
    self->loose = (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
    rc = parse(self, path, text, len, err, errlen);
    if (rc != 0)
        goto cleanup;
    *out = self;
    self = NULL;
cleanup:
    pw_users_destroy(&self);
    if (text)
        sodium_memzero(text, len);
    free(text);
    return rc;
}

void pw_users_destroy(pw_users_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_users_t *self = *self_p;
    if (self->v)
        sodium_memzero(self->v, self->cap * sizeof(*self->v));
    free(self->v);
    free(self);
    *self_p = NULL;
}

size_t pw_users_count(const pw_users_t *self)
{
    return self ? self->n : 0;
}

const char *pw_users_hash(const pw_users_t *self, const char *name)
{
    for (size_t i = 0; self && i < self->n; i++)
        if (strcmp(self->v[i].name, name) == 0)
            return self->v[i].hash;
    return NULL;
}

void pw_users_at(const pw_users_t *self, size_t i, const char **name, pw_role_t *role)
{
    if (!self || i >= self->n) {
        if (name)
            *name = NULL;
        if (role)
            *role = PW_ROLE_NONE;
        return;
    }
    if (name)
        *name = self->v[i].name;
    if (role)
        *role = self->v[i].role;
}

bool pw_users_loose(const pw_users_t *self)
{
    return self && self->loose;
}

pw_role_t pw_users_check(const pw_users_t *self, const char *name, const char *password)
{
    if (!self || !name || !password || sodium_ready() != 0)
        return PW_ROLE_NONE;
    size_t plen = strnlen(password, PASSWORD_MAX + 1);
    const struct pw_user *u = find(self, name);
    /* An overlong password is refused only after the same work, so that its
     * refusal does not tell a known name from an unknown one. */
    const char *hash = u ? u->hash : dummy_hash;
    bool ok = crypto_pwhash_str_verify(hash, password, plen) == 0;
    return ok && u && plen <= PASSWORD_MAX ? u->role : PW_ROLE_NONE;
}

/*
 * Writes len bytes of text as path, atomically: a temporary file beside it,
 * fsynced, mode 0600, owned as the file it replaces, renamed over it; then
 * the directory fsynced so the rename survives a crash. 0 or -errno.
 */
static int replace_file(const char *path, const char *text, size_t len, const struct stat *old,
                        char *err, size_t errlen)
{
    int rc = 0, fd = -1;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16), *dir = malloc(plen + 2);
    if (!tmp || !dir) {
        rc = -ENOMEM;
        say(err, errlen, "%s: %s", path, pw_strerror(rc));
        goto cleanup;
    }
    const char *slash = strrchr(path, '/');
    if (slash) {
        size_t dlen = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
    } else {
        strcpy(dir, ".");
    }
    snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);
    fd = mkstemp(tmp); /* creates it 0600, and O_EXCL: no one else's file */
    if (fd < 0) {
        rc = -errno;
        say(err, errlen, "%s: creating a temporary file: %s", tmp, pw_strerror(rc));
        tmp[0] = '\0';
        goto cleanup;
    }
    /* The dashboard's user (not root, who usually runs this) must keep reading
     * it: a replaced file keeps its owner. */
    if (old && (old->st_uid != geteuid() || old->st_gid != getegid()) &&
        fchown(fd, old->st_uid, old->st_gid) != 0 && old->st_uid != geteuid()) {
        rc = -errno;
        say(err, errlen, "%s: cannot keep its owner: %s", path, pw_strerror(rc));
        goto cleanup;
    }
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
        rc = -errno;
        say(err, errlen, "%s: %s", tmp, pw_strerror(rc));
        goto cleanup;
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            say(err, errlen, "%s: writing: %s", tmp, pw_strerror(rc));
            goto cleanup;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        rc = -errno;
        say(err, errlen, "%s: fsync: %s", tmp, pw_strerror(rc));
        goto cleanup;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {
        rc = -errno;
        say(err, errlen, "%s: close: %s", tmp, pw_strerror(rc));
        goto cleanup;
    }
    if (rename(tmp, path) != 0) {
        rc = -errno;
        say(err, errlen, "%s: rename: %s", path, pw_strerror(rc));
        goto cleanup;
    }
    tmp[0] = '\0';
    int dfd = open(dir, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        /* The new file is in place; a failed directory fsync only weakens
         * durability, so it is not reported as a failure of the change. */
        (void)fsync(dfd);
        close(dfd);
    }
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp && tmp[0])
        unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

/*
 * Rewrites the users file path with user name's line replaced by line (or
 * dropped when line is NULL), or line appended when name has none; every
 * other line as it was. missing_ok: a missing file is an empty one. Sets
 * *found. 0, -EINVAL (a bad file), -errno.
 */
static int rewrite(const char *path, const char *name, const char *line, bool missing_ok,
                   bool *found, char *err, size_t errlen)
{
    *found = false;
    char *text = NULL, *out = NULL;
    size_t len = 0;
    struct stat st;
    bool exists = true;
    pw_users_t *check = NULL;
    int rc = read_text(path, &text, &len, &st);
    if (rc == -ENOENT && missing_ok) {
        exists = false;
        rc = 0;
    } else if (rc != 0) {
        say(err, errlen, "%s: %s", path,
            rc == -EINVAL ? "not a regular file" : pw_strerror(rc));
        goto cleanup;
    }
    /* A file we cannot read as users is not rewritten: it is someone's to fix. */
    if (exists) {
        check = calloc(1, sizeof(*check));
        if (!check) {
            rc = -ENOMEM;
            say(err, errlen, "%s: %s", path, pw_strerror(rc));
            goto cleanup;
        }
        rc = parse(check, path, text, len, err, errlen);
        if (rc != 0)
            goto cleanup;
    }
    size_t llen = line ? strlen(line) : 0, nlen = strlen(name);
    out = malloc(len + llen + 2);
    if (!out) {
        rc = -ENOMEM;
        say(err, errlen, "%s: %s", path, pw_strerror(rc));
        goto cleanup;
    }
    size_t o = 0;
    for (const char *p = text; p && p < text + len;) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t plen = nl ? (size_t)(nl - p) + 1 : (size_t)(text + len - p);
        bool mine = !ignorable(p, nl ? plen - 1 : plen) && plen > nlen && strncmp(p, name, nlen) == 0 &&
                    p[nlen] == ':';
        if (!mine) {
            memcpy(out + o, p, plen);
            o += plen;
        } else if (line) {
            memcpy(out + o, line, llen);
            o += llen;
            out[o++] = '\n';
        }
        *found |= mine;
        p += plen;
    }
    if (!*found && line) {
        if (o > 0 && out[o - 1] != '\n')
            out[o++] = '\n';
        memcpy(out + o, line, llen);
        o += llen;
        out[o++] = '\n';
    }
    if (!*found && !line)
        goto cleanup;
    rc = replace_file(path, out, o, exists ? &st : NULL, err, errlen);
cleanup:
    pw_users_destroy(&check);
    if (text)
        sodium_memzero(text, len);
    free(text);
    free(out);
    return rc;
}

int pw_users_set(const char *path, const char *name, pw_role_t role, const char *password,
                 char *err, size_t errlen)
{
    say(err, errlen, "%s", "");
    if (!pw_user_name_ok(name)) {
        say(err, errlen, "bad user name '%s' (1-63 of A-Z a-z 0-9 . _ -)", name ? name : "");
        return -EINVAL;
    }
    if (role < PW_ROLE_DIRECTOR || role > PW_ROLE_ADMIN) {
        say(err, errlen, "%s", "unknown role (director, staff or admin)");
        return -EINVAL;
    }
    size_t plen = password ? strnlen(password, PASSWORD_MAX + 1) : 0;
    if (plen < PASSWORD_MIN || plen > PASSWORD_MAX) {
        say(err, errlen, "a password has %d to %d bytes", PASSWORD_MIN, PASSWORD_MAX);
        return -EINVAL;
    }
    if (sodium_ready() != 0) {
        say(err, errlen, "%s", "libsodium did not initialise");
        return -EIO;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, plen, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        /* argon2 fails only when it cannot have its memory. */
        say(err, errlen, "hashing the password: %s", pw_strerror(-ENOMEM));
        return -ENOMEM;
    }
    char line[PW_USER_MAX + 16 + crypto_pwhash_STRBYTES];
    snprintf(line, sizeof(line), "%s:%s:%s", name, pw_role_name(role), hash);
    bool found;
    int rc = rewrite(path, name, line, true, &found, err, errlen);
    sodium_memzero(line, sizeof(line));
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

int pw_users_remove(const char *path, const char *name, char *err, size_t errlen)
{
    say(err, errlen, "%s", "");
    if (!pw_user_name_ok(name)) {
        say(err, errlen, "%s: no user '%s'", path, name ? name : "");
        return PW_ENOTFOUND;
    }
    bool found;
    int rc = rewrite(path, name, NULL, false, &found, err, errlen);
    if (rc == 0 && !found) {
        say(err, errlen, "%s: no user '%s'", path, name);
        rc = PW_ENOTFOUND;
    }
    return rc;
}
