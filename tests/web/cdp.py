# SPDX-License-Identifier: MIT
"""A headless Chromium driven over the DevTools protocol on a pipe.

Chromium started with --remote-debugging-pipe reads commands on its fd 3 and
writes replies and events on its fd 4, each a JSON text ended by a NUL byte.
Only the standard library is needed, so the tests run wherever Chromium and
python3 are installed (./run test installs both).
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time


def find_chromium():
    env = os.environ.get("PW_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("cdp: chromium is not installed (apt-get install chromium, or set PW_CHROMIUM)")


class Browser:
    def __init__(self, width=1280, height=900, mobile=False):
        self.profile = tempfile.mkdtemp(prefix="pw-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        os.set_inheritable(to_browser_r, True)
        os.set_inheritable(from_browser_w, True)

        def fds():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        args = [find_chromium(), "--headless=new", "--remote-debugging-pipe", "--no-sandbox",
                "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions",
                "--ignore-certificate-errors", "--user-data-dir=" + self.profile,
                "--window-size=%d,%d" % (width, height), "about:blank"]
        # close_fds would close 3 and 4 after fds() made them: the pipes stay open.
        self.proc = subprocess.Popen(args, preexec_fn=fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._id = 0
        self._events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)
        if mobile:
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 2,
                       "mobile": True}, session=True)

    def _read(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("cdp: no message from chromium")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise EOFError("cdp: chromium closed the pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=False, timeout=30):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError("cdp: %s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self._events.append(reply)

    def eval(self, expression, timeout=30):
        """The value of a JavaScript expression (a promise is awaited)."""
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True}, session=True, timeout=timeout)
        if "exceptionDetails" in res:
            raise RuntimeError("cdp: %s: %s" % (expression, res["exceptionDetails"]))
        return res.get("result", {}).get("value")

    def goto(self, url, timeout=30):
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'",
                      timeout)

    def wait_for(self, expression, timeout=10, every=0.02):
        """Polls expression until it is truthy; its value, or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.eval(expression)
            except RuntimeError:
                value = None  # a page being replaced mid-evaluation
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError("cdp: still false after %ss: %s" % (timeout, expression))
            time.sleep(every)

    def screenshot(self, path, full=True):
        """A PNG of the page: the whole of it, or what the window shows."""
        params = {"format": "png"}
        if full:
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", params, session=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)
