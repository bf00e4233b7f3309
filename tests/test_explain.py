"""The plan document for reps (render/explain.py, ``compplan explain``), figures by hand.

The plan explained, unless a test says otherwise:

    a "Bookings": threshold 0.5, cap 2.0, w 0.6, u 1.5: base rate 0.6 / 0.5 = 1.2,
                  accelerator multiple 1.5 * 0.5 / 0.6 = 1.25
    b "Renewals": threshold 0.4, cap 1.5, w 0.4, u 0.8: base rate 0.4 / 0.6 = 0.6667,
                  accelerator multiple 0.8 * 0.6 / 0.4 = 1.2

so a pays 1.2 (x - 0.5) up to 0.6 at target, then 0.6 + 1.5 (x - 1) up to 2.1 at 2.0;
b pays 0.6667 (x - 0.4) up to 0.4, then 0.4 + 0.8 (x - 1) up to 0.8 at 1.5. The most
a rep can earn is 2.1 + 0.8 = 2.9 times target.

The case: goals growth 3, retention 1 (priorities 0.75, 0.25); every metric has step
0.2; reps with target incentive 1000, 2000 and 4000 (median 2000), all at the same
attainment, one period:

    a Bookings     A {growth 1}                   a = 0.75          x 1.2
    b Renewals     A {retention 1, growth 0.2}    a = 0.25 + 0.15 = 0.4   x 0.8
    c Small deals  A {growth -0.4, retention 0.4} a = -0.3 + 0.1 = -0.2  x 0.8
    d Calls        A {growth 0.08}                a = 0.06          x 1.0

The current plan: a (w 0.5, u 1.0: multiple 1.0), c (w 0.3, u 0.6), d (w 0.2, u 0.4).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import assert_exit

from compplan.cli.main import main
from compplan.models.plan import Plan, PlanMetric
from compplan.render.explain import (
    curve_table,
    earnings_table,
    md_escape,
    read_plan_file,
    render_html,
    render_markdown,
)

MakeCase = Callable[..., Path]
PLAN = [("a", 0.6, 1.5), ("b", 0.4, 0.8)]
CURRENT = [("a", 0.5, 1.0), ("c", 0.3, 0.6), ("d", 0.2, 0.4)]
METRICS: dict[str, dict[str, Any]] = {
    "a": {"label": "Bookings", "threshold": 0.5, "cap": 2.0, "alignment": {"growth": 1.0}},
    "b": {"label": "Renewals", "threshold": 0.4, "cap": 1.5,
          "alignment": {"retention": 1.0, "growth": 0.2}},
    "c": {"label": "Small deals", "threshold": 0.5, "cap": 2.0,
          "alignment": {"growth": -0.4, "retention": 0.4}},
    "d": {"label": "Calls", "threshold": 0.5, "cap": 2.0, "alignment": {"growth": 0.08}},
}
X = {"a": 1.2, "b": 0.8, "c": 0.8, "d": 1.0}

CURVE = [
    ("0%", "", ["0.0%", "0.0%"], "0.0%"),
    ("40%", "Renewals starts paying", ["0.0%", "0.0%"], "0.0%"),
    # b: 0.6667 * 0.1 = 0.0667.
    ("50%", "Bookings starts paying", ["0.0%", "6.7%"], "6.7%"),
    # a: 1.2 * 0.3 = 0.36; b: 0.6667 * 0.4 = 0.2667.
    ("80%", "", ["36.0%", "26.7%"], "62.7%"),
    ("100%", "target", ["60.0%", "40.0%"], "100.0%"),
    # a: 0.6 + 1.5 * 0.2 = 0.9; b: 0.4 + 0.8 * 0.2 = 0.56.
    ("120%", "", ["90.0%", "56.0%"], "146.0%"),
    # a: 0.6 + 1.5 * 0.5 = 1.35; b: 0.4 + 0.8 * 0.5 = 0.8 (its cap).
    ("150%", "Renewals stops rising", ["135.0%", "80.0%"], "215.0%"),
    ("200%", "Bookings stops rising", ["210.0%", "80.0%"], "290.0%"),
]
# Median target 2000: the shares of the curve times 2000, whole currency units.
EARNINGS_MEDIAN = [("50%", ["0", "133"], "133"), ("80%", ["720", "533"], "1,253"),
                   ("100%", ["1,200", "800"], "2,000"), ("120%", ["1,800", "1,120"], "2,920"),
                   ("150%", ["2,700", "1,600"], "4,300")]
EARNINGS_PER_100 = [("50%", ["0.00", "6.67"], "6.67"), ("80%", ["36.00", "26.67"], "62.67"),
                    ("100%", ["60.00", "40.00"], "100.00"),
                    ("120%", ["90.00", "56.00"], "146.00"),
                    ("150%", ["135.00", "80.00"], "215.00")]


def plan_metric(metric_id: str, w: float, u: float, label: str | None = None) -> PlanMetric:
    spec = METRICS[metric_id]
    slope = 1.0 / (1.0 - spec["threshold"])
    return PlanMetric(metric_id, label or spec["label"], w, spec["threshold"], spec["cap"],
                      w * slope, u, u / (w * slope))


def the_plan() -> Plan:
    return Plan(tuple(plan_metric(*m) for m in PLAN))


def plan_toml(metrics: list[tuple[str, float, float]]) -> str:
    return "".join(f'[[metrics]]\nid = "{m}"\nweight = {w}\naccelerator_rate = {u}\n\n'
                   for m, w, u in metrics)


def plan_json(path: Path, plan: Plan, **extra: Any) -> Path:
    path.write_text(json.dumps({"schema": "compplan.plan/1", **extra,
                                "metrics": plan.to_records()}))
    return path


@pytest.fixture
def case_dir(make_case: MakeCase) -> Path:
    tables: dict[str, dict[str, Any]] = {"case": {"name": "Tiny FY27", "currency": "EUR"},
                                         "goals": {"growth": 3.0, "retention": 1.0}}
    for m, spec in METRICS.items():
        tables[f"metrics.{m}"] = {**spec, "step": 0.2}
    reps = [{"rep_id": f"R{i}", "target_incentive": ti}
            for i, ti in enumerate((1000.0, 2000.0, 4000.0))]
    folder = make_case(tables, reps, {m: [[x]] * 3 for m, x in X.items()})
    (folder / "current_plan.toml").write_text(plan_toml(CURRENT))
    (folder / "new_plan.toml").write_text(plan_toml(PLAN))
    return folder


def rows(table: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(row[k] for k in keys) for row in table]


# ------------------------------------------------------------------------ figures

def test_curve_table() -> None:
    assert rows(curve_table(the_plan()), "attainment", "note", "values", "total") == CURVE


def test_curve_table_merges_points_that_coincide() -> None:
    # Threshold 0.8 is also the 80 % row; cap 1.2 the 120 % row; threshold 0 the 0 % row.
    plan = Plan((PlanMetric("m", "M", 1.0, 0.8, 1.2, 5.0, 5.0, 1.0),))
    assert rows(curve_table(plan), "attainment", "note") == [
        ("0%", ""), ("80%", "M starts paying"), ("100%", "target"), ("120%", "M stops rising"),
        ("150%", "")]
    plan = Plan((PlanMetric("m", "M", 1.0, 0.0, 1.25, 1.0, 1.0, 1.0),))
    assert rows(curve_table(plan), "attainment", "note", "total") == [
        ("0%", "M starts paying", "0.0%"), ("80%", "", "80.0%"), ("100%", "target", "100.0%"),
        ("120%", "", "120.0%"), ("125%", "M stops rising", "125.0%"), ("150%", "", "125.0%")]


def test_earnings_tables() -> None:
    assert rows(earnings_table(the_plan(), 2000.0, 0), "attainment", "values",
                "total") == EARNINGS_MEDIAN
    assert rows(earnings_table(the_plan(), 100.0, 2), "attainment", "values",
                "total") == EARNINGS_PER_100


@pytest.mark.parametrize(("text", "escaped"), [
    ("Enterprise bookings", "Enterprise bookings"),
    ("smb_bookings", "smb_bookings"),
    ("_x_ and *y*", "\\_x\\_ and \\*y\\*"),
    ("a|b", "a\\|b"),
    ("<script>alert(1)</script>", "\\<script\\>alert(1)\\</script\\>"),
    ("[link](http://x)", "\\[link\\](http://x)"),
    ("R&D", "R&D"),
    ("&lt;", "\\&lt;"),
    ("- item", "\\- item"),
    ("# title", "\\# title"),
    ("two\nlines", "two lines"),
])
def test_md_escape(text: str, escaped: str) -> None:
    assert md_escape(text) == escaped


# ------------------------------------------------------------------------ documents

def explain(*args: str) -> Result:
    return CliRunner().invoke(main, ["explain", *args])


def section(text: str, title: str) -> str:
    """One ``## title`` section of the Markdown, without its heading."""
    start = text.index(f"\n## {title}\n") + len(title) + 5
    end = text.find("\n## ", start)
    return text[start:end if end >= 0 else len(text)].strip("\n")


