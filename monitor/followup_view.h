/* SPDX-License-Identifier: MIT */
#ifndef PW_FOLLOWUP_VIEW_H
#define PW_FOLLOWUP_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "followup.h"
#include "pw/event.h"

/*
 * The bureau's follow-up of an alert (state/followup.h) as the monitor shows
 * it beside the alert: "[acknowledged by wang 2026-12-04 10:02; assigned to
 * 养老服务处; 2 comments]", and as a JSON member. Times are UTC.
 */

/**
 * Writes into buf (len bytes) the follow-up of the alert ev is about, as
 * " [...]" with a leading space, or "" when fu is NULL, ev is a resolve
 * or the follow-up knows nothing of it (no record, no silence in force at
 * now_ms). Read errors leave "" too: the monitor shows alerts regardless.
 */
void pw_view_fmt_followup(pw_followup_t *fu, const pw_event_t *ev, int64_t now_ms, char *buf,
                          size_t len);

/**
 * Writes ,"followup":{"key","state","assignee","acked_by","acked_ms","escalated",
 * "comments","silenced_until"} for the alert ev is about (null for what is
 * unknown), or nothing under the conditions pw_view_fmt_followup() writes "".
 */
void pw_view_json_followup(pw_followup_t *fu, const pw_event_t *ev, int64_t now_ms, FILE *out);

/** Writes ms as UTC "2026-12-04 10:02" into buf (at least 32 bytes); the date alone at 00:00. */
void pw_view_fmt_minute(int64_t ms, char buf[32]);

#endif
