#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Drives planwatch web's real pages in headless Chromium, as a desk would.

  drive.py live  --url URL --user U --password P --indicator ID --comment TEXT
                 [--screenshots DIR] -- COMMAND...
      logs in, opens the alert log, runs COMMAND (a collector whose commit
      opens an alert on ID), waits for the alert to appear without a reload
      and prints how long after COMMAND's exit it did ("latency_ms N"), then
      opens the alert, acknowledges it and adds the comment through the forms,
      and checks that both are in its log ("key K").
  drive.py check --url URL --user U --password P --key K --comment TEXT
      logs in and checks that alert K is acknowledged, with the comment.
  drive.py login --url URL --user U --password P
      logs in and checks the overview loads (over HTTPS too).
Exit status 0 when every check held; 1 with the reason on stderr.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402


def js(s):
    return json.dumps(s)


def login(b, url, user, password):
    b.goto(url + "/")
    # Not logged in: the login form (served with 401).
    b.wait_for("document.getElementById('user') !== null")
    b.eval("document.getElementById('user').value = %s;"
           "document.getElementById('password').value = %s;"
           "document.getElementById('login').click(); true" % (js(user), js(password)))
    b.wait_for("document.getElementById('live') !== null && document.readyState === 'complete'")


def submit(b, action, text=None):
    """Fills and submits the alert page's form of action; waits for the page after it."""
    marker = "window.__pw_marker = Math.random(); true"
    b.eval(marker)
    fill = ""
    if text is not None:
        fill = ("var f = b.form; var t = f.querySelector('[name=text]'); t.value = %s;" % js(text))
    b.eval("(function(){var b = document.querySelector('button[data-do=%s]');"
           "if (!b) throw new Error('no %s button');%s b.click(); return true;})()"
           % (js(action)[1:-1], action, fill))
    # The form posts and is redirected back to the alert's page: a new document.
    b.wait_for("window.__pw_marker === undefined && document.readyState === 'complete'")


def alert_log(b):
    return b.eval("Array.from(document.querySelectorAll('ol.log li')).map(function(li){"
                  "return [li.getAttribute('data-action'), li.textContent];})")


def live(a):
    b = cdp.Browser()
    try:
        login(b, a.url, a.user, a.password)
        b.goto(a.url + "/alerts")
        b.wait_for("document.getElementById('live') !== null")
        # Keys are INDICATOR#N or INDICATOR/SERIES#N.
        row = ("(function(){return Array.from(document.querySelectorAll('tr[data-alert-key]'))"
               ".find(function(r){return r.getAttribute('data-alert-key').split(/[\\/#]/)[0] === %s;"
               "});})()" % js(a.indicator))
        if b.eval("%s !== undefined" % row):
            raise SystemExit("drive: an alert on %s is shown before the commit" % a.indicator)
        if a.screenshots:
            b.screenshot(os.path.join(a.screenshots, "alerts-before.png"))
        # Give the page's event stream a moment to be connected before the commit.
        b.wait_for("!document.body.classList.contains('offline')")
        time.sleep(0.3)
        subprocess.run(a.command, check=True, stdout=subprocess.DEVNULL)
        done = time.monotonic()
        key = b.wait_for("(function(){var r = %s; return r && r.getAttribute('data-alert-key');})()"
                         % row, timeout=10, every=0.01)
        latency = (time.monotonic() - done) * 1000
        print("latency_ms %d" % latency)
        print("key %s" % key)
        sys.stdout.flush()
        if a.screenshots:
            b.screenshot(os.path.join(a.screenshots, "alerts.png"))
        b.eval("%s.querySelector('a').click(); true" % row)
        b.wait_for("location.pathname === '/alert' && document.readyState === 'complete'")
        submit(b, "ack")
        submit(b, "comment", a.comment)
        entries = alert_log(b)
        kinds = [k for k, _ in entries]
        if "ack" not in kinds or not any(k == "comment" and a.comment in t for k, t in entries):
            raise SystemExit("drive: the alert's log lacks the acknowledgement or the comment: %r"
                             % entries)
        if a.screenshots:
            b.screenshot(os.path.join(a.screenshots, "alert.png"))
            b.goto(a.url + "/")
            b.wait_for("document.querySelector('table.eval') !== null")
            b.screenshot(os.path.join(a.screenshots, "overview.png"))
            b.goto(a.url + "/indicator/" + a.indicator)
            b.wait_for("document.querySelector('figure.card') !== null")
            b.screenshot(os.path.join(a.screenshots, "indicator.png"))
            b.goto(a.url + "/status")
            b.wait_for("document.querySelector('table.status') !== null")
            b.screenshot(os.path.join(a.screenshots, "status.png"))
    finally:
        b.close()
    if a.screenshots:
        phone = cdp.Browser(width=390, height=844, mobile=True)
        try:
            login(phone, a.url, a.user, a.password)
            phone.goto(a.url + "/alerts")
            phone.wait_for("document.getElementById('live') !== null")
            phone.screenshot(os.path.join(a.screenshots, "phone-alerts.png"), full=False)
        finally:
            phone.close()


def check(a):
    b = cdp.Browser()
    try:
        login(b, a.url, a.user, a.password)
        b.goto(a.url + "/alert?key=" + urllib.parse.quote(a.key, safe=""))
        b.wait_for("document.querySelector('ol.log') !== null")
        entries = alert_log(b)
        kinds = [k for k, _ in entries]
        if "ack" not in kinds or not any(k == "comment" and a.comment in t for k, t in entries):
            raise SystemExit("drive: after the restart, alert %s lacks the acknowledgement or the "
                             "comment: %r" % (a.key, entries))
        state = b.eval("document.querySelector('.state').textContent")
        if "acknowledged" not in state:
            raise SystemExit("drive: after the restart, alert %s is %r" % (a.key, state))
    finally:
        b.close()


def login_only(a):
    b = cdp.Browser()
    try:
        login(b, a.url, a.user, a.password)
        b.goto(a.url + "/")
        b.wait_for("document.getElementById('live') !== null")
        print("title %s" % b.eval("document.title"))
    finally:
        b.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["live", "check", "login"])
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--indicator")
    p.add_argument("--comment", default="")
    p.add_argument("--key")
    p.add_argument("--screenshots")
    argv = sys.argv[1:]
    command = []
    if "--" in argv:
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1:]
    a = p.parse_args(argv)
    a.command = command
    a.url = a.url.rstrip("/")
    {"live": live, "check": check, "login": login_only}[a.mode](a)
    print("ok")


if __name__ == "__main__":
    main()
