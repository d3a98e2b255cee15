/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pw/auth.h"
#include "pw/error.h"
#include "pw/util.h"

/* What the config being parsed said, for pw_config_where(). */
struct built {
    int argc;
    char **argv;   /* NULL-terminated */
    char **origin; /* per argv entry: "FILE:LINE" or NULL (the command line) */
    int cap;
};

static struct built *current;
static bool checking; /* --check-config is on the command line */

static const struct option *find(const struct option *longopts, const char *name, size_t len)
{
    for (const struct option *o = longopts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* The option getopt_long takes "--name" for: an exact name, or else the one
 * long option name starts with (its abbreviations). NULL if none or several. */
static const struct option *match(const struct option *longopts, const char *name, size_t len)
{
    const struct option *exact = find(longopts, name, len), *found = NULL;
    if (exact)
        return exact;
    for (const struct option *o = longopts; o->name; o++) {
        if (strncmp(o->name, name, len) == 0) {
            if (found)
                return NULL;
            found = o;
        }
    }
    return found;
}

static int push(struct built *b, char *arg, char *origin)
{
    if (b->argc + 2 > b->cap) {
        int cap = b->cap ? b->cap * 2 : 32;
        char **a = realloc(b->argv, (size_t)cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        b->argv = a;
        char **o = realloc(b->origin, (size_t)cap * sizeof(*o));
        if (!o)
            return -ENOMEM;
        b->origin = o;
        b->cap = cap;
    }
    if (!arg)
        return -ENOMEM;
    b->origin[b->argc] = origin;
    b->argv[b->argc++] = arg;
    b->argv[b->argc] = NULL;
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Whether the command line itself gives the option named name. */
static bool on_command_line(const char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static bool truth(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                  "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0)
            return (*out = true);
        if (strcmp(v, no[i]) == 0)
            return !(*out = false);
    }
    return false;
}

/* Reads one file into b; 0, 1 (unreadable) or 2 (a bad line). */
static int read_file(struct built *b, const char *cmd, const struct option *longopts,
                     const char *path, const char **names, int nnames)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "planwatch %s: cannot read config %s: %s\n", cmd, path, strerror(errno));
        return 1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '='), *value = NULL;
        if (eq) {
            *eq = '\0';
            value = trim(eq + 1);
        }
        char *key = trim(s);
        const struct option *o = find(longopts, key, strlen(key));
        bool on = true;
        if (!o || strcmp(key, "help") == 0 || strcmp(key, "check-config") == 0) {
            fprintf(stderr, "%s:%d: unknown key '%s' (see planwatch %s --help)\n", path, lineno,
                    key, cmd);
            rc = 2;
        } else if (o->has_arg == required_argument && (!value || !*value)) {
            fprintf(stderr, "%s:%d: '%s' needs a value: %s = ...\n", path, lineno, key, key);
            rc = 2;
        } else if (o->has_arg == no_argument && value && !truth(value, &on)) {
            fprintf(stderr, "%s:%d: '%s' is true or false, not '%s'\n", path, lineno, key, value);
            rc = 2;
        } else if (on && !on_command_line(names, nnames, key)) {
            char where[4200], arg[4200];
            snprintf(where, sizeof(where), "%s:%d", path, lineno);
            if (o->has_arg == no_argument)
                snprintf(arg, sizeof(arg), "--%s", key);
            else
                snprintf(arg, sizeof(arg), "--%s=%s", key, value);
            char *a = strdup(arg), *w = strdup(where);
            if (push(b, a, w) != 0) {
                free(a);
                free(w);
                fprintf(stderr, "planwatch %s: out of memory\n", cmd);
                rc = 1;
            }
        }
    }
    fclose(f);
    return rc;
}

static void destroy(struct built **b_p)
{
    struct built *b = *b_p;
    if (!b)
        return;
    for (int i = 0; i < b->argc; i++) {
        free(b->argv[i]);
        free(b->origin[i]);
    }
    free(b->argv);
    free(b->origin);
    free(b);
    *b_p = NULL;
}

int pw_config_expand(const char *cmd, const struct option *longopts, int *argc_p, char ***argv_p)
{
    int argc = *argc_p;
    char **argv = *argv_p;
    pw_config_release();
    checking = false;
    struct built *b = calloc(1, sizeof(*b));
    const char **names = calloc((size_t)argc + 1, sizeof(*names));
    const char **files = calloc((size_t)argc + 1, sizeof(*files));
    int nnames = 0, nfiles = 0, rc = 0, end = argc;
    if (!b || !names || !files || push(b, strdup(argv[0]), NULL) != 0) {
        rc = 1;
        goto out;
    }
    /* First the command line's option names, and the config files it names. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            end = i;
            break;
        }
        if (strcmp(a, "--check-config") == 0)
            checking = true;
        if (strncmp(a, "--", 2) != 0)
            continue;
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (len == 6 && strncmp(a + 2, "config", 6) == 0) {
            if (!eq && i + 1 >= argc) {
                fprintf(stderr, "planwatch %s: --config needs a file\n", cmd);
                rc = 2;
                goto out;
            }
            files[nfiles++] = eq ? eq + 1 : argv[++i];
            continue;
        }
        const struct option *o = match(longopts, a + 2, len);
        if (!o)
            continue; /* getopt_long reports it */
        names[nnames++] = o->name;
        if (o->has_arg == required_argument && !eq)
            i++; /* its value */
    }
    for (int i = 0; i < nfiles && rc == 0; i++)
        rc = read_file(b, cmd, longopts, files[i], names, nnames);
    /* Then the command line, without its --config options. */
    for (int i = 1; i < argc && rc == 0; i++) {
        if (i < end && (strcmp(argv[i], "--config") == 0)) {
            i++;
            continue;
        }
        if (i < end && strncmp(argv[i], "--config=", 9) == 0)
            continue;
        if (push(b, strdup(argv[i]), NULL) != 0)
            rc = 1;
    }
