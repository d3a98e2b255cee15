/* SPDX-License-Identifier: MIT */
#ifndef PW_LOG_H
#define PW_LOG_H

/*
 * Logging for programs (proto/ itself never logs): one line per event on
 * stderr, "2026-06-01T12:00:00.123Z aggregator[1234] ERROR: what failed: why",
 * a form journald keeps well. When stderr is the journal (JOURNAL_STREAM names
 * it, as systemd sets it for a service), each line starts with its syslog
 * priority, "<3>" error, "<4>" warn, "<6>" info, "<7>" debug, which journald
 * strips and keeps as the entry's PRIORITY.
 */

typedef enum pw_log_level {
    PW_LOG_ERROR = 0,
    PW_LOG_WARN,
    PW_LOG_INFO,
    PW_LOG_DEBUG,
} pw_log_level_t;

/** Sets the component name shown in each line and the most verbose level shown;
 *  checks whether stderr is the journal. */
void pw_log_init(const char *component, pw_log_level_t level);

/** Parses "error", "warn", "info" or "debug". 0 or -EINVAL. */
int pw_log_level_parse(const char *text, pw_log_level_t *out);

/** Writes one line if level is enabled. Thread-safe (one write(2) per line). */
void pw_log(pw_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define PW_ERROR(...) pw_log(PW_LOG_ERROR, __VA_ARGS__)
#define PW_WARN(...)  pw_log(PW_LOG_WARN, __VA_ARGS__)
#define PW_INFO(...)  pw_log(PW_LOG_INFO, __VA_ARGS__)
#define PW_DEBUG(...) pw_log(PW_LOG_DEBUG, __VA_ARGS__)

#endif
