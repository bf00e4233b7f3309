"""``compplan report``: one self-contained HTML page, every chart, every text escaped.

The case is the hostile case of test_safe.py (the tiny case of test_evaluate.py with
script tags and formulas in its names). tests/test_report_browser.py opens such pages
in a real browser.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_safe import CASE_NAME, LABEL_A, assert_exit, hostile_case, invoke
from test_workbook import write_batch

from compplan.models.case import load_case
from compplan.models.plan import load_plan
from compplan.optimizer.coefficients import compute_coefficients
from compplan.render.report import (
    ReportInput,
    compact_money,
    outcome,
    read_batch,
    render_report,
)

OTHER = '[[metrics]]\nid = "a"\nweight = 1.0\naccelerator_rate = 2.0\n'
#: Charts of the hostile case: a payout curve per metric and the total, then the rest.
CHARTS = ["chart-curve-1", "chart-curve-2", "chart-curve-total", "chart-total-payout",
          "chart-rep-earnings", "chart-segments", "chart-alignment"]
FRONTIER = ["chart-frontier", "chart-frontier-cvar"]


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    return hostile_case(tmp_path / "case")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report of today's plan of the hostile case (made once: drawing takes a second)."""
    folder = tmp_path_factory.mktemp("page")
    return report(hostile_case(folder / "case"), folder / "report.html")


def report(case_dir: Path, out: Path, *extra: str, plan: str = "current") -> str:
    result = invoke("report", str(case_dir), plan, "--out", str(out), *extra)
    assert_exit(result, 0)
    assert result.stdout.endswith(f"wrote {out}\n")
    return out.read_text(encoding="utf-8")


def chart_ids(html: str) -> list[str]:
    return re.findall(r'<svg id="(chart-[^"]+)"', html)


def test_every_chart_is_an_inline_svg(page: str) -> None:
    html = page
    assert chart_ids(html) == CHARTS
    assert html.count("<svg") == len(CHARTS)
    # matplotlib's own ids are made unique to each chart, so several can share the page.
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    # And every reference (anchors, tick marks, markers, clip paths) finds its target.
    references = set(re.findall(r'href="#([^"]+)"|url\(#([^)]+)\)', html))
    assert {a or b for a, b in references} <= set(ids)
    assert 'xlink:href="#chart-curve-1-' in html
    assert 'id="chart-total-payout-figure_1"' in html


def test_self_contained_no_script_nothing_to_fetch(page: str) -> None:
    html = page
    assert html.startswith("<!DOCTYPE html>")
    assert ("Content-Security-Policy\" content=\"default-src 'none'; style-src "
            "'unsafe-inline'") in html
    assert "<script" not in html.lower() and "<link" not in html and "<img" not in html
    assert "@import" not in html and "<?xml" not in html and "<!DOCTYPE svg" not in html
    # The only references are within the page: anchors and the charts' clip paths.
    assert set(re.findall(r'(?:src|href)="([^"#][^"]*)"', html)) == set()
    assert set(re.findall(r"url\(([^#)][^)]*)\)", html)) == set()


def test_case_text_is_escaped_everywhere(page: str) -> None:
    html = page
    for raw in ("<script>alert(", "<b>R3</b>", "<i>South</i>"):
        assert raw not in html
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in html  # page text
    assert "&lt;script&gt;alert(&#39;a&#39;)&lt;/script&gt; &amp; $x$" in html
    # In the charts (matplotlib's escaping; math text off, so $x$ is as written).
    assert "&lt;script&gt;alert('a')&lt;/script&gt; &amp; $x$</text>" in html
    assert "&lt;i&gt;South&lt;/i&gt;</text>" in html
    assert CASE_NAME.replace("<", "&lt;") not in html  # quotes are escaped too


def test_the_page_shows_the_plan_at_a_glance(page: str) -> None:
    html = page
    assert '<div class="value">0.4400</div>' in html  # expected alignment
    assert '<div class="value">4,900 USD</div>' in html  # expected total payout
    assert '<div class="value">50%</div>' in html  # reps at or above target
    assert "1 of 1 met" in html and "limit \u00b150.0 pp: met" in html
    assert "<td>60.0%</td><td>50%</td><td>200%</td><td>1.200</td><td>1.200</td>" in html


def test_the_plan_document_of_explain_is_included(page: str) -> None:
    html = page
    document = html[html.index('<section id="plan-document"'):]
    assert "<h3>Your incentive plan: =cmd|&#39; /C calc&#39;!A0 &lt;script&gt;" in document
    assert "<h4>What you are paid for</h4>" in document and html.count("<h1>") == 1
    assert "<body>" not in document and html.count("</body>") == 1


