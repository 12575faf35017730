"""
test_page.py -- the status page (GET /) in headless Chromium (Debian's
chromium), driven over the DevTools protocol on a pipe (no port): load it, set
keys over RESP, and check in the live DOM that they appear in the feed, that the
prefix filter hides the others and that the namespace counts and ops/s update.
The DOM dump and a screenshot are kept in build/test-logs/http-page.{html,png}.
Ends with "N passed, M failed".
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httplib import HTTP_PORT, ROOT, curl, eq, harness, resp_client, server, true  # noqa: E402
from harness import test  # noqa: E402

LOGDIR = os.path.join(ROOT, "build", "test-logs")


class Chromium:
    """Headless Chromium with --remote-debugging-pipe (fd 3 in, fd 4 out)."""

    def __init__(self):
        exe = shutil.which("chromium")
        if exe is None:
            raise AssertionError("chromium is not installed (Debian package chromium)")
        self.profile = tempfile.mkdtemp(prefix="skv-chromium-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        # the child's fds 3 and 4 must be the pipe ends: dup them there in the child
        def setup():
            a, b = os.dup(to_child_r), os.dup(from_child_w)  # neither may be 3 or 4 now
            os.dup2(a, 3)
            os.dup2(b, 4)
        self.log = open(os.path.join(LOGDIR, "http-page-chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
             "--window-size=1000,900", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=setup, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        end = time.time() + timeout
        while time.time() < end:
            while b"\0" not in self.buf:
                chunk = os.read(self.from_child, 1 << 20)
                if not chunk:
                    raise AssertionError("chromium exited")
                self.buf += chunk
            raw, _, self.buf = self.buf.partition(b"\0")
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise AssertionError("%s: %s" % (method, reply["error"]))
                return reply["result"]
        raise AssertionError("no reply to " + method)

    def open(self, url):
        targets = self.call("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Page.navigate", {"url": url})

    def js(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise AssertionError("js %r: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_js(self, expr, timeout=10, what=None):
        end = time.time() + timeout
        while time.time() < end:
            try:
                if self.js(expr):
                    return
            except AssertionError:
                pass
            time.sleep(0.1)
        raise AssertionError("timed out waiting for " + (what or expr))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()  # by PID
            self.proc.wait()
        os.close(self.to_child)
        os.close(self.from_child)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


os.makedirs(LOGDIR, exist_ok=True)
srv = server()
r = resp_client()
browser = Chromium()


@test("the page is one self-contained HTML document (no external URL)")
def _():
    p = curl("GET", "/")
    eq((p.status, p.headers["content-type"]), (200, "text/html; charset=utf-8"))
    true(b"<canvas" in p.body and b'id="feed"' in p.body, "chart and feed elements")
    for ext in (b"http://", b"https://", b"//cdn", b"src=\"http"):
        true(ext not in p.body, "no external reference %r" % ext)


@test("Chromium loads the page: namespaces table and a live feed")
def _():
    browser.open("http://127.0.0.1:%d/" % HTTP_PORT)
    browser.wait_js("document.getElementById('status').textContent === 'live'", 15, "the feed to connect")
    browser.wait_js("document.getElementById('ns-0') !== null", 10, "the namespaces table")


@test("keys set over RESP appear in the page's feed and the counts update")
def _():
    for i in range(5):
        r.set("page:%d" % i, "v")
    r.delete("page:4")
    browser.wait_js("document.getElementById('feed').innerText.includes('page:3')", 10, "page:3 in the feed")
    feed = browser.js("document.getElementById('feed').innerText")
    for i in range(5):
        true("page:%d" % i in feed, "page:%d in the feed: %r" % (i, feed))
    true("del" in feed, "the delete is shown")
    n = r.dbsize()
    browser.wait_js("document.querySelector('#ns-0 .keys').textContent === '%d'" % n, 10,
                    "ns 0 to show %d keys" % n)
    r.set("page:late", "v")
    browser.wait_js("document.querySelector('#ns-0 .keys').textContent === '%d'" % (n + 1), 10,
                    "the count to update to %d" % (n + 1))


@test("the prefix filter hides other keys; ops/s goes up under load")
def _():
    browser.js("const f = document.getElementById('filter'); f.value = 'page:';"
               "f.dispatchEvent(new Event('input'))")
    r.set("other:1", "v")
    browser.wait_js("[...document.querySelectorAll('#feed li')].some(li => li.dataset.key === 'other:1')", 10,
                    "other:1 to arrive")
    hidden = browser.js("[...document.querySelectorAll('#feed li')].filter(li => li.hidden)"
                        ".map(li => li.dataset.key)")
    eq(hidden, ["other:1"], "hidden by the filter")
    visible = browser.js("[...document.querySelectorAll('#feed li')].filter(li => !li.hidden).length")
    true(visible >= 6, "page: events stay visible (%d)" % visible)
    end = time.time() + 3
    pipe = r.pipeline(transaction=False)
    while time.time() < end:
        for i in range(200):
            pipe.get("load:%d" % i)
        pipe.execute()
    browser.wait_js("Number(document.getElementById('ops').textContent) > 100", 10, "ops/s above 100")


@test("DOM dump and screenshot kept in build/test-logs")
def _():
    html = browser.js("document.documentElement.outerHTML")
    with open(os.path.join(LOGDIR, "http-page.html"), "w") as f:
        f.write(html)
    true("page:3" in html, "the DOM dump shows the keys")
    shot = browser.call("Page.captureScreenshot", {"format": "png"})["data"]
    path = os.path.join(LOGDIR, "http-page.png")
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot))
    true(os.path.getsize(path) > 5000, "a real screenshot")
    print("screenshot: %s (%d bytes); DOM dump: %s" % (path, os.path.getsize(path),
                                                        os.path.join(LOGDIR, "http-page.html")))


browser.stop()
srv.stop()
sys.exit(0 if harness.summary() else 1)
