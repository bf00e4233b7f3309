"""The studio's slider-to-figures latency, measured in the browser (Chromium, Playwright).

    .venv/bin/python bench/studio.py                       # cases/enterprise_first
    .venv/bin/python bench/studio.py --case DIR --moves 40
    .venv/bin/python bench/studio.py --screenshots docs/img  # also the docs' pictures

Starts ``compplan studio CASE --no-browser`` as a user would, opens the page in
headless Chromium and moves a weight slider ``--moves`` times. For each move it
reads the page's own measure (``body[data-latency]``: from the slider's input event
to the figures and charts redrawn, ``performance.now()``) and the wall time seen
from Python (the move to the page showing that state, Playwright's round trips
included). Prints the median and the 90th percentile of both, the studio's
start-up (process start to the URL printed) and an Optimise press (click to the
optimised plan's figures).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def start(case: str) -> tuple[subprocess.Popen[str], str, float]:
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "compplan", "studio", case, "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
        if found:
            return process, found.group(0), time.perf_counter() - began
    raise SystemExit("the studio printed no URL")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default=str(ROOT / "cases" / "enterprise_first"))
    parser.add_argument("--metric", help="the metric whose weight slider moves (default: the "
                                         "first of the starting plan)")
    parser.add_argument("--moves", type=int, default=30)
    parser.add_argument("--screenshots", type=Path, help="write the docs' screenshots here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    process, url, startup = start(args.case)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(url)
            page.locator('body[data-busy="0"][data-state]').wait_for(timeout=600_000)
            first = page.locator('tr[data-metric] [data-field="in"]:checked').first
            metric = args.metric or first.locator("xpath=ancestor::tr").get_attribute(
                "data-metric")
            slider = page.locator(f'tr[data-metric="{metric}"] [data-field="weight-slider"]')
            inside, outside = [], []
            for i in range(args.moves):
                value = repr(round(0.30 + 0.01 * (i % 40), 2))
                began = time.perf_counter()
                slider.fill(value)
                page.locator(f'body[data-busy="0"][data-state$="set=weight.{metric}={value}"]'
                             ).wait_for(timeout=60_000)
                outside.append((time.perf_counter() - began) * 1000)
                inside.append(float(page.locator("body").get_attribute("data-latency") or "nan"))
            began = time.perf_counter()
            page.locator("#optimise").click()
            page.locator('body[data-busy="0"][data-plan="optimised"]').wait_for(timeout=600_000)
            optimise = time.perf_counter() - began
            cap = page.locator('[data-limit="budget.expected_cap"]')
            moved = str(int(float(cap.get_attribute("data-value") or "0") * 0.97))
            cap.fill(moved)
            cap.press("Enter")
            page.locator(f'body[data-busy="0"][data-state$="limit=budget.expected_cap={moved}"]'
                         ).wait_for(timeout=600_000)
            began = time.perf_counter()
            page.locator("#optimise").click()
            page.locator('body[data-busy="0"][data-plan="optimised"]'
                         f'[data-state="plan=optimised&limit=budget.expected_cap={moved}"]'
                         ).wait_for(timeout=600_000)
            fresh = time.perf_counter() - began
            if args.screenshots is not None:
                shots(page, args.screenshots, metric)
            browser.close()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    print(f"case: {args.case}")
    print(f"start-up (process to URL printed): {startup:.2f} s")
    print(f"slider to figures, in the page ({args.moves} moves of {metric}): median "
          f"{statistics.median(inside):.1f} ms, p90 {pct(inside, 0.9):.1f} ms")
    print(f"slider to figures, seen from Playwright: median {statistics.median(outside):.1f} "
          f"ms, p90 {pct(outside, 0.9):.1f} ms")
    print(f"Optimise (click to the optimised plan's figures, solved at start-up): "
          f"{optimise:.2f} s")
    print(f"Optimise under a cap moved 3 % down (a fresh solve in a child process): "
          f"{fresh:.2f} s")


def shots(page: object, folder: Path, metric: str) -> None:
    """The docs' screenshots: a what-if, Optimise beside today's plan, an infeasible limit."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    folder.mkdir(parents=True, exist_ok=True)
    page.locator("#keep").click()
    page.locator(".layout").screenshot(path=str(folder / "studio-optimised.png"))
    page.locator('#candidate-list input[name="cand-b"]').last.check()
    page.locator("#compare").click()
    page.locator("#comparison[data-compared]").wait_for()
    page.locator("#candidates").screenshot(path=str(folder / "studio-compare.png"))
    page.goto(page.url.split("&", 1)[0] + "&plan=current&set=weight.enterprise_bookings=0.6"
              "&shift=0.1:smb_bookings->activity_calls&limit=budget.expected_cap=21000000")
    page.locator('body[data-busy="0"][data-state]').wait_for()
    page.locator(".layout").screenshot(path=str(folder / "studio-whatif.png"))
    page.locator('[data-limit="budget.expected_cap"]').fill("15000000")
    page.locator('[data-limit="budget.expected_cap"]').press("Enter")
    page.locator('body[data-busy="0"][data-state$="limit=budget.expected_cap=15000000"]').wait_for()
    page.locator("#optimise").click()
    page.locator('body[data-busy="0"][data-solve]').wait_for(timeout=600_000)
    page.locator("#design").screenshot(path=str(folder / "studio-infeasible.png"))


if __name__ == "__main__":
    main()
