/* SPDX-License-Identifier: MIT */
/*
 * The routes file of the notifier: who hears of which alerts. One statement a
 * line; a word starting with '#' starts a comment to the end of the line;
 * blank lines are ignored.
 *
 *   receiver NAME TYPE TARGET     NAME an id ([a-z0-9_]); TYPE wecom, json or
 *                                 email; TARGET an http(s) URL (wecom, json)
 *                                 or an e-mail address (email)
 *   route COND... -> R1[,R2...]   COND is `*` (every alert) or any of
 *                                 category=C indicator=I district=D
 *                                 events=open,resolve,update,escalate
 *                                 (default events: open,resolve,escalate)
 *   sendmail PATH                 the MTA program (default /usr/sbin/sendmail)
 *   from ADDRESS                  From: of the mails (default planwatch@localhost)
 *   timeout SECONDS               per attempt, 1..600 (default 10)
 *
 * A route matches an alert when all its conditions hold; district=D holds
 * when D is among the districts weighing most on the alert (its top[]). A
 * receiver must be declared before a route names it. Errors: "path:LINE: what".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify_internal.h"
#include "pw/text.h"

#define TOK_MAX 16

static int fail(char *err, size_t errlen, const char *path, size_t line, const char *what,
                const char *arg)
{
    if (errlen > 0)
        snprintf(err, errlen, "%s:%zu: %s%s%s", path, line, what, arg ? ": " : "", arg ? arg : "");
    return -EINVAL;
}

pw__rcv_type_t pw__rcv_type_parse(const char *name)
{
    if (strcmp(name, "wecom") == 0)
        return PW__RCV_WECOM;
    if (strcmp(name, "json") == 0)
        return PW__RCV_JSON;
    if (strcmp(name, "email") == 0)
        return PW__RCV_EMAIL;
    return 0;
}

static bool valid_url(const char *s)
{
    const char *rest = NULL;
    if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    if (rest == NULL || *rest == '\0' || *rest == '/')
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* The address ends up in a To: header: no blanks, no line breaks, one '@'. */
static bool valid_address(const char *s)
{
    const char *at = strchr(s, '@');
    if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == ',')
            return false;
    return true;
}

static long find_receiver(const pw__routes_t *self, const char *name)
{
    for (size_t i = 0; i < self->nrcv; i++)
        if (strcmp(self->rcv[i].name, name) == 0)
            return (long)i;
    return -1;
}

