/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pw/util.h"

/* Every child started, so a failed test can kill what it left running. */
static pid_t live[1024];
static size_t nlive;

static int spawn_to(pw_proc_t *p, const char *bin, char *const args[], const char *out,
                    const char *err)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* A test that fails or times out must not leave servers behind. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = strcmp(out, err) == 0 ? fo : open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo >= 0)
            dup2(fo, STDOUT_FILENO);
        if (fe >= 0)
            dup2(fe, STDERR_FILENO);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, STDIN_FILENO);
        execv(bin, args);
        _exit(127);
    }
    p->pid = pid;
    p->status = 0;
    if (nlive < sizeof(live) / sizeof(live[0]))
        live[nlive++] = pid;
    return 0;
}

void pw_proc_kill_all(void)
{
    for (size_t i = 0; i < nlive; i++) {
        if (kill(live[i], SIGKILL) == 0)
            waitpid(live[i], NULL, 0);
    }
    nlive = 0;
}

int pw_proc_spawn(pw_proc_t *p, const char *bin, char *const args[], const char *log)
{
    snprintf(p->log, sizeof(p->log), "%s", log);
    return spawn_to(p, bin, args, log, log);
}

char *pw_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

int pw_proc_wait_log(pw_proc_t *p, const char *needle, int timeout_ms)
{
    int64_t deadline = pw_mono_ms() + timeout_ms;
    while (pw_mono_ms() < deadline) {
        char *text = pw_read_file(p->log);
        bool found = text && strstr(text, needle);
        free(text);
        if (found)
            return 0;
        if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
            p->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    return -1;
}

int pw_proc_wait(pw_proc_t *p, int timeout_ms)
{
    if (p->pid > 0) {
        int64_t deadline = pw_mono_ms() + timeout_ms;
        while (waitpid(p->pid, &p->status, WNOHANG) == 0) {
            if (pw_mono_ms() > deadline)
                return -1;
            usleep(5000);
        }
        p->pid = 0;
    }
    return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
}

int pw_proc_poll(pw_proc_t *p)
{
    if (p->pid > 0) {
        if (waitpid(p->pid, &p->status, WNOHANG) == 0)
            return PW_PROC_RUNNING;
        p->pid = 0;
    }
    return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
}

void pw_proc_kill(pw_proc_t *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &p->status, 0);
        p->pid = 0;
    }
}

int pw_proc_stop(pw_proc_t *p, int timeout_ms)
{
    if (p->pid > 0)
        kill(p->pid, SIGTERM);
    int rc = pw_proc_wait(p, timeout_ms);
    if (rc < 0 && p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &p->status, 0);
        p->pid = 0;
    }
    return rc;
}

int pw_proc_run(const char *bin, char *const args[], const char *out_path, int timeout_ms)
{
    pw_proc_t p;
    char err[240];
    snprintf(err, sizeof(err), "%.200s.err", out_path);
    snprintf(p.log, sizeof(p.log), "%s", err);
    if (spawn_to(&p, bin, args, out_path, err) != 0)
        return -1;
    int rc = pw_proc_wait(&p, timeout_ms);
    if (rc < 0 && p.pid > 0) {
        kill(p.pid, SIGKILL);
        waitpid(p.pid, NULL, 0);
    }
    return rc;
}

int pw_proc_capture(const char *bin, char *const args[], const char *out_path, int timeout_ms,
                    char **out, char **err)
{
    char epath[300];
    snprintf(epath, sizeof(epath), "%.200s.err", out_path);
    int rc = pw_proc_run(bin, args, out_path, timeout_ms);
    *out = pw_read_file(out_path);
    *err = pw_read_file(epath);
    return rc;
}

size_t pw_count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text ? strstr(text, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    return n;
}

int pw_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

bool pw_json_get(const char *line, const char *key, char *buf, size_t len)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p || len == 0)
        return false;
    p += strlen(pat);
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"' && n + 1 < len) {
            if (*p == '\\' && p[1])
                p++;
            buf[n++] = *p++;
        }
    } else {
        while (*p && *p != ',' && *p != '}' && n + 1 < len)
            buf[n++] = *p++;
    }
    buf[n] = '\0';
    return true;
}

char *pw_export_csv(const char *bin, const char *store_dir, const char *work_dir)
{
    char out[512], log[512], store[512];
    snprintf(out, sizeof(out), "%s/export.csv", work_dir);
    snprintf(log, sizeof(log), "%s/export.log", work_dir);
    snprintf(store, sizeof(store), "%s", store_dir);
    char *args[] = {"planwatch", "export", "--store", store, "--out", out, "--format", "csv", NULL};
    return pw_proc_run(bin, args, log, 30000) == 0 ? pw_read_file(out) : NULL;
}
