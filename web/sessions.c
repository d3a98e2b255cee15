/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "users.h"

#define TOKEN_BYTES 32

/*
 * A session is kept by its token's hash, never the token itself: a memory
 * dump does not hand out live cookies, and looking a hash up leaks nothing
 * of the token through timing.
 */
struct session {
    unsigned char key[crypto_generichash_BYTES];
    char name[PW_USER_MAX];
    pw_role_t role;
    int64_t last_ms;
};

struct pw_sessions {
    pthread_mutex_t lock;
    int64_t idle_ms;
    struct session *v;
    size_t n, cap;
};

int pw_sessions_new(int64_t idle_ms, pw_sessions_t **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return -EIO;
    pw_sessions_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    int rc = pthread_mutex_init(&self->lock, NULL);
    if (rc != 0) {
        free(self);
        return -rc;
    }
    self->idle_ms = idle_ms;
    *out = self;
    return 0;
}

void pw_sessions_destroy(pw_sessions_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_sessions_t *self = *self_p;
    pthread_mutex_destroy(&self->lock);
    if (self->v)
        sodium_memzero(self->v, self->cap * sizeof(*self->v));
    free(self->v);
    free(self);
    *self_p = NULL;
}

/* The lookup key of a 64-hex token; false when it is not one. */
static bool key_of(const char *token, unsigned char key[crypto_generichash_BYTES])
{
    unsigned char raw[TOKEN_BYTES];
    size_t len = 0;
    const char *end;
    if (!token || strnlen(token, 2 * TOKEN_BYTES + 1) != 2 * TOKEN_BYTES)
        return false;
    /* Only the lower-case form we hand out: one cookie value per session. */
    for (size_t i = 0; i < 2 * TOKEN_BYTES; i++)
        if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
            return false;
    if (sodium_hex2bin(raw, sizeof(raw), token, 2 * TOKEN_BYTES, NULL, &len, &end) != 0 ||
        len != TOKEN_BYTES || *end != '\0')
        return false;
    crypto_generichash(key, crypto_generichash_BYTES, raw, sizeof(raw), NULL, 0);
    sodium_memzero(raw, sizeof(raw));
    return true;
}

/* Forgets session i (under the lock); order is not kept. */
static void drop(pw_sessions_t *self, size_t i)
{
    self->v[i] = self->v[--self->n];
    sodium_memzero(&self->v[self->n], sizeof(self->v[self->n]));
}

static bool idle(const pw_sessions_t *self, const struct session *s, int64_t now_ms)
{
    return now_ms - s->last_ms >= self->idle_ms;
}

static void expire(pw_sessions_t *self, int64_t now_ms)
{
    for (size_t i = self->n; i-- > 0;)
        if (idle(self, &self->v[i], now_ms))
            drop(self, i);
}

int pw_sessions_start(pw_sessions_t *self, const char *name, pw_role_t role, int64_t now_ms,
                      char token[65])
{
    token[0] = '\0';
    if (!pw_user_name_ok(name) || role == PW_ROLE_NONE)
        return -EINVAL;
    unsigned char raw[TOKEN_BYTES];
    randombytes_buf(raw, sizeof(raw));
    struct session s = {.role = role, .last_ms = now_ms};
    crypto_generichash(s.key, sizeof(s.key), raw, sizeof(raw), NULL, 0);
    snprintf(s.name, sizeof(s.name), "%s", name);
    int rc = 0;
    pthread_mutex_lock(&self->lock);
    if (self->n == PW_SESSIONS_MAX)
        expire(self, now_ms);
    if (self->n == PW_SESSIONS_MAX) {
        /* Full of live sessions: the one idle longest goes, so that a flood
         * of logins cannot grow memory without bound. */
        size_t oldest = 0;
        for (size_t i = 1; i < self->n; i++)
            if (self->v[i].last_ms < self->v[oldest].last_ms)
                oldest = i;
        drop(self, oldest);
    }
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        if (cap > PW_SESSIONS_MAX)
            cap = PW_SESSIONS_MAX;
        struct session *v = realloc(self->v, cap * sizeof(*v));
        if (!v) {
            rc = -ENOMEM;
            goto cleanup;
        }
        self->v = v;
        self->cap = cap;
    }
    self->v[self->n++] = s;
    sodium_bin2hex(token, 2 * TOKEN_BYTES + 1, raw, sizeof(raw));
cleanup:
    pthread_mutex_unlock(&self->lock);
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(&s, sizeof(s));
    return rc;
}

/* The session of token, touched (its idle time restarts) when touch. */
static pw_role_t find(pw_sessions_t *self, const char *token, int64_t now_ms, char *name,
                      bool touch)
{
    unsigned char key[crypto_generichash_BYTES];
    if (name)
        name[0] = '\0';
    if (!key_of(token, key))
        return PW_ROLE_NONE;
    pw_role_t role = PW_ROLE_NONE;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->n; i++) {
        struct session *s = &self->v[i];
        if (sodium_memcmp(s->key, key, sizeof(key)) != 0)
            continue;
        if (idle(self, s, now_ms)) {
            drop(self, i);
            break;
        }
        if (touch && now_ms > s->last_ms)
            s->last_ms = now_ms;
        role = s->role;
        if (name)
            memcpy(name, s->name, PW_USER_MAX);
        break;
    }
    pthread_mutex_unlock(&self->lock);
    return role;
}

pw_role_t pw_sessions_find(pw_sessions_t *self, const char *token, int64_t now_ms, char *name)
{
    return find(self, token, now_ms, name, true);
}

bool pw_sessions_alive(pw_sessions_t *self, const char *token, int64_t now_ms)
{
    return find(self, token, now_ms, NULL, false) != PW_ROLE_NONE;
}

void pw_sessions_end(pw_sessions_t *self, const char *token)
{
    unsigned char key[crypto_generichash_BYTES];
    if (!key_of(token, key))
        return;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->n; i++)
        if (sodium_memcmp(self->v[i].key, key, sizeof(key)) == 0) {
            drop(self, i);
            break;
        }
    pthread_mutex_unlock(&self->lock);
}

void pw_sessions_end_user(pw_sessions_t *self, const char *name)
{
    if (!name)
        return;
    pthread_mutex_lock(&self->lock);
    for (size_t i = self->n; i-- > 0;)
        if (strcmp(self->v[i].name, name) == 0)
            drop(self, i);
    pthread_mutex_unlock(&self->lock);
}

size_t pw_sessions_count(pw_sessions_t *self, int64_t now_ms)
{
    pthread_mutex_lock(&self->lock);
    expire(self, now_ms);
    size_t n = self->n;
    pthread_mutex_unlock(&self->lock);
    return n;
}