def test_compare_overlays_and_lists_each_plan(case_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text(OTHER)
    html = report(case_dir, tmp_path / "report.html", "--compare", str(other))
    assert chart_ids(html) == CHARTS
    assert "<th>current</th><th>other</th>" in html
    assert "Plan current, compared with other." in html
    assert "<td>4,900</td><td>5,500</td>" in html  # expected total payout of both


def test_today_is_drawn_over_the_curves_without_compare(case_dir: Path,
                                                        tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text(OTHER)
    html = report(case_dir, tmp_path / "report.html", plan=str(other))
    # other has metric a only; today's plan brings =b's curve and a column of figures.
    assert chart_ids(html) == CHARTS
    assert "today's plan (current) is drawn over the payout curves" in html
    assert "<th>other</th><th>current</th>" in html
    assert "stroke-dasharray" in html[html.index('id="chart-curve-2"'):
                                      html.index('id="chart-curve-total"')]


def test_a_batch_adds_the_frontier(case_dir: Path, tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "batch")
    html = report(case_dir, tmp_path / "report.html", "--batch", str(batch))
    assert chart_ids(html) == CHARTS + FRONTIER
    section = html[html.index('<section id="frontier"'):]
    assert "3 candidates of the batch" in section and "2 with figures, 2 on the frontier" in section
    assert ("<td>c0002</td><td>0.4400</td><td>4,900</td><td>5,800</td>"
            "<td class=\"text\">budget 5000</td>") in section
    assert section.index("c0002") < section.index("c0001")  # cheapest first
    assert "c0003" not in section


def test_a_case_without_groups_or_current_plan(case_dir: Path, tmp_path: Path) -> None:
    reps = (case_dir / "reps.csv").read_text().splitlines()
    (case_dir / "reps.csv").write_text("\n".join(",".join(line.split(",")[:-1])
                                                 if not line.startswith('"=HYPER') else
                                                 line.rsplit(",", 1)[0] for line in reps) + "\n")
    toml = (case_dir / "case.toml").read_text()
    (case_dir / "case.toml").write_text(toml[:toml.index("[fairness]")])
    (case_dir / "current_plan.toml").rename(tmp_path / "today.toml")
    html = report(case_dir, tmp_path / "report.html", plan=str(tmp_path / "today.toml"))
    assert chart_ids(html) == [c for c in CHARTS if c != "chart-segments"]
    assert "reps.csv has no grouping column" in html
    assert "drawn over the payout curves" not in html


def test_rendering_is_deterministic(case_dir: Path) -> None:
    case = load_case(case_dir)
    result = outcome(case, compute_coefficients(case), load_plan(case, "current"), "current")
    first = render_report(ReportInput(case, [result], "current"))
    assert render_report(ReportInput(case, [result], "current")) == first
    assert "plan-document" not in first  # no explain context given: no document


def test_read_batch_types_the_columns(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "batch")
    (folder / "results.csv").write_text(
        (folder / "results.csv").read_text().replace("True", "true").replace("False", "0"))
    frame = read_batch(folder)
    assert list(frame["frontier_cost"]) == [True, True, False]
    assert frame["alignment"].dtype == float and frame["id"].tolist() == [
        "c0001", "c0002", "c0003"]


@pytest.mark.parametrize(("value", "text"), [(19_614_072.0, "19.6 M"), (950.0, "950"),
                                             (24_280.0, "24.3 k"), (2.5e9, "2.50 B"),
                                             (123_400_000.0, "123 M"),
                                             (1_950_000.0, "1.95 M")])
def test_compact_money(value: float, text: str) -> None:
    assert compact_money(value) == text


def test_errors_are_input_errors(case_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("report", str(case_dir), "current", "--batch", str(empty), "--out",
                    str(tmp_path / "r.html"))
    assert_exit(result, 2)
    assert "holds no results.parquet or results.csv" in result.output
    result = invoke("report", str(case_dir), "current", "--compare", str(tmp_path / "no.toml"))
    assert_exit(result, 2)
    assert "no.toml: is not a file" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke("report", str(case_dir), "current", "--out", str(blocker / "r.html"))
    assert_exit(result, 2)
    assert f"cannot write to {blocker / 'r.html'}" in result.output
    assert not (tmp_path / "r.html").exists()


def test_help_has_an_example() -> None:
    result = invoke("report", "--help")
    assert_exit(result, 0)
    assert "compplan report cases/enterprise_first plans/fy27/plan.json --out report.html" in \
        result.output
    assert LABEL_A not in result.output
