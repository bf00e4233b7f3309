"""The response in the documents: report, export and audit of a case with [response].

MODEL.md section 10: every payout figure static and under response side by side. The
figures are docs/response.md's worked example, computed by hand: rates 4 % -> 6 % (a)
and 4 % -> 2 % (b) on 600 and 400 units; elasticity 0.3 moves them by +15 % and -15 %.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest
from conftest import assert_exit, invoke
from test_response import brute_case, brute_force, worked_case
from test_workbook_live import SOFFICE, recalculate

import compplan
from compplan.errors import InfeasibleError
from compplan.models.case import load_case
from compplan.models.plan import Plan
from compplan.optimizer.coefficients import compute_coefficients
from compplan.optimizer.model import Rounding
from compplan.optimizer.response import ResponseContext, evaluate_response
from compplan.optimizer.response_model import grid_options


def rows_of(html: str, table_id: str) -> dict[str, list[str]]:
    """A table of the page: its first cell to the others."""
    start = html.index(f'<table id="{table_id}">')
    body = html[start:html.index("</table>", start)]
    found = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        found[cells[0]] = cells[1:]
    return found


def test_report_shows_the_figures_under_response(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    out = tmp_path / "report.html"
    result = invoke("report", str(folder), str(folder / "new_plan.toml"), "--elasticity",
                    "0,0.1", "--out", str(out))
    assert_exit(result, 0)
    html = out.read_text(encoding="utf-8")
    rows = rows_of(html, "response-figures")
    assert rows["figure"] == ["static", "under response", "elasticity 0", "elasticity 0.1",
                              "limit"]
    assert rows["attainment multiplier: a"][:4] == ["x1.000", "x1.150", "x1.000", "x1.050"]
    assert rows["attainment multiplier: b"][:4] == ["x1.000", "x0.850", "x1.000", "x0.950"]
    # 0.06 * 600 + 0.02 * 400 = 44; under response 0.06 * 690 + 0.02 * 340 = 48.2; with
    # elasticity 0.1: 0.06 * 630 + 0.02 * 380 = 45.4.
    assert rows["expected total payout (USD per period)"][:4] == ["44.00", "48.20", "44.00",
                                                                   "45.40"]
    assert rows["volume change: a (units per period)"][:4] == ["0", "+90.0", "+0.0", "+30.0"]
    assert rows["value change: b (USD per period)"][:4] == ["0.00", "-6.00", "0.00", "-2.00"]
    # Value gained minus the payout's change from the baseline's 40: 3 - 8.2, 1 - 5.4.
    assert rows["net value (USD per period)"][:4] == ["-4.00", "-5.20", "-4.00", "-4.40"]
    assert '<svg id="chart-response-band"' in html
    assert "a x1.150 (+15.0 %), b x0.850 (-15.0 %)" in html


def test_report_without_a_band_has_no_chart(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    out = tmp_path / "report.html"
    assert_exit(invoke("report", str(folder), "current", "--out", str(out)), 0)
    html = out.read_text(encoding="utf-8")
    # Today's plan is the baseline: nothing moves.
    assert rows_of(html, "response-figures")["expected total payout (USD per period)"] == [
        "40.00", "40.00", ""]
    assert "chart-response-band" not in html


def test_report_elasticity_needs_response(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w", extra={})
    text = (folder / "case.toml").read_text()
    (folder / "case.toml").write_text(text[:text.index("[response]")].replace(
        "value = 0.1\n", ""))
    result = invoke("report", str(folder), "current", "--elasticity", "0.1", "--out",
                    str(tmp_path / "r.html"))
    assert_exit(result, 2)
    assert "has no [response] table" in result.output
    bad = invoke("report", str(folder), "current", "--elasticity", "x", "--out",
                 str(tmp_path / "r.html"))
    assert_exit(bad, 2)
    assert "--elasticity: 'x' is not a number" in bad.output




# ----------------------------------------------------------------- the workbook

def sheet_rows(sheet: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in sheet.iter_rows(values_only=True)]


def test_export_response_sheets(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    out = tmp_path / "plan.xlsx"
    assert_exit(invoke("export", str(folder), str(folder / "new_plan.toml"), "--xlsx",
                       str(out), "--elasticity", "0,0.1", "-q"), 0)
    book = openpyxl.load_workbook(out)
    rows = sheet_rows(book["Response"])
    head = rows[0]
    a = dict(zip(head, rows[1], strict=True))
    # Live: the multiplier from the Plan sheet's weight and rate (pay for a step of
    # progress is linear in them), the volume and value change from the multiplier.
    assert str(a["pay for progress, the plan"]).startswith("=")
    assert "w_a" in a["pay for progress, the plan"]
    assert a["attainment multiplier"] == "=MIN(MAX(1+C2*(F2-G2)/H2,1-$C$5),1+$C$5)"
    assert a["attainment multiplier, compplan"] == pytest.approx(1.15)
    assert a["volume a period (units)"] == pytest.approx(600.0)
    assert rows[4][:3] == ("max change", "no metric's attainment moves by more than this "
                           "share", 0.5)
    band = sheet_rows(book["Response band"])
    assert band[1][:4] == pytest.approx((0.0, 44.0, 44.0, -4.0))
    assert band[2][:4] == pytest.approx((0.1, 45.4, 45.4, -4.4))
    assert band[2][5:] == pytest.approx((1.05, 0.95))


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_response_sheet_recalculated(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    out = tmp_path / "plan.xlsx"
    assert_exit(invoke("export", str(folder), str(folder / "new_plan.toml"), "--xlsx",
                       str(out), "-q"), 0)
    book = recalculate(out, tmp_path / "lo")
    rows = sheet_rows(book["Response"])
    a, b = (dict(zip(rows[0], r, strict=True)) for r in rows[1:3])
    assert a["attainment multiplier"] == pytest.approx(1.15, rel=1e-12)
    assert b["attainment multiplier"] == pytest.approx(0.85, rel=1e-12)
    assert a["volume change (units per period)"] == pytest.approx(90.0, rel=1e-12)
    assert b["value change (USD per period)"] == pytest.approx(-6.0, rel=1e-12)
    net = next(r for r in rows if str(r[0]).startswith("net value"))
    assert net[2] == pytest.approx(-5.2, rel=1e-12)  # 9 - 6 - (48.2 - 40)

    # Edit a's weight to 1.0 on the Plan sheet: its base rate doubles the baseline's
    # (0.5), so with elasticity 0.3 its attainment rises by 30 %: 180 more units worth
    # 18; the net value then counts compplan's payout under response (48.2) as is.
    edited = openpyxl.load_workbook(out)
    plan = edited["Plan"]
    header = [c.value for c in plan[1]]
    plan.cell(row=2, column=header.index("weight") + 1, value=1.0)
    edited.save(tmp_path / "edited.xlsx")
    again = recalculate(tmp_path / "edited.xlsx", tmp_path / "lo2")
    rows = sheet_rows(again["Response"])
    a = dict(zip(rows[0], rows[1], strict=True))
    assert a["attainment multiplier"] == pytest.approx(1.3, rel=1e-12)
    assert a["volume change (units per period)"] == pytest.approx(180.0, rel=1e-12)
    assert a["value change (USD per period)"] == pytest.approx(18.0, rel=1e-12)


# ----------------------------------------------------------------- the audit

def test_audit_shows_the_figures_under_response(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    result = invoke("audit", str(folder), str(folder / "new_plan.toml"), "--out",
                    str(tmp_path / "audit"))
    assert_exit(result, 0)
    assert "attainment under response: a x1.150 (+15.0 %), b x0.850 (-15.0 %)" in result.output
    assert "net value -5.20 USD per period" in result.output
    doc = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert doc["response"]["multipliers"] == pytest.approx({"a": 1.15, "b": 0.85})
    assert doc["response"]["evaluation"]["expected_cost"] == pytest.approx(48.2)
    assert doc["response"]["static"]["expected_cost"] == pytest.approx(44.0)
    assert doc["response"]["net_value"] == pytest.approx(-5.2)
    md = (tmp_path / "audit" / "audit.md").read_text()
    assert "| expected total payout | 44.00 | 48.20 |" in md
    assert "| value change: a | 0.00 | 9.00 |" in md
    assert "| net value | -4.00 | -5.20 |" in md


# ----------------------------------------------------------------- segments

def segmented_case(folder: Path) -> Path:
    """The worked example with a second rep in another segment: 200 and 800 units."""
    worked_case(folder)
    (folder / "reps.csv").write_text("rep_id,target_incentive,segment\nR1,80.0,east\n"
                                     "R2,80.0,west\n")
    (folder / "attainment.csv").write_text("rep_id,period,a,b\nR1,P01,0.6,0.4\n"
                                           "R2,P01,0.2,0.8\n")
    (folder / "quotas.csv").write_text("rep_id,a,b\nR1,1000,1000\nR2,1000,1000\n")
    return folder


def test_outcomes_and_net_value_by_segment(tmp_path: Path) -> None:
    folder = segmented_case(tmp_path / "w")
    result = invoke("evaluate", str(folder), str(folder / "new_plan.toml"), "--out",
                    str(tmp_path / "ev"))
    assert_exit(result, 0)
    assert ("segment west: expected payout 27.40 USD under response against 28.00 USD on the "
            "history and 40.00 USD for the baseline; attainment a +3.0 pp, b -12.0 pp; net "
            "value 3.60 USD") in result.output
    doc = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    # Both reps below 100 % on both metrics: pay for a step moves +50 % on a and -50 % on
    # b for each, so the multipliers stay 1.15 and 0.85.
    assert doc["response"]["multipliers"] == pytest.approx({"a": 1.15, "b": 0.85})
    seg = doc["response"]["segments"]
    assert seg["column"] == "segment"
    east, west = seg["groups"]["east"], seg["groups"]["west"]
    # east: 80 * (0.75 * 0.69 + 0.25 * 0.34) = 48.2 against 44 static and 40 for the
    # baseline; +90 and -60 units worth +9 and -6: net 3 - 8.2.
    assert east["reps"] == 1
    assert east["expected_payout"] == pytest.approx(48.2)
    assert east["static_expected_payout"] == pytest.approx(44.0)
    assert east["baseline_expected_payout"] == pytest.approx(40.0)
    assert east["attainment_change"] == pytest.approx({"a": 0.09, "b": -0.06})
    assert east["outcomes"]["a"] == pytest.approx({"volume_change": 90.0, "value_change": 9.0})
    assert east["net_value"] == pytest.approx(-5.2)
    # west: 200 and 800 units become 230 and 680: +3 and -12; pays
    # 80 * (0.75 * 0.23 + 0.25 * 0.68) = 27.4 against 40: net -9 + 12.6.
    assert west["expected_payout"] == pytest.approx(27.4)
    assert west["static_expected_payout"] == pytest.approx(28.0)
    assert west["attainment_change"] == pytest.approx({"a": 0.03, "b": -0.12})
    assert west["outcomes"]["b"] == pytest.approx({"volume_change": -120.0,
                                                   "value_change": -12.0})
    assert west["net_value"] == pytest.approx(3.6)
    # The segments add up to the whole.
    assert east["net_value"] + west["net_value"] == pytest.approx(doc["response"]["net_value"])

    out = tmp_path / "report.html"
    assert_exit(invoke("report", str(folder), str(folder / "new_plan.toml"), "--out",
                       str(out)), 0)
    rows = rows_of(out.read_text(encoding="utf-8"), "response-segments")
    assert rows["east"] == ["1", "44.00", "48.20", "40.00", "a +9.0 pp, b -6.0 pp", "3.00",
                            "-5.20"]
    assert rows["west"] == ["1", "28.00", "27.40", "40.00", "a +3.0 pp, b -12.0 pp", "-9.00",
                            "3.60"]


# ---------------------------------------------- a robust design that nothing fits

def least_robust_cost(case: Any, elasticities: list[float], parity: bool) -> float:
    """The least over grid plans of the largest expected payout over the elasticities."""
    coeffs = compute_coefficients(case)
    ctx = ResponseContext.of(case, coeffs)
    opts = grid_options(case, Rounding(0.05, 0.05))
    per_metric = [[(opts.w[j], opts.u[j]) for j in np.flatnonzero(opts.metric == m)]
                  for m in range(len(case.metric_ids))]
    least = np.inf
    for combo in itertools.product(*per_metric):
        w, u = np.array([c[0] for c in combo]), np.array([c[1] for c in combo])
        if abs(w.sum() - 1.0) > 1e-9:
            continue
        each = [evaluate_response(ctx, Plan.from_vectors(case, w, u), elasticity=e).evaluation
                for e in elasticities]
        if parity and any(ev.max_parity_gap > 0.088 for ev in each):
            continue
        least = min(least, max(ev.expected_cost for ev in each))
    return float(least)


def test_robust_design_that_nothing_fits_names_the_guardrails(tmp_path: Path) -> None:
    elasticities = [0.0, 0.4, 0.8]
    folder = brute_case(tmp_path / "probe", {"expected_cap": 1e9})
    probe = load_case(folder)
    with_parity = least_robust_cost(probe, elasticities, parity=True)
    without = least_robust_cost(probe, elasticities, parity=False)
    cap = round(with_parity - 1.0, 2)
    case = load_case(brute_case(tmp_path / "r", {"expected_cap": cap}))
    result = compplan.optimise(case, elasticity=elasticities)
    assert result.plan is None
    report = result.diagnosis
    assert report is not None
    with pytest.raises(InfeasibleError):
        result.raise_for_status()
    expected = ["budget_expected"] + (["fairness_parity"] if without <= cap else [])
    assert [c["guardrail"] for c in report["conflict"]] == expected
    assert report["elasticities"] == elasticities
    # The cheapest grid plan meeting parity under each elasticity: its largest payout.
    assert report["min_expected_cap"] == pytest.approx(with_parity, rel=1e-9)
    assert report["explanation"][0].startswith(
        "no grid plan satisfies the constraints under every elasticity of 0, 0.4, 0.8: ")
    assert "[budget] expected_cap" in report["explanation"][0]
    run = invoke("optimise", str(tmp_path / "r"), "--out", str(tmp_path / "p"),
                 "--elasticity", "0,0.4,0.8")
    assert_exit(run, 3)
    written = json.loads((tmp_path / "p" / "infeasibility.json").read_text())
    assert [c["guardrail"] for c in written["conflict"]] == expected


@pytest.mark.parametrize("command", [("report", "--out", "r.html"), ("export", "--xlsx", "r.xlsx")])
def test_organisation_documents_refuse_an_elasticity(tmp_path: Path,
                                                     command: tuple[str, str, str]) -> None:
    org = Path(__file__).parent.parent / "cases" / "gtm_org"
    name, flag, out = command
    result = invoke(name, str(org), "current", "--elasticity", "0.1", flag, str(tmp_path / out))
    assert_exit(result, 2)
    assert ("--elasticity applies to a case folder with [response]; an organisation's roles "
            "with [response] are evaluated under their own elasticities (a band over roles is "
            "not built)") in " ".join(result.output.split())


# ---------------------------------------------- the grid model in a block (a role's)

def test_response_model_builds_into_a_block(tmp_path: Path) -> None:
    # An organisation builds each role into a block of one model: the grid model under
    # response must do the same, with the role's w, u and z for the cross-role rules.
    import pyomo.environ as pyo
    from pyomo.contrib.solver.solvers.highs import Highs

    from compplan.optimizer.response_model import case_problem, create_response_model

    case = load_case(brute_case(tmp_path / "b", {"expected_cap": 567700.0}))
    coeffs = compute_coefficients(case)
    alignment, _, plan, _ = brute_force(case, coeffs)
    problem = case_problem(case, coeffs, None, None)
    parent = pyo.ConcreteModel()
    parent.role = pyo.Block(["seller"])
    part = create_response_model(case, coeffs, problem.data, problem.options, problem.sets,
                                 block=parent.role["seller"])
    part.model.objective.deactivate()
    parent.objective = pyo.Objective(expr=parent.role["seller"].alignment, sense=pyo.maximize)
    Highs().solve(parent)
    assert pyo.value(parent.role["seller"].alignment) == pytest.approx(alignment, rel=1e-9)
    w = {k: pyo.value(parent.role["seller"].w[k]) for k in case.metric_ids}
    assert sum(w.values()) == pytest.approx(1.0)
    assert {k for k, v in w.items() if v > 1e-9} == {m.id for m in plan.metrics}


def test_segments_of_a_case_from_transactions(tmp_path: Path) -> None:
    # Each period's own quota (section 11) by rep: R1's bookings 600 and 900 (mean 750),
    # R2's 1000 and 1300 (mean 1150); deals 1.5 each.
    from test_ledger_response import response_mini

    folder = response_mini(tmp_path / "m")
    case = load_case(folder)
    figs = compplan.evaluate(case, folder / "plan.toml").response
    assert figs is not None and figs.segments is not None
    groups = figs.segments["groups"]
    lam = figs.multipliers
    by_rep = {"R1": (750.0, 1.5), "R2": (1150.0, 1.5)}
    column = figs.segments["column"]
    reps = case.reps.reset_index()
    for name, g in groups.items():
        ids = [r for r, v in zip(reps["rep_id"], reps[column], strict=True) if str(v) == name]
        assert g["outcomes"]["bookings"]["volume_change"] == pytest.approx(
            (lam["bookings"] - 1.0) * sum(by_rep[r][0] for r in ids), rel=1e-12)
        assert g["outcomes"]["deals"]["volume_change"] == pytest.approx(
            (lam["deals"] - 1.0) * sum(by_rep[r][1] for r in ids), rel=1e-12)
    assert sum(g["net_value"] for g in groups.values()) == pytest.approx(figs.net_value)
