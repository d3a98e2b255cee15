/* SPDX-License-Identifier: MIT */
#include "pw/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static char log_component[32] = "planwatch";
static pw_log_level_t log_level = PW_LOG_INFO;
static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
/* syslog priorities (sd-daemon.h's SD_ERR...) for journald's "<N>" line prefix. */
static const char *const level_prefix[] = {"<3>", "<4>", "<6>", "<7>"};
static int log_journal;

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected to our stderr; if stderr is still that stream, journald reads a
 * "<N>" prefix as the line's priority. Anywhere else the prefix would be noise. */
static int stderr_is_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void pw_log_init(const char *component, pw_log_level_t level)
{
    snprintf(log_component, sizeof(log_component), "%s", component);
    log_level = level;
    log_journal = stderr_is_journal();
}

int pw_log_level_parse(const char *text, pw_log_level_t *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (pw_log_level_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

void pw_log(pw_log_level_t level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%s%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: ",
                     log_journal ? level_prefix[level] : "", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, log_component, (long)getpid(),
                     level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    /* One write per line so concurrent processes sharing stderr never interleave. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
