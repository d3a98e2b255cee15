/* SPDX-License-Identifier: MIT */
#ifndef PW_TEST_PROC_H
#define PW_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Real processes for integration tests: spawn, wait for "ready", stop. */

typedef struct pw_proc {
    pid_t pid;
    char log[256];
    int status; /**< wait status once reaped */
} pw_proc_t;

/** Starts bin with args (NULL-terminated, args[0] is the program name), output into log. */
int pw_proc_spawn(pw_proc_t *p, const char *bin, char *const args[], const char *log);

/** Waits for a line containing needle in the log. 0, or -1 on timeout or early exit. */
int pw_proc_wait_log(pw_proc_t *p, const char *needle, int timeout_ms);

/** Waits for exit up to timeout_ms; returns the exit code, or -1 (killed, timeout). */
int pw_proc_wait(pw_proc_t *p, int timeout_ms);

/** Without waiting: PW_PROC_RUNNING, else the exit code (-1 when killed by a signal). */
#define PW_PROC_RUNNING (-2)
int pw_proc_poll(pw_proc_t *p);

/** SIGKILL and reap. */
void pw_proc_kill(pw_proc_t *p);

/** SIGKILLs every child this process started that is still running (for teardown). */
void pw_proc_kill_all(void);

/** SIGTERM then wait; the exit code, or -1. */
int pw_proc_stop(pw_proc_t *p, int timeout_ms);

/** Runs bin to completion, stdout into out_path (NULL = the log); the exit code or -1. */
int pw_proc_run(const char *bin, char *const args[], const char *out_path, int timeout_ms);

/**
 * Runs bin to completion with stdout into out_path and stderr into
 * out_path.err, and reads both into *out and *err (caller frees; NULL if
 * unreadable). The exit code, or -1.
 */
int pw_proc_capture(const char *bin, char *const args[], const char *out_path, int timeout_ms,
                    char **out, char **err);

/**
 * The log of the store at store_dir as `planwatch export --format csv`
 * writes it (bin: the planwatch binary), through work_dir/export.csv; a heap
 * string (caller frees), or NULL when the export fails.
 */
char *pw_export_csv(const char *bin, const char *store_dir, const char *work_dir);

/** Reads a whole file into a NUL-terminated heap buffer (caller frees), or NULL. */
char *pw_read_file(const char *path);

/** How many times needle occurs in text (overlapping ones too); 0 for a NULL text. */
size_t pw_count(const char *text, const char *needle);



/** A free TCP port on 127.0.0.1 (bound and released), or -1. */
int pw_free_port(void);

/**
 * Copies the raw JSON value of "key" in a flat one-line object into buf
 * (strings without their quotes); false when the key is absent.
 */
bool pw_json_get(const char *line, const char *key, char *buf, size_t len);
#endif
