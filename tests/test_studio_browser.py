"""The studio in a real browser: Debian's Chromium driven by Playwright.

``compplan studio`` runs as a user starts it (a process printing its URL); the page is
driven as a designer would, and what it shows (``data-figure``/``data-value``) is
compared with the command line's figures for the same change. Skipped, with the
reason, where Chromium or Playwright is absent (``make test`` installs Chromium).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_exit, invoke

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).parent.parent
CASE = str(ROOT / "cases" / "enterprise_first")

if not os.path.exists(CHROMIUM):
    pytest.skip(f"Chromium is not installed at {CHROMIUM} (make test installs it as root)",
                allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="Playwright for Python is not installed")


class Studio:
    """A ``compplan studio`` process and its address."""

    def __init__(self, case: str, cwd: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "compplan", "studio", case, "--no-browser", *args], cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        deadline = time.monotonic() + 60
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            found = re.search(r"(http://127\.0\.0\.1:(\d+)/\?token=([\w-]+))&(\S+)", line)
            if found:
                self.url, self.port, self.token = found.group(1), found.group(2), found.group(3)
                self.base = f"http://127.0.0.1:{self.port}"
                return
        raise AssertionError("the studio printed no URL:\n" + "".join(self.lines))

    def page_url(self, state: str) -> str:
        return f"{self.url}&{state}"

    def status(self) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.base}/api/status?token={self.token}")
        with urllib.request.urlopen(request, timeout=10) as answer:
            data: dict[str, Any] = json.load(answer)
        return data

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as a user stops it."""
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=30)
        return self.process.returncode, "".join(self.lines) + out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("studio")


@pytest.fixture(scope="module")
def studio(workdir: Path) -> Iterator[Studio]:
    running = Studio(CASE, workdir)
    yield running
    code, output = running.stop()
    assert code == 0, output
    assert output.rstrip().endswith("compplan studio: stopped")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


def settled(page: Any, state: str | None = None, timeout: float = 30_000) -> None:
    """Wait until the page shows the figures of ``state`` (CSP forbids eval: selectors only)."""
    selector = 'body[data-busy="0"]' if state is None else \
        f'body[data-busy="0"][data-state="{state}"]'
    page.locator(selector).wait_for(timeout=timeout)


def figure(page: Any, key: str) -> float:
    return float(page.locator(f'[data-figure="{key}"]').first.get_attribute("data-value"))


def cli_evaluate(tmp_path: Path, *modifiers: str) -> dict[str, Any]:
    args = ["evaluate", CASE, "current", "--out", str(tmp_path / "ev"), "-q"]
    for option, value in modifiers:
        args += [option, value]
    result = invoke(*args)
    assert_exit(result, 0)
    doc: dict[str, Any] = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    return doc.get("whatif", doc)["evaluation"]


def slider(page: Any, metric: str, field: str = "weight-slider") -> Any:
    return page.locator(f'tr[data-metric="{metric}"] [data-field="{field}"]')


# ------------------------------------------------------------------------------ tests

def test_a_wrong_token_is_refused(studio: Studio, page: Any) -> None:
    response = page.goto(studio.url.replace(studio.token, "not-the-token"))
    assert response.status == 403
    assert "needs the token" in page.content()
    response = page.goto(f"{studio.base}/api/case")
    assert response.status == 403


def test_a_slider_moves_the_figures_as_evaluate_set(studio: Studio, page: Any,
                                                    tmp_path: Path) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(studio.base) or
            r.url.startswith("data:") else problems.append(f"request to {r.url}"))
    page.goto(studio.page_url("plan=current"))
    settled(page, "plan=current")
    before = figure(page, "expected_cost")
    slider(page, "enterprise_bookings").fill("0.6")
    settled(page, "plan=current&set=weight.enterprise_bookings=0.6")
    assert "set=weight.enterprise_bookings=0.6" in page.url
    cli = cli_evaluate(tmp_path, ("--set", "weight.enterprise_bookings=0.6"))
    for key in ("expected_cost", "total_p90", "cvar", "alignment", "bottom_tail_mean",
                "share_reps_at_or_above_target"):
        assert figure(page, key) == pytest.approx(cli[key], rel=1e-12), key
    for check in cli["guardrails"]:
        row = page.locator(f'tr[data-figure="{check["setting"]}"]')
        assert float(row.get_attribute("data-value")) == pytest.approx(check["value"], rel=1e-12)
        assert row.get_attribute("data-ok") == str(check["ok"]).lower()
        assert row.locator("td").last.inner_text() == ("met" if check["ok"] else "broken")
    # Back undoes the move.
    page.go_back()
    settled(page, "plan=current")
    assert figure(page, "expected_cost") == before
    assert problems == []  # no script error, no policy violation, nothing from elsewhere


