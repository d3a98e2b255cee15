/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define QUEUE_MAX 1024

struct pw_hook {
    char *cmd;
    size_t parallel;
    pid_t *running;
    size_t nrunning;
    char *queue[QUEUE_MAX];
    size_t qhead, qlen;
    size_t started, failed, dropped;
};

int pw_hook_new(const char *cmd, size_t parallel, pw_hook_t **out)
{
    *out = NULL;
    pw_hook_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->parallel = parallel ? parallel : 8;
    self->cmd = strdup(cmd);
    self->running = calloc(self->parallel, sizeof(pid_t));
    if (!self->cmd || !self->running) {
        pw_hook_destroy(&self);
        return -ENOMEM;
    }
    *out = self;
    return 0;
}

void pw_hook_destroy(pw_hook_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_hook_t *self = *self_p;
    for (size_t i = 0; i < self->qlen; i++)
        free(self->queue[(self->qhead + i) % QUEUE_MAX]);
    free(self->running);
    free(self->cmd);
    free(self);
    *self_p = NULL;
}

/* Starts one command with json on its stdin; the pipe holds it all (JSON
 * lines are far below the 64 KiB pipe buffer), so this never blocks. */
static int start(pw_hook_t *self, const char *json)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return -err;
    }
    if (pid == 0) {
        dup2(fds[0], STDIN_FILENO);
        close(fds[0]);
        close(fds[1]);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", self->cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    size_t len = strlen(json), off = 0;
    while (off < len) {
        ssize_t n = write(fds[1], json + off, len - off);
        if (n <= 0)
            break; /* the command does not read its input: its business */
        off += (size_t)n;
    }
    close(fds[1]);
    self->running[self->nrunning++] = pid;
    self->started++;
    return 0;
}

void pw_hook_poll(pw_hook_t *self)
{
    for (size_t i = 0; i < self->nrunning;) {
        int status;
        pid_t r = waitpid(self->running[i], &status, WNOHANG);
        if (r == 0) {
            i++;
            continue;
        }
        if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            self->failed++;
        self->running[i] = self->running[--self->nrunning];
    }
    while (self->qlen > 0 && self->nrunning < self->parallel) {
        char *json = self->queue[self->qhead];
        self->qhead = (self->qhead + 1) % QUEUE_MAX;
        self->qlen--;
        if (start(self, json) != 0)
            self->failed++;
        free(json);
    }
}

int pw_hook_fire(pw_hook_t *self, const char *json, size_t len)
{
    if (self->qlen == QUEUE_MAX) {
        self->dropped++;
        return -ENOSPC;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        self->dropped++;
        return -ENOMEM;
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    self->queue[(self->qhead + self->qlen) % QUEUE_MAX] = copy;
    self->qlen++;
    pw_hook_poll(self);
    return 0;
}

void pw_hook_counts(const pw_hook_t *self, size_t *started, size_t *failed, size_t *dropped)
{
    *started = self->started;
    *failed = self->failed;
    *dropped = self->dropped;
}
