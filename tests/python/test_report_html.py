"""The HTML dashboard in headless Chromium (Debian's ``chromium``): no console error, no network
request, every section present with the numbers of the JSON, and a screenshot.

Chromium is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``: JSON
messages on file descriptors 3 and 4, no port, no websocket), so the test needs nothing but the
browser. Run ``python tests/python/test_report_html.py --screenshot docs/report.png`` to redraw the
README's picture (the top 2,700 pixels of the sample report, in 256 colours).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from funnelkit.dashboard import render_html, sample_document

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Browser:
    """Headless Chromium with the DevTools protocol over a pipe."""

    def __init__(self, profile: str):
        r3, w3 = os.pipe()  # the browser reads commands from fd 3
        r4, w4 = os.pipe()  # and writes answers and events to fd 4

        def fds():
            os.dup2(r3, 3)
            os.dup2(w4, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--hide-scrollbars", f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(r3)
        os.close(w4)
        self._out, self._in = w3, r4
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from the browser")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise EOFError("the browser closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, params: dict | None = None, *, session: bool = False, timeout: float = 30) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]
            self.events.append(m)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        if any(e.get("method") == method for e in self.events):
            return
        while True:
            m = self._read(deadline)
            self.events.append(m)
            if m.get("method") == method:
                return

    def evaluate(self, expression: str):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        return r["result"].get("value")

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (EOFError, TimeoutError, OSError, RuntimeError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._out)
        os.close(self._in)


def open_page(path: str, profile: str, width: int = 1280) -> Browser:
    b = Browser(profile)
    for domain in ("Page.enable", "Runtime.enable", "Network.enable", "Log.enable"):
        b.call(domain, session=True)
    b.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                  "mobile": False}, session=True)
    b.call("Page.navigate", {"url": f"file://{path}"}, session=True)
    b.wait_for("Page.loadEventFired")
    return b


def screenshot(b: Browser, path: str, max_height: int | None = None) -> None:
    height = b.evaluate("document.documentElement.scrollHeight")
    height = min(height, max_height or height)
    shot = b.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                             "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}},
                  session=True, timeout=60)
    with open(path, "wb") as fh:
        fh.write(base64.b64decode(shot["data"]))


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/bootstrap.sh installs it)")
    d = tmp_path_factory.mktemp("html")
    doc = sample_document(3000, seed=9)
    path = d / "report.html"
    path.write_text(render_html(doc), encoding="utf-8")
    b = open_page(str(path), str(d / "profile"))
    yield b, doc, path, d
    b.close()


def test_no_console_errors_and_no_network_requests(page):
    b, _, path, _ = page
    problems = [e for e in b.events if e.get("method") in ("Runtime.exceptionThrown",)
                or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "warning"))
                or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error", "warning"))]
    assert not problems, problems
    urls = [e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"]
    assert urls == [f"file://{path}"], urls
    assert b.evaluate("document.querySelectorAll('script:not([type=\"application/json\"]), link, img, iframe, "
                      "object, embed').length") == 0


def test_every_section_is_present_with_the_numbers_of_the_json(page):
    b, doc, _, _ = page
    embedded = json.loads(b.evaluate("document.getElementById('funnelkit-report').textContent"))
    assert embedded == json.loads(json.dumps(doc))
    shown = b.evaluate("Array.from(document.querySelectorAll('section[data-section]')).map(s => "
                       "[s.dataset.section, Number(s.dataset.n), s.innerText, s.querySelectorAll('svg').length])")
    by_id = {sid: (n, text, charts) for sid, n, text, charts in shown}
    assert list(by_id) == [s["id"] for s in doc["sections"]]
    assert len(by_id) == 16 and not doc["skipped"]
    for s in doc["sections"]:
        n, text, charts = by_id[s["id"]]
        assert n == s["n"] and s["sample_size"] in text, s["id"]
        assert s["definition"][:60] in text, s["id"]  # the explain() text beside the chart
        assert charts >= (0 if s["id"] == "stuck" else 1), s["id"]

    def has(sid, value):
        assert value in by_id[sid][1], (sid, value)

    for r in doc["sections"][0]["tables"]["funnel"]["data"]:
        has("funnel", f"{r['reached']:,}")
        if r["step_rate"] is not None:
            has("funnel", f"{100 * r['step_rate']:.1f}%")
    sec = {s["id"]: s for s in doc["sections"]}
    for r in sec["segments"]["tables"]["tests"]["data"]:
        has("segments", f"{100 * r['rate']:.1f}%")
    for r in sec["time_in_stage"]["tables"]["time_in_stage"]["data"]:
        has("time_in_stage", f"{r['visits']:,}")
    for r in sec["plan"]["tables"]["plan"]["data"]:
        has("plan", f"{int(r['per_period']):,}")
    # velocity: V and the realised won revenue per day beside it; forecast: revenue per period.
    has("velocity", f"vs realised {sec['velocity']['tables']['velocity']['data'][0]['realised']:,.0f}")
    for r in sec["forecast"]["tables"]["forecast"]["data"]:
        has("forecast", f"{r['expected_revenue']:,.0f}")
    has("forecast", "coverage_wins")
    has("sla", f"{100 * sec['sla']['tables']['response']['data'][0]['compliance']:.1f}%")
    for r in sec["campaign"]["tables"]["campaign"]["data"]:
        has("campaign", f"{r['leads']:,}")
    for r in sec["stuck"]["tables"]["stuck"]["data"][:20]:
        has("stuck", f"{r['entity']:,}")
    for r in sec["events"]["tables"]["event_funnel"]["data"]:
        has("events", f"{r['reached']:,}")
    # drivers: each value drawn in the forest plot with its odds ratio, interval and q-value, the
    # association-not-cause wording beside it
    drv = sec["drivers"]
    for r in drv["tables"]["drivers"]["data"][: drv["summary"]["shown"]]:
        has("drivers", f"{r['segment']} = {r['value']}")
        has("drivers", f"{r['odds_ratio']:.2f} [{r['lower']:.2f}, {r['upper']:.2f}] q {r['q_value']:.2g}")
    has("drivers", "association, not a cause")
    assert b.evaluate("document.querySelectorAll('#sec-drivers svg circle').length") == drv["summary"]["shown"]
    # won and lost over time: the confidence band of each incidence is a shaded area
    sm = sec["won_lost"]["summary"]
    has("won_lost", f"won {100 * sm['p_won']:.1f}% [{100 * sm['p_won_lower']:.1f}%, {100 * sm['p_won_upper']:.1f}%]")
    bands = b.evaluate("Array.from(document.querySelectorAll('#sec-won_lost svg path')).filter(p => "
                       "p.getAttribute('fill') !== 'none' && p.getAttribute('d').endsWith('Z')).length")
    assert bands == 2
    # cohorts: immature ones are marked
    immature = sum(1 for r in sec["cohorts"]["tables"]["cohorts"]["data"] if r["stage"] == "Lead" and not r["mature"])
    assert by_id["cohorts"][1].count("immature") >= immature > 0


def test_screenshot_and_print(page):
    b, _, _, d = page
    out = d / "report.png"
    screenshot(b, str(out))
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    pdf = b.call("Page.printToPDF", {"printBackground": False}, session=True, timeout=60)
    assert base64.b64decode(pdf["data"])[:4] == b"%PDF"


if __name__ == "__main__" and "--screenshot" in sys.argv:
    import tempfile

    target = os.path.abspath(sys.argv[sys.argv.index("--screenshot") + 1])
    with tempfile.TemporaryDirectory() as tmp:
        html = os.path.join(tmp, "report.html")
        with open(html, "w", encoding="utf-8") as fh:
            fh.write(render_html(sample_document(20_000, seed=42)))
        br = open_page(html, os.path.join(tmp, "profile"))
        screenshot(br, target, max_height=2700)
        br.close()
    try:  # a 256-colour palette keeps the committed picture small (Pillow comes with matplotlib)
        from PIL import Image

        Image.open(target).quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    except ImportError:
        pass
    print(f"wrote {target}")