def test_bad_field_input_is_shown_next_to_the_field(studio: Studio, page: Any) -> None:
    page.goto(studio.page_url("plan=current"))
    settled(page, "plan=current")
    weight = slider(page, "smb_bookings", "weight")
    for typed, message in (("abc", "'abc' is not a number"), ("-0.3", "must be 0 or more"),
                           ("1.5", "a weight is at most 1")):
        weight.fill(typed)
        weight.press("Enter")
        error = page.locator('tr[data-metric="smb_bookings"] [data-field="weight"] + span.error')
        assert error.inner_text() == message
        assert weight.get_attribute("aria-invalid") == "true"
    # A modifier the server refuses (a fourth metric) is named next to the field too.
    page.locator('tr[data-metric="new_logos"] [data-field="in"]').check()
    error = page.locator('tr[data-metric="new_logos"] td:first-child span.error')
    error.wait_for()
    assert "a plan has at most 3" in error.inner_text()
    page.locator("#modifiers .error").wait_for()
    assert "a plan has at most 3" in page.locator("#modifiers .error").inner_text()
    assert studio.status()["running"] == []  # the server is still serving


def test_weights_that_do_not_sum_to_one_are_named_next_to_the_fields(studio: Studio,
                                                                      page: Any) -> None:
    # Enterprise takes everything (the others leave the plan), then gives back a fifth:
    # a plan of one metric whose weight is 0.8.
    state = ("plan=current&set=weight.enterprise_bookings=1"
             "&set=weight.enterprise_bookings=0.8")
    page.goto(studio.page_url(state))
    settled(page, state)
    error = page.locator('tr[data-metric="enterprise_bookings"] td:nth-child(2) span.error')
    assert error.inner_text() == ("weights sum to 0.8, not 1; weight of enterprise_bookings is "
                                  "0.8, above the maximum 0.6 ([design] max_weight)")
    state = "plan=current&set=weight.activity_calls=0.3"
    page.goto(studio.page_url(state))
    settled(page, state)
    error = page.locator('tr[data-metric="activity_calls"] td:nth-child(2) span.error')
    assert error.inner_text() == ("weight of activity_calls is 0.3, above the maximum 0.2 "
                                  "([metrics.activity_calls] max_weight)")


def test_optimise_gives_compplan_optimise(studio: Studio, page: Any, tmp_path: Path) -> None:
    page.goto(studio.page_url("plan=current"))
    settled(page, "plan=current")
    page.locator("#optimise").click()
    settled(page, "plan=optimised")
    result = invoke("optimise", CASE, "--out", str(tmp_path / "p"), "-q")
    assert_exit(result, 0)
    plan = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert figure(page, "alignment") == pytest.approx(plan["evaluation"]["alignment"], rel=1e-12)
    assert figure(page, "expected_cost") == pytest.approx(plan["evaluation"]["expected_cost"],
                                                          rel=1e-12)
    for m in plan["metrics"]:
        assert figure(page, f"weight.{m['id']}") == pytest.approx(m["weight"], rel=1e-12)
    assert figure(page, "of_best") == pytest.approx(1.0)  # the best plan is itself


def test_a_saved_plan_is_byte_for_byte_write_plan(studio: Studio, page: Any, workdir: Path,
                                                  tmp_path: Path) -> None:
    page.goto(studio.page_url("plan=current"))
    settled(page, "plan=current")
    slider(page, "enterprise_bookings").fill("0.55")
    settled(page, "plan=current&set=weight.enterprise_bookings=0.55")
    page.locator("#save-path").fill("saved/studio_plan.toml")
    page.locator("#save").click()
    page.locator("#files-out[data-written]").wait_for()
    theirs = tmp_path / "cli.toml"
    result = invoke("evaluate", CASE, "current", "--set", "weight.enterprise_bookings=0.55",
                    "--out", str(tmp_path / "ev"), "--write-plan", str(theirs), "-q")
    assert_exit(result, 0)
    assert (workdir / "saved" / "studio_plan.toml").read_bytes() == theirs.read_bytes()


