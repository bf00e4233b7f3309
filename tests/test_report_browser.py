"""The HTML report in a real browser: headless Chromium over the DevTools protocol.

Chromium runs with no network features and a fresh profile, driven through
``--remote-debugging-pipe`` (JSON messages on file descriptors 3 and 4, so no port and
no extra Python package). Each page is loaded at laptop width (1280 x 2400) and phone
width (390 x 2400): it must render with no console message, no uncaught error and no
blocked load (the page's Content-Security-Policy blocks any fetch, and says so in the
console), show every chart, and not scroll sideways on the phone. Screenshots are
saved under the test's temporary folder, and into ``$COMPPLAN_SCREENSHOTS`` when set
(how docs/img/report-*.png are made).

Skipped, saying why, where Chromium is not installed; ``make test`` installs it when
it can (root with apt-get).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_safe import CASE_NAME, assert_exit, hostile_case, invoke

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (no `chromium` on PATH or in /usr/bin): "
                             "`make test` installs it as root with apt-get, or run "
                             "`apt-get install -y chromium`")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe"]
TIMEOUT = 60.0
LAPTOP, PHONE = (1280, 2400), (390, 2400)
#: The default case's plan of the README (weights and accelerator multiples), as TOML.
FY27 = """[[metrics]]
id = "enterprise_bookings"
weight = 0.465
accelerator_multiple = 1.25