out:
    free((void *)names);
    free((void *)files);
    if (rc != 0) {
        destroy(&b);
        return rc;
    }
    current = b;
    *argc_p = b->argc;
    *argv_p = b->argv;
    return 0;
}

bool pw_config_checking(void)
{
    return checking;
}

void pw_config_release(void)
{
    destroy(&current);
}

const char *pw_config_where(void)
{
    static char buf[4300];
    int i = optind - 1;
    if (!current || i < 0 || i >= current->argc || !current->origin[i])
        return "";
    snprintf(buf, sizeof(buf), "%s: ", current->origin[i]);
    return buf;
}

bool pw_config_check_dir(const char *cmd, const char *what, const char *dir)
{
    /* The directory, or the nearest parent that exists, must be writable:
     * the daemon creates what is missing. */
    char path[4096];
    snprintf(path, sizeof(path), "%s", dir);
    for (;;) {
        struct stat st;
        if (stat(path, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                fprintf(stderr, "planwatch %s: %s %s: %s is not a directory\n", cmd, what, dir,
                        path);
                return false;
            }
            if (access(path, W_OK | X_OK) != 0) {
                fprintf(stderr, "planwatch %s: %s %s: %s: %s\n", cmd, what, dir, path,
                        strerror(errno));
                return false;
            }
            return true;
        }
        char *slash = strrchr(path, '/');
        if (!slash || slash == path) {
            snprintf(path, sizeof(path), "%s", slash == path ? "/" : ".");
            continue;
        }
        *slash = '\0';
    }
}

bool pw_config_check_file_dir(const char *cmd, const char *what, const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "planwatch %s: %s %s: directory %s: %s\n", cmd, what, path, dir,
                strerror(errno));
        return false;
    }
    return true;
}

bool pw_config_check_endpoint(const char *cmd, const char *what, const char *endpoint)
{
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://"};
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i]);
        if (strncmp(endpoint, schemes[i], n) == 0 && endpoint[n])
            return true;
    }
    fprintf(stderr, "planwatch %s: %s '%s': not a tcp://, ipc:// or inproc:// endpoint\n", cmd,
            what, endpoint);
    return false;
}

bool pw_config_check_keys(const char *cmd, const char *keys_dir, const char *name,
                          const char *ring, const char *const *endpoints, size_t n,
                          bool insecure)
{
    if (!keys_dir) {
        bool ok = true;
        for (size_t i = 0; i < n; i++)
            ok &= pw_transport_check(endpoints[i], NULL, insecure) == 0;
        return ok;
    }
    char err[512] = "", dir[4096];
    pw_key_t key;
    int rc = pw_key_load_secret(keys_dir, name, &key, err, sizeof(err));
    pw_secure_zero(&key, sizeof(key));
    if (rc == 0 && ring) {
        pw_keyring_t *keys = NULL;
        snprintf(dir, sizeof(dir), "%s/%s", keys_dir, ring);
        rc = pw_keyring_load(dir, &keys, err, sizeof(err));
        pw_keyring_destroy(&keys);
    }
    if (rc != 0)
        fprintf(stderr, "planwatch %s: --keys %s: %s\n", cmd, keys_dir,
                err[0] ? err : pw_strerror(rc));
    return rc == 0;
}

bool pw_config_check_outputs(const char *cmd, const char *notify, const char *metrics)
{
    bool ok = true;
    if (notify)
        ok &= pw_config_check_endpoint(cmd, "--notify", notify);
    if (metrics)
        ok &= pw_config_check_file_dir(cmd, "--metrics", metrics);
    return ok;
}

const char *pw_config_keys_text(const char *keys_dir, bool insecure)
{
    return keys_dir ? keys_dir : insecure ? "(insecure)" : "(none)";
}

void pw_config_print_plan(const char *path, const pw_catalog_t *cat, const char *keys_dir,
                          bool insecure)
{
    printf("catalog = %s (\"%s\": %zu indicators, %zu districts)\n",
           path ? path : "(the store's plan; the default for a new store)", cat->name,
           cat->nindicators, cat->ndistricts);
    printf("keys = %s\n", pw_config_keys_text(keys_dir, insecure));
}
