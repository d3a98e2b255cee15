/* SPDX-License-Identifier: MIT */
#include "followup_view.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "pw/util.h"

/* What the follow-up says of one alert: its record (if any) and a silence on it. */
struct fu_info {
    bool has_record;
    pw_fu_alert_t a;
    uint32_t comments;
    const pw_fu_action_t *closed; /* the last close, for who and when; in actions */
    pw_fu_action_t *actions;
    int64_t silenced_until; /* 0: none in force */
};

struct silence_match {
    const pw_event_t *ev;
    int64_t until;
};

/* A silence of the alert's indicator or of a district its detail names. */
static int match_silence(void *ctx, const pw_fu_silence_t *s)
{
    struct silence_match *m = ctx;
    bool hit = !s->district && strcmp(s->id, m->ev->indicator) == 0;
    for (uint32_t i = 0; !hit && s->district && i < m->ev->ntop && i < PW_TOP_MAX; i++)
        hit = strcmp(s->id, m->ev->top[i].district) == 0;
    if (hit && s->until_ms > m->until)
        m->until = s->until_ms;
    return 0;
}

/* Fills *info; false when there is nothing to show. Free info->actions after. */
static bool lookup(pw_followup_t *fu, const pw_event_t *ev, int64_t now_ms, struct fu_info *info)
{
    memset(info, 0, sizeof(*info));
    /* Not by ev->type: a snapshot's open alerts may come without one. */
    if (!fu || ev->action == PW_ALERT_RESOLVE)
        return false;
    if (pw_followup_current(fu, ev->indicator, ev->series, &info->a) == 0 &&
        pw_followup_get(fu, info->a.key, &info->a, &info->actions) == 0) {
        info->has_record = true;
        for (uint32_t i = 0; i < info->a.nactions; i++) {
            info->comments += info->actions[i].kind == PW_FU_COMMENT;
            if (info->actions[i].kind == PW_FU_CLOSE)
                info->closed = &info->actions[i];
        }
    }
    struct silence_match m = {ev, 0};
    if (pw_followup_silences(fu, now_ms, match_silence, &m) == 0)
        info->silenced_until = m.until;
    return info->has_record || info->silenced_until > 0;
}

void pw_view_fmt_minute(int64_t ms, char buf[32])
{
    char iso[32];
    pw_format_time(ms, iso); /* 2026-12-04T10:02:00Z */
    bool midnight = strncmp(iso + 11, "00:00", 5) == 0;
    snprintf(buf, 32, "%.10s%s%.5s", iso, midnight ? "" : " ", midnight ? "" : iso + 11);
}

/* Appends to buf as snprintf would, never past len. */
static void add(char *buf, size_t len, const char *sep, const char *text)
{
    size_t used = strlen(buf);
    if (used < len)
        snprintf(buf + used, len - used, "%s%s", used > 2 ? sep : "", text);
}

void pw_view_fmt_followup(pw_followup_t *fu, const pw_event_t *ev, int64_t now_ms, char *buf,
                          size_t len)
{
    if (len == 0)
        return;
    buf[0] = '\0';
    struct fu_info *info = malloc(sizeof(*info)); /* a record is 5 KiB: not on the stack */
    if (!info)
        return;
    if (!lookup(fu, ev, now_ms, info))
        goto out;
    char part[PW_FU_TEXT_MAX + 64], when[32];
    snprintf(buf, len, " [");
    if (info->has_record) {
        const pw_fu_alert_t *a = &info->a;
        if (a->state == PW_FU_ACKED) {
            pw_view_fmt_minute(a->acked_ms, when);
            snprintf(part, sizeof(part), "acknowledged by %s %s", a->acked_by, when);
        } else if (a->state == PW_FU_CLOSED && info->closed) {
            pw_view_fmt_minute(info->closed->time_ms, when);
            snprintf(part, sizeof(part), "closed by %s %s", info->closed->who, when);
        } else {
            snprintf(part, sizeof(part), "%s", pw_fu_state_name(a->state));
        }
        add(buf, len, "; ", part);
        if (a->escalated_ms)
            add(buf, len, "", ", escalated");
        if (a->assignee[0]) {
            snprintf(part, sizeof(part), "assigned to %s", a->assignee);
            add(buf, len, "; ", part);
        }
        if (info->comments) {
            snprintf(part, sizeof(part), "%u comment%s", info->comments,
                     info->comments == 1 ? "" : "s");
            add(buf, len, "; ", part);
        }
    }
    if (info->silenced_until) {
        pw_view_fmt_minute(info->silenced_until, when);
        snprintf(part, sizeof(part), "silenced until %s", when);
        add(buf, len, "; ", part);
    }
    add(buf, len, "", "]");
out:
    free(info->actions);
    free(info);
}

static void json_ms(FILE *out, const char *name, int64_t ms)
{
    if (ms)
        fprintf(out, ",\"%s\":%lld", name, (long long)ms);
    else
        fprintf(out, ",\"%s\":null", name);
}

void pw_view_json_followup(pw_followup_t *fu, const pw_event_t *ev, int64_t now_ms, FILE *out)
{
    struct fu_info *info = malloc(sizeof(*info));
    if (!info)
        return;
    if (!lookup(fu, ev, now_ms, info))
        goto out;
    const pw_fu_alert_t *a = &info->a;
    bool r = info->has_record;
    fputs(",\"followup\":{\"key\":", out);
    pw_view_json_str(out, r ? a->key : NULL);
    fputs(",\"state\":", out);
    pw_view_json_str(out, r ? pw_fu_state_name(a->state) : NULL);
    fputs(",\"assignee\":", out);
    pw_view_json_str(out, r && a->assignee[0] ? a->assignee : NULL);
    fputs(",\"acked_by\":", out);
    pw_view_json_str(out, r && a->acked_ms ? a->acked_by : NULL);
    json_ms(out, "acked_ms", r ? a->acked_ms : 0);
    fprintf(out, ",\"escalated\":%s,\"comments\":%u", r && a->escalated_ms ? "true" : "false",
            info->comments);
    json_ms(out, "silenced_until", info->silenced_until);
    fputc('}', out);
out:
    free(info->actions);
    free(info);
}