[[metrics]]
id = "multi_product_deals"
weight = 0.535
accelerator_multiple = 1.0
"""
DEFAULT_CHARTS = ["chart-curve-1", "chart-curve-2", "chart-curve-3", "chart-curve-4",
                  "chart-curve-total", "chart-total-payout", "chart-rep-earnings",
                  "chart-segments", "chart-alignment", "chart-frontier", "chart-frontier-cvar"]


_LAUNCH = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
           "os.execv(sys.argv[3], sys.argv[3:])")


def _high(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Browser:
    """Headless Chromium driven over the DevTools pipe."""

    def __init__(self, profile: Path, log: Path) -> None:
        to_browser, self._in = os.pipe()
        self._out, from_browser = os.pipe()
        # Above 4, so that placing one on 3 cannot overwrite the other before it is placed.
        to_browser, from_browser = (_high(to_browser), _high(from_browser))
        self.log = log
        # The browser reads commands on fd 3 and writes replies on fd 4: a small Python
        # launcher puts the pipes there (a POSIX shell only names fds 0 to 9).
        with log.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, str(to_browser), str(from_browser),
                 str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                pass_fds=(to_browser, from_browser), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready = select.select([self._out], [], [], max(left, 0.0))[0]
            if not ready:
                raise TimeoutError(f"Chromium did not answer in time; its log:\n{self.tail()}")
            chunk = os.read(self._out, 1 << 20)
            if not chunk:
                raise EOFError(f"Chromium closed the pipe; its log:\n{self.tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        data: dict[str, Any] = json.loads(message)
        return data

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its result; events that arrive meanwhile are kept."""
        self._next += 1
        command: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session is not None:
            command["sessionId"] = session
        os.write(self._in, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result
            self.events.append(message)

    def wait_for(self, method: str, session: str) -> None:
        """Wait for an event of this session (or take it from those already received)."""
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == method and e.get("sessionId") == session
                      for e in self.events):
            self.events.append(self._message(deadline))

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.process.wait(timeout=10)
        except (OSError, TimeoutError, EOFError, RuntimeError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        os.close(self._in)
        os.close(self._out)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    folder = tmp_path_factory.mktemp("chromium")
    chrome = Browser(folder / "profile", folder / "chromium.log")
    try:
        yield chrome
    finally:
        chrome.close()


class Page:
    """A page open at a size, with what its console said."""

    def __init__(self, browser: Browser, path: Path, size: tuple[int, int]) -> None:
        self.browser = browser
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = browser.send("Target.attachToTarget", targetId=target,
                                    flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1],
                  deviceScaleFactor=1, mobile=size[0] < 600)
        self.send("Page.navigate", url=path.resolve().as_uri())
        browser.wait_for("Page.loadEventFired", self.session)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        return self.browser.send(method, self.session, **params)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"]["value"]

    def complaints(self) -> list[str]:
        """Console calls, uncaught errors and browser log errors or warnings of this page."""
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"uncaught: {params['exceptionDetails']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log {params['entry']['level']}: {params['entry']['text']}")
        return found

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        keep = os.environ.get("COMPPLAN_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)


CHARTS_JS = """JSON.stringify(Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  return {id: svg.id, width: box.width, height: box.height,
          texts: svg.querySelectorAll('text').length};
}))"""
WIDTH_JS = "JSON.stringify([document.documentElement.scrollWidth, window.innerWidth])"


def check_page(page: Page, charts: list[str]) -> list[dict[str, Any]]:
    """No complaint, every chart drawn with text, nothing wider than the window."""
    assert page.complaints() == []
    drawn = json.loads(page.evaluate(CHARTS_JS))
    assert [c["id"] for c in drawn] == charts
    for chart in drawn:
        assert chart["width"] > 100 and chart["height"] > 80 and chart["texts"] > 3, chart
    scroll, window = json.loads(page.evaluate(WIDTH_JS))
    assert scroll <= window, f"the page scrolls sideways: {scroll} > {window}"
    assert all(c["width"] <= window for c in drawn)
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    return list(drawn)


def write_default_batch(folder: Path) -> Path:
    """A small results file in the format of compplan batch, for the frontier."""
    folder.mkdir(parents=True, exist_ok=True)
    cost = [17.0e6, 18.5e6, 19.6e6, 21.0e6, 21.5e6, 23.0e6]
    pd.DataFrame({
        "id": [f"c{i:04d}" for i in range(1, 8)],
        "name": [f"budget {c / 1e6:.1f} M" for c in cost] + ["budget 12.0 M"],
        "param.budget.expected_cap": [*cost, 12.0e6],
        "status": ["optimal"] * 6 + ["infeasible"],
        "alignment": [0.40, 0.47, 0.52, 0.50, 0.55, 0.56, None],
        "expected_cost": [*cost, None],
        "cvar": [21.0e6, 22.8e6, 24.3e6, 25.0e6, 26.1e6, 27.9e6, None],
        "max_parity_gap": [0.05, 0.06, 0.065, 0.07, 0.08, 0.09, None],
        "metrics": ["enterprise_bookings+multi_product_deals"] * 6 + [""],
        "reason": [""] * 6 + ["expected_cap too low"],
        "frontier_cost": [True, True, True, False, True, True, False],
        "frontier_cvar": [True, True, True, False, True, True, False],
    }).to_csv(folder / "results.csv", index=False)
    return folder


def test_the_default_case_report_renders_on_laptop_and_phone(browser: Browser,
                                                             tmp_path: Path) -> None:
    plan = tmp_path / "fy27.toml"
    plan.write_text(FY27)
    out = tmp_path / "report.html"
    result = invoke("report", str(REPO / "cases" / "enterprise_first"), str(plan), "--batch",
                    str(write_default_batch(tmp_path / "batch")), "--out", str(out), "-q")
    assert_exit(result, 0)
    assert re.findall(r'<svg id="(chart-[^"]+)"', out.read_text()) == DEFAULT_CHARTS
    laptop = Page(browser, out, LAPTOP)
    check_page(laptop, DEFAULT_CHARTS)
    assert laptop.evaluate("document.title") == "Enterprise-first FY27: plan report"
    # Two charts side by side at laptop width, one above the other on a phone.
    boxes = laptop.evaluate("JSON.stringify(['chart-total-payout', 'chart-rep-earnings'].map("
                            "i => document.getElementById(i).getBoundingClientRect().top))")
    assert len(set(json.loads(boxes))) == 1
    laptop.screenshot(tmp_path / "report-laptop.png")
    phone = Page(browser, out, PHONE)
    check_page(phone, DEFAULT_CHARTS)
    boxes = phone.evaluate("JSON.stringify(['chart-total-payout', 'chart-rep-earnings'].map("
                           "i => document.getElementById(i).getBoundingClientRect().top))")
    first, second = json.loads(boxes)
    assert second > first
    phone.screenshot(tmp_path / "report-phone.png")
    for name in ("report-laptop.png", "report-phone.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_case_text_shows_as_written_and_runs_nothing(browser: Browser, tmp_path: Path) -> None:
    out = tmp_path / "hostile.html"
    result = invoke("report", str(hostile_case(tmp_path / "case")), "current", "--out", str(out),
                    "-q")
    assert_exit(result, 0)
    page = Page(browser, out, PHONE)
    check_page(page, ["chart-curve-1", "chart-curve-2", "chart-curve-total",
                      "chart-total-payout", "chart-rep-earnings", "chart-segments",
                      "chart-alignment"])
    heading = page.evaluate("document.querySelector('h1').textContent")
    assert heading == f"{CASE_NAME}: plan report"
    labels = page.evaluate("JSON.stringify(Array.from(document.querySelectorAll("
                           "'#chart-segments text')).map(t => t.textContent))")
    assert "<i>South</i>" in json.loads(labels)


TABLES_JS = """JSON.stringify(Array.from(document.querySelectorAll('table')).map(t => {
  const box = t.parentElement;
  return [t.scrollWidth, box.clientWidth];
}))"""


def test_the_plan_document_fits_a_laptop_and_a_phone(browser: Browser, tmp_path: Path) -> None:
    """plan_explained.html and a rep's page: no table cut at 1280 px, the curve drawn."""
    plan = tmp_path / "fy27.toml"
    plan.write_text(FY27)
    out = tmp_path / "explain"
    result = invoke("explain", str(plan), "--case", str(REPO / "cases" / "enterprise_first"),
                    "--out", str(out), "--per-rep", "-q")
    assert_exit(result, 0)
    for path in (out / "plan_explained.html", out / "reps" / "E0001.html"):
        laptop = Page(browser, path, LAPTOP)
        assert laptop.complaints() == []
        tables = json.loads(laptop.evaluate(TABLES_JS))
        assert tables and all(inner <= outer for inner, outer in tables), (path.name, tables)
        scroll, window = json.loads(laptop.evaluate(WIDTH_JS))
        assert scroll <= window
        box = json.loads(laptop.evaluate(
            "JSON.stringify(document.querySelector('svg.curve').getBoundingClientRect())"))
        assert box["width"] > 300 and box["height"] > 120
        laptop.screenshot(tmp_path / f"{path.stem}-laptop.png")
        phone = Page(browser, path, PHONE)
        scroll, window = json.loads(phone.evaluate(WIDTH_JS))
        assert scroll <= window, f"{path.name} scrolls sideways on a phone"


def test_the_pulse_section_renders_on_laptop_and_phone(browser: Browser, tmp_path: Path) -> None:
    """report --actuals: the year-so-far chart and tables fit a laptop and a phone."""
    plan = tmp_path / "fy27.toml"
    plan.write_text(FY27)
    out = tmp_path / "pulse.html"
    case = REPO / "cases" / "enterprise_first"
    result = invoke("report", str(case), str(plan), "--actuals", str(case / "actuals.csv"),
                    "--out", str(out), "-q")
    assert_exit(result, 0)
    charts = ["chart-pulse", *DEFAULT_CHARTS[:-2]]
    assert re.findall(r'<svg id="(chart-[^"]+)"', out.read_text()) == charts
    for size in (LAPTOP, PHONE):
        page = Page(browser, out, size)
        check_page(page, charts)
        # Each of the section's tables scrolls inside its own box, never the page.
        widths = json.loads(page.evaluate(
            "JSON.stringify(['pulse-guardrails', 'pulse-retune', 'pulse-drift'].map("
            "i => document.getElementById(i).closest('.scroll').getBoundingClientRect().width))"))
        assert all(0 < w <= size[0] for w in widths), widths