static bool copy_id(char dst[PW_ID_MAX], const char *s)
{
    size_t n = strlen(s);
    if (!pw__id_valid(s, n))
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

static unsigned parse_events(char *list)
{
    unsigned bits = 0;
    for (char *save = NULL, *e = strtok_r(list, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        if (strcmp(e, "open") == 0)
            bits |= PW__EV_OPEN;
        else if (strcmp(e, "resolve") == 0)
            bits |= PW__EV_RESOLVE;
        else if (strcmp(e, "update") == 0)
            bits |= PW__EV_UPDATE;
        else if (strcmp(e, "escalate") == 0)
            bits |= PW__EV_ESCALATE;
        else
            return 0;
    }
    return bits;
}

static int parse_receiver(pw__routes_t *self, char **tok, size_t n, const char *path, size_t line,
                          char *err, size_t errlen)
{
    if (n != 4)
        return fail(err, errlen, path, line, "expected: receiver NAME TYPE TARGET", NULL);
    pw__receiver_t r;
    memset(&r, 0, sizeof(r));
    if (!copy_id(r.name, tok[1]))
        return fail(err, errlen, path, line, "bad receiver name (want [a-z0-9_])", tok[1]);
    if (find_receiver(self, r.name) >= 0)
        return fail(err, errlen, path, line, "duplicate receiver", tok[1]);
    r.type = pw__rcv_type_parse(tok[2]);
    if (r.type == 0)
        return fail(err, errlen, path, line, "unknown receiver type (wecom, json, email)", tok[2]);
    if (strlen(tok[3]) >= sizeof(r.target))
        return fail(err, errlen, path, line, "target too long", NULL);
    if (r.type == PW__RCV_EMAIL ? !valid_address(tok[3]) : !valid_url(tok[3]))
        return fail(err, errlen, path, line,
                    r.type == PW__RCV_EMAIL ? "bad e-mail address"
                                            : "bad URL (http:// or https:// only)",
                    tok[3]);
    if (self->nrcv >= PW__NOTIFY_RCV_MAX)
        return fail(err, errlen, path, line, "too many receivers (at most 64)", NULL);
    strcpy(r.target, tok[3]);
    pw__receiver_t *grown = pw__text_reserve(self->rcv, self->nrcv, &self->caprcv, sizeof(r));
    if (grown == NULL)
        return -ENOMEM;
    self->rcv = grown;
    self->rcv[self->nrcv++] = r;
    return 0;
}

static int parse_route(pw__routes_t *self, char **tok, size_t n, const char *path, size_t line,
                       char *err, size_t errlen)
{
    pw__route_t r;
    memset(&r, 0, sizeof(r));
    size_t arrow = 0;
    for (size_t i = 1; i < n; i++)
        if (strcmp(tok[i], "->") == 0)
            arrow = i;
    if (arrow == 0 || arrow + 2 != n)
        return fail(err, errlen, path, line, "expected: route COND... -> RECEIVER[,RECEIVER...]",
                    NULL);
    if (arrow == 1)
        return fail(err, errlen, path, line, "no condition (use * for every alert)", NULL);
    bool star = false;
    for (size_t i = 1; i < arrow; i++) {
        char *eq = strchr(tok[i], '=');
        if (strcmp(tok[i], "*") == 0) {
            star = true;
            continue;
        }
        if (eq == NULL)
            return fail(err, errlen, path, line, "bad condition (want KEY=VALUE or *)", tok[i]);
        *eq = '\0';
        const char *key = tok[i], *val = eq + 1;
        char *slot = strcmp(key, "category") == 0    ? r.category
                     : strcmp(key, "indicator") == 0 ? r.indicator
                     : strcmp(key, "district") == 0  ? r.district
                                                     : NULL;
        if (strcmp(key, "events") == 0) {
            if (r.events != 0)
                return fail(err, errlen, path, line, "condition given twice", key);
            char list[256];
            snprintf(list, sizeof(list), "%s", val);
            r.events = parse_events(list);
            if (r.events == 0)
                return fail(err, errlen, path, line, "bad events (open, resolve, update, escalate)",
                            val);
        } else if (slot == NULL) {
            return fail(err, errlen, path, line, "unknown condition", key);
        } else if (slot[0] != '\0') {
            return fail(err, errlen, path, line, "condition given twice", key);
        } else if (!copy_id(slot, val)) {
            return fail(err, errlen, path, line, "bad id (want [a-z0-9_])", val);
        }
    }
    if (star && arrow > 2)
        return fail(err, errlen, path, line, "* takes no other condition", NULL);
    if (r.events == 0)
        r.events = PW__EV_DEFAULT;
    char *save = NULL;
    for (char *e = strtok_r(tok[arrow + 1], ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        long k = find_receiver(self, e);
        if (k < 0)
            return fail(err, errlen, path, line, "unknown receiver", e);
        r.receivers |= UINT64_C(1) << k;
    }
    if (r.receivers == 0)
        return fail(err, errlen, path, line, "no receiver", NULL);
    pw__route_t *grown = pw__text_reserve(self->routes, self->nroutes, &self->caproutes, sizeof(r));
    if (grown == NULL)
        return -ENOMEM;
    self->routes = grown;
    self->routes[self->nroutes++] = r;
    return 0;
}

static int parse_setting(pw__routes_t *self, char **tok, size_t n, const char *path, size_t line,
                         char *err, size_t errlen)
{
    if (n != 2)
        return fail(err, errlen, path, line, "expected one value", tok[0]);
    if (strcmp(tok[0], "sendmail") == 0) {
        if (tok[1][0] != '/' || strlen(tok[1]) >= sizeof(self->sendmail))
            return fail(err, errlen, path, line, "sendmail wants an absolute path", tok[1]);
        strcpy(self->sendmail, tok[1]);
    } else if (strcmp(tok[0], "from") == 0) {
        if (!valid_address(tok[1]) || strlen(tok[1]) >= sizeof(self->from))
            return fail(err, errlen, path, line, "bad e-mail address", tok[1]);
        strcpy(self->from, tok[1]);
    } else {
        long s = 0;
        if (!pw__text_parse_int(tok[1], strlen(tok[1]), &s) || s < 1 || s > 600)
            return fail(err, errlen, path, line, "timeout wants 1..600 seconds", tok[1]);
        self->timeout_s = s;
    }
    return 0;
}

static int parse_line(pw__routes_t *self, char *s, const char *path, size_t line, char *err,
                      size_t errlen)
{
    char *tok[TOK_MAX];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(s, " \t\r\v\f", &save); t;
         t = strtok_r(NULL, " \t\r\v\f", &save)) {
        if (t[0] == '#')
            break; /* a comment to the end of the line */
        if (n == TOK_MAX)
            return fail(err, errlen, path, line, "too many words", NULL);
        tok[n++] = t;
    }
    if (n == 0)
        return 0;
    if (strcmp(tok[0], "receiver") == 0)
        return parse_receiver(self, tok, n, path, line, err, errlen);
    if (strcmp(tok[0], "route") == 0)
        return parse_route(self, tok, n, path, line, err, errlen);
    if (strcmp(tok[0], "sendmail") == 0 || strcmp(tok[0], "from") == 0 ||
        strcmp(tok[0], "timeout") == 0)
        return parse_setting(self, tok, n, path, line, err, errlen);
    return fail(err, errlen, path, line, "unknown statement", tok[0]);
}

int pw__routes_parse(const char *path, pw__routes_t **out, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    pw__routes_t *self = NULL;
    *out = NULL;
    int rc = pw__text_read_file(path, &buf, &len);
    if (rc < 0) {
        pw__text_sys_error(err, errlen, path, rc);
        goto cleanup;
    }
    size_t bad = pw__text_utf8_check(buf, len);
    if (bad < len) {
        size_t line = 1;
        for (size_t i = 0; i < bad; i++)
            line += buf[i] == '\n';
        rc = fail(err, errlen, path, line, "not UTF-8 text", NULL);
        goto cleanup;
    }
    self = calloc(1, sizeof(*self));
    if (self == NULL) {
        rc = -ENOMEM;
        goto cleanup;
    }
    strcpy(self->sendmail, "/usr/sbin/sendmail");
    strcpy(self->from, "planwatch@localhost");
    self->timeout_s = 10;
    size_t line = 1;
    for (char *s = buf, *end = buf + len; s < end; line++) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        if (nl == NULL)
            nl = end;
        *nl = '\0';
        rc = parse_line(self, s, path, line, err, errlen);
        if (rc < 0)
            goto cleanup;
        s = nl + 1;
    }
    *out = self;
    self = NULL;
cleanup:
    pw__routes_destroy(&self);
    free(buf);
    return rc;
}

void pw__routes_destroy(pw__routes_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free((*self_p)->rcv);
    free((*self_p)->routes);
    free(*self_p);
    *self_p = NULL;
}

unsigned pw__item_event(const pw_notice_item_t *item)
{
    if (item->escalation)
        return PW__EV_ESCALATE;
    switch (item->ev.action) {
    case PW_ALERT_OPEN:
        return PW__EV_OPEN;
    case PW_ALERT_RESOLVE:
        return PW__EV_RESOLVE;
    case PW_ALERT_UPDATE:
        return PW__EV_UPDATE;
    }
    return 0;
}

static bool matches(const pw__route_t *r, const pw_notice_item_t *item)
{
    if ((r->events & pw__item_event(item)) == 0)
        return false;
    if (r->category[0] && strcmp(r->category, item->category) != 0)
        return false;
    if (r->indicator[0] && strcmp(r->indicator, item->ev.indicator) != 0)
        return false;
    if (r->district[0]) {
        uint32_t n = item->ev.ntop < PW_TOP_MAX ? item->ev.ntop : PW_TOP_MAX;
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(r->district, item->ev.top[i].district) == 0)
                return true;
        return false;
    }
    return true;
}

uint64_t pw__routes_receivers(const pw__routes_t *self, const pw_notice_item_t *item)
{
    uint64_t bits = 0;
    for (size_t i = 0; i < self->nroutes; i++)
        if (matches(&self->routes[i], item))
            bits |= self->routes[i].receivers;
    return bits;
}