def test_with_case_what_changed_and_why(case_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "explain"
    result = explain(str(case_dir / "new_plan.toml"), "--case", str(case_dir), "--out", str(out))
    assert_exit(result, 0)
    assert result.stdout == f"wrote {out / 'plan_explained.md'}, {out / 'plan_explained.html'}\n"
    text = (out / "plan_explained.md").read_text()
    assert text.startswith("# Your incentive plan: Tiny FY27\n")
    # One step of 0.2 pays: today a 0.2 * 1.0 = 0.2 (psi from 1.2), c 0.4 * 0.3 = 0.12
    # (phi from 0.8), d 0.2 * 0.4 = 0.08 (psi from 1.0): total 0.4, a's share 50 %, and
    # c (a < 0) takes 30 %. In the plan a 0.2 * 1.5 = 0.3 and b (phi 0.6667 -> 1 from 0.8)
    # 0.4 / 3 = 0.1333: a's share 0.3 / 0.4333 = 69.2 %, nothing against the strategy.
    assert section(text, "What changed from today's plan, and why") == (
        "- Small deals dropped: it works against growth and on balance harms the company's "
        "strategy.\n"
        "- Calls dropped: it does little for the company's goals.\n"
        "- Renewals added: it serves retention and growth.\n"
        "- Bookings changed (weight 50.0% to 60.0% of target incentive and above 100% it now "
        "pays 1.25 times as much as below 100%, was the same as below 100%): of what you "
            "earn for doing better, it now pays 69.2% (was 50.0%); it serves growth.\n\n"
            "Of what you earn for doing better, 0.0% comes from results that work against the "
            "company's goals in this plan (30.0% in today's plan).")
    # No internal words: no alignment index, no file, no "accelerator of 1.00x", no "case".
    for word in ("alignment", "new_plan.toml", "accelerator", "case", "median"):
        assert word not in text, word
    # Renewals serves retention (0.25 x 1) before growth (0.75 x 0.2).
    assert section(text, "Why this plan") == (
        "The company's goals, by priority: growth (75%), retention (25%).\n"
        "What each metric of the plan does for them:\n\n"
        "- **Bookings** (60.0% of your target incentive): serves growth.\n"
        "- **Renewals** (40.0% of your target incentive): serves retention and growth.")
    # Worked examples for the median rep (2,000 EUR): a at 120 % pays 0.6 + 1.5 x 0.2 =
    # 0.9, b at 90 % pays 0.6667 x 0.5 = 0.3333: 1.2333 x 2,000 = 2,467.
    assert section(text, "What you would earn") == (
        "- At 100% of quota on every metric you earn 2,000 EUR: your target incentive.\n"
        "- At 120% on Bookings and 90% on Renewals, you earn 2,467 EUR.\n"
        "- At 80% on every metric you earn 1,253 EUR.\n"
        "- The most anyone can earn, at or above every cap, is 5,800 EUR (2.90 times the "
        "target incentive).\n\n"
        "Pay in EUR for a typical rep, whose target incentive is 2,000 EUR (half of the reps "
        "have more, half less), with the same attainment on every metric.\n\n"
        "| attainment | Bookings | Renewals | total |\n|---:|---:|---:|---:|\n"
        + "".join(f"| {x} | {' | '.join(v)} | {t} |\n" for x, v, t in EARNINGS_MEDIAN)).strip()


def test_markdown_sections(case_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "explain"
    assert_exit(explain(str(case_dir / "new_plan.toml"), "--case", str(case_dir), "--out",
                        str(out)), 0)
    text = (out / "plan_explained.md").read_text()
    assert section(text, "In one minute") == (
        "- You are paid on 2 metrics: Bookings (60.0%) and Renewals (40.0%).\n"
        "- At 100% of quota on every metric you earn exactly your target incentive.\n"
        "- Each metric pays nothing below its threshold; above 100% Bookings and Renewals "
        "pay faster than below; pay stops rising at the metric's cap.\n"
        "- The most you can earn is 2.90 times your target incentive.\n"
        "- It rewards results that move the company's goals: growth and retention.")
    assert ("| Bookings | 60.0% | 50% | 200% | 1.2% | 1.5% |\n"
            "| Renewals | 40.0% | 40% | 150% | 0.667% | 0.8% |\n") in text
    assert ("- **Bookings**: Nothing below 50% of quota. From 50% to 100%, each point of "
            "attainment pays 1.20% of your target incentive; above 100%, each point pays 1.50% "
            "(1.25 times as much as below 100%), up to 200%, where pay stops rising.\n") in text
    curve = "".join(f"| {x} | {' | '.join(v)} | {t} | {n} |\n" for x, n, v, t in CURVE)
    assert ("| attainment | Bookings | Renewals | total | note |\n|---:|---:|---:|---:|---|\n"
            + curve) in text


def test_current_plan_explained_has_nothing_changed(case_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "explain"
    assert_exit(explain("current", "--case", str(case_dir), "--out", str(out), "-q"), 0)
    text = (out / "plan_explained.md").read_text()
    assert section(text, "What changed from today's plan, and why") == (
        "This is the plan in force today: nothing changed.")
    assert "- **Small deals** (30.0% of your target incentive): serves retention, works " \
           "against growth and on balance harms the company's strategy.\n" in text
    assert "- **Calls** (20.0% of your target incentive): serves growth and does little for " \
           "the company's goals.\n" in text


def test_case_without_current_plan(case_dir: Path, tmp_path: Path) -> None:
    (case_dir / "current_plan.toml").unlink()
    out = tmp_path / "explain"
    assert_exit(explain(str(case_dir / "new_plan.toml"), "--case", str(case_dir), "--out",
                        str(out), "-q"), 0)
    assert section((out / "plan_explained.md").read_text(),
                   "What changed from today's plan, and why") == (
        "The plan in force today was not given with this one, so no change is listed here.")


def test_plan_json_alone(tmp_path: Path) -> None:
    plan = plan_json(tmp_path / "plan.json", the_plan(), case="Tiny FY27", currency="EUR")
    out = tmp_path / "explain"
    assert_exit(explain(str(plan), "--out", str(out), "-q"), 0)
    text = (out / "plan_explained.md").read_text()
    assert text.startswith("# Your incentive plan: Tiny FY27\n")
    assert section(text, "Why this plan") == (
        "This document was made from the plan alone, so it does not say which company goals "
        "each metric serves.")
    assert section(text, "What changed from today's plan, and why") == (
        "The plan in force today was not given with this one, so no change is listed here.")
    assert "plan.json" not in text and str(tmp_path) not in text
    earnings = "".join(f"| {x} | {' | '.join(v)} | {t} |\n" for x, v, t in EARNINGS_PER_100)
    assert ("Pay per 100 of target incentive, with the same attainment on every metric.\n\n"
            "| attainment | Bookings | Renewals | total |\n|---:|---:|---:|---:|\n"
            + earnings) in text
    html = (out / "plan_explained.html").read_text()
    assert "<td>100%</td><td>60.00</td><td>40.00</td><td>100.00</td>" in html


def test_plan_json_with_multiple_only(tmp_path: Path) -> None:
    # accelerator_multiple alone: u = 1.25 * 0.6 / 0.5 = 1.5, as in the plan above.
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"metrics": [
        {"id": "a", "weight": 0.6, "threshold": 0.5, "cap": 2.0, "accelerator_multiple": 1.25},
        {"id": "b", "weight": 0.4, "threshold": 0.4, "cap": 1.5, "accelerator_rate": 0.8}]}))
    source = read_plan_file(path)
    assert source.case is None
    assert source.plan.metrics[0].accelerator_rate == pytest.approx(1.5, rel=1e-12)
    assert source.plan.metrics[0].label == "a"
    assert rows(curve_table(source.plan), "total") == [(t,) for _, _, _, t in CURVE]


