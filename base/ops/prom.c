/* SPDX-License-Identifier: MIT */
#include "pw/prom.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pw_prom {
    char *text;
    size_t len, cap;
};

void pw_prom_hist_init(pw_prom_hist_t *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof(*h));
    if (n > PW_PROM_BUCKETS_MAX)
        n = PW_PROM_BUCKETS_MAX;
    memcpy(h->bounds, bounds, n * sizeof(*bounds));
    h->nbounds = n;
}

void pw_prom_hist_observe(pw_prom_hist_t *h, double v)
{
    for (size_t i = 0; i < h->nbounds; i++) {
        if (v <= h->bounds[i]) {
            h->counts[i]++;
            break;
        }
    }
    h->count++;
    h->sum += v;
}

pw_prom_t *pw_prom_new(void)
{
    return calloc(1, sizeof(pw_prom_t));
}

void pw_prom_destroy(pw_prom_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->text);
    free(*self_p);
    *self_p = NULL;
}

void pw_prom_reset(pw_prom_t *self)
{
    self->len = 0;
    if (self->text)
        self->text[0] = '\0';
}

static int reserve(pw_prom_t *self, size_t more)
{
    if (self->len + more + 1 <= self->cap)
        return 0;
    size_t cap = self->cap ? self->cap : 4096;
    while (cap < self->len + more + 1)
        cap *= 2;
    char *p = realloc(self->text, cap);
    if (!p)
        return -ENOMEM;
    self->text = p;
    self->cap = cap;
    return 0;
}

static int put(pw_prom_t *self, const char *s, size_t n)
{
    if (reserve(self, n) != 0)
        return -ENOMEM;
    memcpy(self->text + self->len, s, n);
    self->len += n;
    self->text[self->len] = '\0';
    return 0;
}

static int puts_(pw_prom_t *self, const char *s)
{
    return put(self, s, strlen(s));
}

/* Escapes backslash and newline, and the double quote too inside label values. */
static int put_escaped(pw_prom_t *self, const char *s, int quote)
{
    for (; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n"
                          : (quote && *s == '"') ? "\\\"" : NULL;
        int rc = esc ? put(self, esc, 2) : put(self, s, 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names the same without ':'. */
static int valid_name(const char *s, int colon)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colon && c == ':')))
            return 0;
    }
    return 1;
}

/* Go's ParseFloat spellings, which Prometheus reads: +Inf, -Inf, NaN. */
static int put_value(pw_prom_t *self, double v)
{
    char num[40];
    if (isnan(v))
        snprintf(num, sizeof(num), "NaN");
    else if (isinf(v))
        snprintf(num, sizeof(num), "%sInf", v > 0 ? "+" : "-");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(num, sizeof(num), "%.0f", v);
    else if (snprintf(num, sizeof(num), "%.15g", v), strtod(num, NULL) != v)
        snprintf(num, sizeof(num), "%.17g", v); /* the shortest text that reads back exact */
    return puts_(self, num);
}

int pw_prom_family(pw_prom_t *self, const char *name, const char *type, const char *help)
{
    static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    int known = 0;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        known |= strcmp(type, types[i]) == 0;
    if (!known || !valid_name(name, 1))
        return -EINVAL;
    int rc;
    if ((rc = puts_(self, "# HELP ")) != 0 || (rc = puts_(self, name)) != 0 ||
        (rc = puts_(self, " ")) != 0 || (rc = put_escaped(self, help, 0)) != 0 ||
        (rc = puts_(self, "\n# TYPE ")) != 0 || (rc = puts_(self, name)) != 0 ||
        (rc = puts_(self, " ")) != 0 || (rc = puts_(self, type)) != 0)
        return rc;
    return puts_(self, "\n");
}

static int vsample(pw_prom_t *self, const char *name, double value, va_list ap)
{
    if (!valid_name(name, 1))
        return -EINVAL;
    int rc = puts_(self, name);
    const char *label;
    int first = 1;
    while (rc == 0 && (label = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        if (!valid_name(label, 0) || !val)
            return -EINVAL;
        if ((rc = puts_(self, first ? "{" : ",")) != 0 || (rc = puts_(self, label)) != 0 ||
            (rc = puts_(self, "=\"")) != 0 || (rc = put_escaped(self, val, 1)) != 0)
            return rc;
        rc = puts_(self, "\"");
        first = 0;
    }
    if (rc == 0 && !first)
        rc = puts_(self, "}");
    if (rc == 0)
        rc = puts_(self, " ");
    if (rc == 0)
        rc = put_value(self, value);
    return rc == 0 ? puts_(self, "\n") : rc;
}

int pw_prom_sample(pw_prom_t *self, const char *name, double value, ...)
{
    va_list ap;
    va_start(ap, value);
    int rc = vsample(self, name, value, ap);
    va_end(ap);
    return rc;
}

int pw_prom_histogram(pw_prom_t *self, const char *name, const char *label, const char *value,
                      const pw_prom_hist_t *h)
{
    char bucket[256], sum[256], count[256], le[40];
    if (snprintf(bucket, sizeof(bucket), "%s_bucket", name) >= (int)sizeof(bucket))
        return -EINVAL;
    snprintf(sum, sizeof(sum), "%s_sum", name);
    snprintf(count, sizeof(count), "%s_count", name);
    uint64_t cumulative = 0;
    int rc = 0;
    for (size_t i = 0; i <= h->nbounds && rc == 0; i++) {
        if (i < h->nbounds) {
            cumulative += h->counts[i];
            snprintf(le, sizeof(le), "%.9g", h->bounds[i]);
        } else {
            cumulative = h->count;
            snprintf(le, sizeof(le), "+Inf");
        }
        rc = label ? pw_prom_sample(self, bucket, (double)cumulative, label, value, "le", le,
                                    (const char *)NULL)
                   : pw_prom_sample(self, bucket, (double)cumulative, "le", le,
                                    (const char *)NULL);
    }
    if (rc == 0)
        rc = label ? pw_prom_sample(self, sum, h->sum, label, value, (const char *)NULL)
                   : pw_prom_sample(self, sum, h->sum, (const char *)NULL);
    if (rc == 0)
        rc = label ? pw_prom_sample(self, count, (double)h->count, label, value,
                                    (const char *)NULL)
                   : pw_prom_sample(self, count, (double)h->count, (const char *)NULL);
    return rc;
}

const char *pw_prom_text(const pw_prom_t *self, size_t *len_out)
{
    if (len_out)
        *len_out = self->len;
    return self->text ? self->text : "";
}

int pw_prom_write_file(const pw_prom_t *self, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = 0;
    size_t off = 0;
    while (off < self->len) {
        ssize_t w = write(fd, self->text + off, self->len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        off += (size_t)w;
    }
    /* No fsync: the file is rewritten every few seconds and a reader that
     * finds an older one after a crash loses nothing it can count on. */
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    return rc;
}
