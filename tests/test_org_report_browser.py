"""The organisation page in headless Chromium, at laptop and phone width (as the plan report)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from test_report_browser import LAPTOP, PHONE, REPO, Browser, Page, browser, check_page
from test_report_browser import pytestmark as pytestmark  # skipped without Chromium

from compplan.cli.main import main

__all__ = ["browser"]  # the fixture, shared
CHARTS = ["chart-org-budget", "chart-org-total"]


def test_the_bundled_org_page_renders_on_laptop_and_phone(browser: Browser,
                                                          tmp_path: Path) -> None:
    org = str(REPO / "cases" / "gtm_org")
    plans = tmp_path / "plans"
    assert CliRunner().invoke(main, ["optimise", org, "--out", str(plans), "-q"]).exit_code == 0
    out = tmp_path / "org_report.html"
    result = CliRunner().invoke(main, ["report", org, str(plans / "org_plan.json"), "--out",
                                       str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert re.findall(r'<svg id="(chart-[^"]+)"', out.read_text()) == CHARTS
    for size, name in ((LAPTOP, "org-report-laptop.png"), (PHONE, "org-report-phone.png")):
        page = Page(browser, out, size)
        check_page(page, CHARTS)
        assert page.evaluate("document.title") == "FY27 go-to-market: organisation report"
        # The designed plans' map and today's: a row per goal, a column per role.
        shape = json.loads(page.evaluate(
            "JSON.stringify(Array.from(document.querySelectorAll('table.conflict-map')).map("
            "t => [t.tBodies[0].rows.length, t.tHead.rows[0].cells.length]))"))
        assert shape == [[3, 6], [3, 6]]
        against = page.evaluate("document.querySelectorAll('td.cell.against').length")
        assert against >= 1  # today's plans pay csm.renewal_count against growth
        page.screenshot(tmp_path / name)