def test_two_tabs_keep_their_own_state(studio: Studio, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context()
    one, two = context.new_page(), context.new_page()
    for tab in (one, two):
        tab.goto(studio.page_url("plan=current"))
        settled(tab, "plan=current")
    # Both move at once, each its own slider.
    slider(one, "enterprise_bookings").fill("0.7")
    slider(two, "smb_bookings", "accelerator-slider").fill("2")
    settled(one, "plan=current&set=weight.enterprise_bookings=0.7")
    settled(two, "plan=current&set=accelerator.smb_bookings=2")
    first = cli_evaluate(tmp_path / "a", ("--set", "weight.enterprise_bookings=0.7"))
    second = cli_evaluate(tmp_path / "b", ("--set", "accelerator.smb_bookings=2"))
    assert figure(one, "expected_cost") == pytest.approx(first["expected_cost"], rel=1e-12)
    assert figure(two, "expected_cost") == pytest.approx(second["expected_cost"], rel=1e-12)
    assert "accelerator" not in one.url and "weight.enterprise" not in two.url
    context.close()


def test_a_closed_tab_leaves_no_running_solve(browser: Any, tmp_path: Path) -> None:
    # A generated case of 2,000 reps whose floor of 99 % of target for the bottom fifth
    # makes the solver (and its diagnosis) work for a minute and more.
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_case.py"), "--reps", "2000",
                    "--out", str(tmp_path / "big"), "--quiet"], check=True)
    slow = Studio(str(tmp_path / "big"), tmp_path)
    try:
        deadline = time.monotonic() + 60
        while slow.status()["solved"] < 1 or slow.status()["running"]:  # the startup solve
            assert time.monotonic() < deadline
            time.sleep(0.2)
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(slow.page_url("plan=optimised&limit=fairness.bottom_floor=0.99"))
        pids: list[int] = []
        while not pids:
            assert time.monotonic() < deadline
            pids = slow.status()["running"]
            time.sleep(0.05)
        context.close()  # the tab goes while the solve runs
        while slow.status()["running"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert slow.status()["solved"] == 1  # stopped, not finished
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        code, output = slow.stop()
    assert code == 0, output


def test_the_year_so_far_follows_the_plan_on_screen(browser: Any, tmp_path: Path) -> None:
    actuals = str(ROOT / "cases" / "enterprise_first" / "actuals.csv")
    running = Studio(CASE, tmp_path, "--actuals", actuals)
    try:
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(running.page_url("plan=current"))
        settled(tab, "plan=current")
        before = figure(tab, "pulse.paid_to_date")
        slider(tab, "enterprise_bookings").fill("0.6")
        settled(tab, "plan=current&set=weight.enterprise_bookings=0.6")
        after = figure(tab, "pulse.paid_to_date")
        result = invoke("pulse", CASE, "current", "--actuals", actuals, "--out",
                        str(tmp_path / "pulse"), "-q")
        assert result.exit_code in (0, 3), result.output
        theirs = json.loads((tmp_path / "pulse" / "pulse.json").read_text())
        assert before == pytest.approx(theirs["paid_to_date"], rel=1e-12)
        assert after != pytest.approx(before)  # the what-if pays differently to date
        assert tab.locator("#pulse").is_visible()
        context.close()
    finally:
        code, output = running.stop()
    assert code == 0, output


def test_an_organisation_has_a_tab_per_role_and_the_total(browser: Any, tmp_path: Path) -> None:
    running = Studio(str(ROOT / "cases" / "gtm_org"), tmp_path)
    try:
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(running.url + "&role=sdr")
        tab.locator('body[data-busy="0"][data-role="sdr"]').wait_for(timeout=30_000)
        tab.locator('button[data-role="ae"]').click()
        tab.locator('body[data-busy="0"][data-role="ae"]').wait_for(timeout=30_000)
        slider(tab, "bookings").fill("0.3")
        tab.locator('body[data-busy="0"][data-state="ae.set=weight.bookings=0.3"]').wait_for(
            timeout=30_000)
        assert "role=ae&ae.set=weight.bookings=0.3" in tab.url
        roles = [float(tab.locator(f'tr[data-figure="roles.{r}"]').get_attribute("data-value"))
                 for r in ("sdr", "ae", "csm")]
        # By hand: the organisation's expected payout is the sum of the roles'.
        assert figure(tab, "objective.expected_cost") == pytest.approx(sum(roles), rel=1e-12)
        assert figure(tab, "weight.pipeline_accepted") == pytest.approx(0.7)
        tab.go_back()
        tab.locator('body[data-busy="0"][data-state=""]').wait_for(timeout=30_000)
        context.close()
    finally:
        code, output = running.stop()
    assert code == 0, output
