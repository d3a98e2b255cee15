/* SPDX-License-Identifier: MIT */
/*
 * The transports: an HTTP POST with libcurl's easy interface (WeCom robots
 * and JSON webhooks) and the local MTA run as `sendmail -t -oi`. Both run in
 * the sender thread only, both give up after the attempt's timeout and as
 * soon as the notifier is told to stop.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "notify_internal.h"
#include "pw/util.h"

#define REPLY_MAX          65536
#define CONNECT_TIMEOUT_MS 3000L

extern char **environ;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int pw__send_global_init(void)
{
    pthread_once(&curl_once, curl_init);
    return curl_init_rc == CURLE_OK ? 0 : -EIO;
}

typedef struct reply {
    char buf[REPLY_MAX];
    size_t len;
} reply_t;

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    reply_t *r = arg;
    size_t n = size * nmemb, room = sizeof(r->buf) - 1 - r->len;
    /* What does not fit is dropped, not refused: the status decides. */
    memcpy(r->buf + r->len, data, n < room ? n : room);
    r->len += n < room ? n : room;
    r->buf[r->len] = '\0';
    return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load((const atomic_bool *)arg) ? 1 : 0;
}

/* WeCom answers 200 to everything and says in errcode whether it took it. */
static bool wecom_ok(const char *reply, long *errcode_out)
{
    const char *p = strstr(reply, "\"errcode\"");
    *errcode_out = -1;
    if (p == NULL)
        return false;
    p += strlen("\"errcode\"");
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p != ':')
        return false;
    char *end = NULL;
    long code = strtol(p + 1, &end, 10);
    if (end == p + 1)
        return false;
    *errcode_out = code;
    return code == 0;
}

int pw__send_http(const char *url, const char *ctype, const char *body, size_t len, bool wecom,
                  long timeout_ms, const atomic_bool *stop, char *err, size_t errlen)
{
    char ctype_hdr[256];
    struct curl_slist *hdrs = NULL, *h;
    reply_t *reply = NULL;
    int rc = -ENOMEM;
    CURL *c = curl_easy_init();
    if (c == NULL)
        goto cleanup;
    reply = calloc(1, sizeof(*reply));
    if (reply == NULL)
        goto cleanup;
    snprintf(ctype_hdr, sizeof(ctype_hdr), "Content-Type: %s; charset=utf-8", ctype);
    /* No "Expect: 100-continue" round trip: webhooks answer at once. */
    if ((h = curl_slist_append(hdrs, ctype_hdr)) == NULL)
        goto cleanup;
    hdrs = h;
    if ((h = curl_slist_append(hdrs, "Expect:")) == NULL)
        goto cleanup;
    hdrs = h;
    curl_easy_setopt(c, CURLOPT_URL, url);
    /* Only what the routes file allows, whatever a URL or a redirect says. */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "planwatch-notify/1");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, stop);
    /* The log gets the URL without its query: a WeCom robot's key is its password. */
    char shown[512];
    snprintf(shown, sizeof(shown), "%.*s%s", (int)strcspn(url, "?"), url,
             strchr(url, '?') ? "?..." : "");
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "POST %s: %s", shown, curl_easy_strerror(cc));
        rc = cc == CURLE_OPERATION_TIMEDOUT    ? -ETIMEDOUT
             : cc == CURLE_ABORTED_BY_CALLBACK ? -ECANCELED
                                               : -EIO;
        goto cleanup;
    }
    long status = 0, errcode = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        snprintf(err, errlen, "POST %s: HTTP status %ld", shown, status);
        rc = -EIO;
    } else if (wecom && !wecom_ok(reply->buf, &errcode)) {
        snprintf(err, errlen, "POST %s: WeCom errcode %ld: %.200s", shown, errcode, reply->buf);
        rc = -EIO;
    } else {
        rc = 0;
    }
cleanup:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "POST %s: out of memory", shown);
    curl_slist_free_all(hdrs);
    if (c)
        curl_easy_cleanup(c);
    free(reply);
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Writes all of s to fd (non-blocking) before the deadline or a stop. */
static int write_all(int fd, const char *s, size_t len, int64_t deadline, const atomic_bool *stop)
{
    size_t off = 0;
    while (off < len) {
        if (atomic_load(stop))
            return -ECANCELED;
        int64_t left = deadline - pw_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n = poll(&p, 1, left < 100 ? (int)left : 100);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n <= 0)
            continue;
        ssize_t w = write(fd, s + off, len - off);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        if (w > 0)
            off += (size_t)w;
    }
    return 0;
}

int pw__send_mail(const char *sendmail, const char *mail, size_t len, long timeout_ms,
                  const atomic_bool *stop, char *err, size_t errlen)
{
    int fds[2] = {-1, -1}, rc, status = 0;
    pid_t pid = -1;
    int64_t deadline = pw_mono_ms() + timeout_ms;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    bool fa_ok = false, attr_ok = false;
    char *argv[] = {(char *)"sendmail", (char *)"-t", (char *)"-oi", NULL};
    if (pipe(fds) != 0) {
        rc = -errno;
        goto cleanup;
    }
    /* Our end must not leak into the child, or it never sees end of file. */
    if (fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0 || fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0) {
        rc = -errno;
        goto cleanup;
    }
    if ((rc = -posix_spawn_file_actions_init(&fa)) != 0)
        goto cleanup;
    fa_ok = true;
    if ((rc = -posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO)) != 0 ||
        (rc = -posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)) != 0)
        goto cleanup;
    if ((rc = -posix_spawnattr_init(&attr)) != 0)
        goto cleanup;
    attr_ok = true;
    /* The sender thread blocks SIGPIPE; the MTA gets the usual signals. */
    sigset_t none;
    sigemptyset(&none);
    if ((rc = -posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
        (rc = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK)) != 0)
        goto cleanup;
    /* No shell: the path is the routes file's, the arguments are fixed. */
    if ((rc = -posix_spawn(&pid, sendmail, &fa, &attr, argv, environ)) != 0) {
        pid = -1;
        snprintf(err, errlen, "%s: %s", sendmail, strerror(-rc));
        goto cleanup;
    }
    close(fds[0]);
    fds[0] = -1;
    rc = write_all(fds[1], mail, len, deadline, stop);
    close(fds[1]);
    fds[1] = -1;
    if (rc == -EPIPE)
        rc = 0; /* it stopped reading: its exit status says whether it took the mail */
    while (rc == 0) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            pid = -1;
            break;
        }
        if (w < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        if (atomic_load(stop))
            rc = -ECANCELED;
        else if (pw_mono_ms() >= deadline)
            rc = -ETIMEDOUT;
        else
            sleep_ms(10);
    }
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        rc = -EIO;
        if (WIFEXITED(status))
            snprintf(err, errlen, "%s: exit status %d", sendmail, WEXITSTATUS(status));
        else
            snprintf(err, errlen, "%s: killed by signal %d", sendmail, WTERMSIG(status));
    } else if (rc < 0 && rc != -EIO && (errlen == 0 || err[0] == '\0')) {
        snprintf(err, errlen, "%s: %s", sendmail,
                 rc == -ETIMEDOUT ? "timed out, killed" : strerror(-rc));
    }
cleanup:
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (attr_ok)
        posix_spawnattr_destroy(&attr);
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    if (rc < 0 && errlen > 0 && err[0] == '\0')
        snprintf(err, errlen, "%s: %s", sendmail, strerror(-rc));
    return rc;
}