class _Tags(HTMLParser):
    """Open and close tags, to check that the page is well nested."""

    VOID = frozenset({"meta", "br", "img", "link", "hr", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.seen: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack.pop() == tag


def test_html_is_self_contained_and_escapes_case_text(make_case: MakeCase,
                                                     tmp_path: Path) -> None:
    tables: dict[str, dict[str, Any]] = {
        "case": {"name": "Q3 <i>R&D</i>"}, "goals": {"growth": 1.0},
        "metrics.a": {**METRICS["a"], "label": "<script>alert(1)</script>",
                      "alignment": {"growth": 1.0}, "step": 0.2}}
    folder = make_case(tables, [{"rep_id": "R1", "target_incentive": 1000.0}], {"a": [[1.2]]})
    (folder / "plan.toml").write_text(plan_toml([("a", 1.0, 1.0)]))
    out = tmp_path / "explain"
    assert_exit(explain(str(folder / "plan.toml"), "--case", str(folder), "--out", str(out),
                        "-q"), 0)
    html = (out / "plan_explained.html").read_text()
    assert "<title>Your incentive plan: Q3 &lt;i&gt;R&amp;D&lt;/i&gt;</title>" in html
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in html
    assert "<script" not in html and "<i>" not in html
    for external in ("http:", "https:", "src=", "<link", "@import", "url("):
        assert external not in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    tags = _Tags()
    tags.feed(html)
    assert tags.stack == []
    assert "style" in tags.seen and "table" in tags.seen
    text = (out / "plan_explained.md").read_text()
    assert text.startswith("# Your incentive plan: Q3 \\<i\\>R&D\\</i\\>\n")
    assert "| \\<script\\>alert(1)\\</script\\> | 100.0% |" in text


def test_render_functions_agree() -> None:
    from compplan.render.explain import explanation

    context = explanation(the_plan(), source="plan.json", case_name="Tiny")
    html, text = render_html(context), render_markdown(context)
    for attainment, _, values, total in CURVE:
        assert f"| {attainment} | {' | '.join(values)} | {total} |" in text
        assert (f"<td>{attainment}</td>" + "".join(f"<td>{v}</td>" for v in values)
                + f"<td>{total}</td>") in html


# ------------------------------------------------------------------------ command line

def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


CLI_ERRORS = [
    pytest.param(lambda tmp: ["current"],
                 "'current' needs --case (the case folder holding current_plan.toml)",
                 id="current-without-case"),
    pytest.param(lambda tmp: [str(tmp / "nowhere.json")],
                 "{tmp}/nowhere.json: is not a file (give a plan.json written by compplan "
                 "optimise)", id="missing-file"),
    pytest.param(lambda tmp: [_write(tmp / "plan.toml", plan_toml(PLAN))],
                 "plan.toml: is a TOML plan, which has no thresholds or caps: give --case to "
                 "explain it with the case's curves", id="toml-without-case"),
    pytest.param(lambda tmp: [_write(tmp / "plan.json", "not json")],
                 "plan.json: is not a JSON plan: Expecting value: line 1 column 1 (char 0)",
                 id="not-json"),
    pytest.param(lambda tmp: [_write(tmp / "plan.json", '{"case": "x"}')],
                 "plan.json: is not a plan: it has no 'metrics' list (write one with compplan "
                 "optimise)", id="no-metrics"),
    pytest.param(lambda tmp: [_write(tmp / "plan.json", json.dumps({"metrics": [
                     {"id": "a", "weight": 1.0, "cap": 2.0, "accelerator_rate": 1.0}]}))],
                 "plan.json, metrics #1 (a): has no threshold: give --case to explain the plan "
                 "with the case's curves", id="no-threshold"),
    pytest.param(lambda tmp: [_write(tmp / "plan.json", json.dumps({"metrics": [
                     {"id": "a", "weight": 1.0, "threshold": 0.5, "accelerator_rate": 1.0}]}))],
                 "plan.json, metrics #1 (a): has no cap: give --case to explain the plan "
                 "with the case's curves", id="no-cap"),
]


@pytest.mark.parametrize(("args", "message"), CLI_ERRORS)
def test_cli_bad_plan(tmp_path: Path, args: Any, message: str) -> None:
    out = tmp_path / "explain"
    result = explain(*args(tmp_path), "--out", str(out))
    assert_exit(result, 2)
    assert result.stdout == ""
    assert result.stderr == f"Error: {message.format(tmp=tmp_path)}\n"
    assert not out.exists()


@pytest.mark.parametrize(("plan", "message"), [
    pytest.param("plan.json", "plan.json, metrics #2 (b): threshold 0.3 differs from the "
                 "case's 0.4: the plan was made for another case", id="other-case"),
    pytest.param("missing.toml", "{case}/missing.toml: is not a file (give a plan.json, a "
                 "plan TOML file, or 'current')", id="missing"),
])
def test_cli_bad_plan_with_case(case_dir: Path, tmp_path: Path, plan: str, message: str) -> None:
    records = the_plan().to_records()
    records[1]["threshold"] = 0.3
    (case_dir / "plan.json").write_text(json.dumps({"metrics": records}))
    out = tmp_path / "explain"
    result = explain(str(case_dir / plan), "--case", str(case_dir), "--out", str(out))
    assert_exit(result, 2)
    assert result.stderr == f"Error: {message.format(case=case_dir)}\n"
    assert not out.exists()


def test_cli_out_cannot_be_written(tmp_path: Path) -> None:
    plan = plan_json(tmp_path / "plan.json", the_plan())
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "explain"
    result = explain(str(plan), "--out", str(out))
    assert_exit(result, 2)
    assert result.stderr == (f"Error: cannot write to {out}: Not a directory; "
                             "no file was written\n")



# ------------------------------------------------------------------------ the picture, per rep

def test_curve_picture_by_hand() -> None:
    from compplan.render.explain import curve_picture

    picture = curve_picture(the_plan())
    assert [line["label"] for line in picture["lines"]] == ["Bookings", "Renewals", "total"]
    # Attainments 0, 0.4, 0.5, 1, 1.5, 2, 2.25 (the highest cap plus a quarter): the total
    # ends at 2.1 + 0.8 = 2.9 times target, drawn at 1 / 1.08 of the height of 244 units.
    total = [tuple(map(float, p.split(","))) for p in picture["lines"][-1]["points"].split()]
    assert len(total) == 7
    assert total[0] == (52.0, 260.0)
    assert total[-1] == (624.0, round(16 + 244 * (1 - 1 / 1.08), 1))
    assert picture["target"] == {"x": round(52 + 572 / 2.25, 1),
                                 "y": round(16 + 244 * (1 - 1 / (2.9 * 1.08)), 1)}


def test_per_rep_pages(case_dir: Path, tmp_path: Path) -> None:
    reps = case_dir / "reps.csv"
    reps.write_text(reps.read_text().replace("R2,", "../R2<b>,"))
    (case_dir / "attainment.csv").write_text(
        (case_dir / "attainment.csv").read_text().replace("R2,", "../R2<b>,"))
    (case_dir / "quotas.csv").write_text(
        "rep_id,a,b\nR0,290000,10\nR1,200,20\n../R2<b>,500,40\n")
    out = tmp_path / "explain"
    result = explain(str(case_dir / "new_plan.toml"), "--case", str(case_dir), "--out",
                     str(out), "--per-rep")
    assert_exit(result, 0)
    folder = out / "reps"
    assert result.stdout == (f"wrote {out / 'plan_explained.md'}, {out / 'plan_explained.html'}"
                             f", {folder / 'index.html'} and 3 rep pages in {folder}\n")
    assert sorted(p.name for p in folder.iterdir()) == ["R0.html", "R1.html", "R2_b.html",
                                                       "index.html"]
    index = (folder / "index.html").read_text()
    assert '<a href="R2_b.html">../R2&lt;b&gt;</a></td><td class="money">4,000 EUR</td>' in index
    page = (folder / "R2_b.html").read_text()
    assert "<title>Your incentive plan: Tiny FY27: ../R2&lt;b&gt;</title>" in page
    # Money per period (no periods_per_year): the page says so, and the quota's period.
    assert "Your target incentive is <strong>4,000 EUR per period</strong>" in page
    assert ("Pay is worked out each period, on that period&#39;s results against that "
            "period&#39;s quota: a period at 100% of quota on every metric pays 4,000 EUR.") in page
    assert "<th>your quota per period</th><th>pays per period at 100%</th>" in page
    # Bookings: quota 500; 0.6 x 4,000 = 2,400 at 100 %; 4,000 x 1.2 / 500 = 9.6 per unit
    # below, 4,000 x 1.5 / 500 = 12 above. Renewals: 4,000 x 0.6667 / 40 = 66.67 (66.7
    # at three significant digits), 4,000 x 0.8 / 40 = 80.
    assert ("<tr><td>Bookings</td><td>500</td><td>2,400 EUR</td><td>9.6 EUR</td>"
            "<td>12 EUR</td></tr>") in page
    assert ("<tr><td>Renewals</td><td>40</td><td>1,600 EUR</td><td>66.7 EUR</td>"
            "<td>80 EUR</td></tr>") in page
    # R0 (1,000 EUR): quota 290,000, rates 1,000 x 1.2 / 290,000 = 0.0041379 and
    # 1,000 x 1.5 / 290,000 = 0.0051724: to cents both would read 0.00 (issue 19, item 1).
    first = (folder / "R0.html").read_text()
    assert ("<tr><td>Bookings</td><td>290,000</td><td>600 EUR</td><td>0.00414 EUR</td>"
            "<td>0.00517 EUR</td></tr>") in first
    # Her worked examples: 1.2333 x 4,000 = 4,933.
    assert "At 120% on Bookings and 90% on Renewals, you earn 4,933 EUR." in page
    assert 'class="curve"' in page and "<polyline" in page


def test_per_rep_needs_a_case(tmp_path: Path) -> None:
    plan = plan_json(tmp_path / "plan.json", the_plan())
    result = explain(str(plan), "--per-rep", "--out", str(tmp_path / "explain"))
    assert_exit(result, 2)
    assert result.stderr == ("Error: --per-rep needs --case (the reps, their target incentives "
                             "and quotas come from the case)\n")
