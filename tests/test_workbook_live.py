"""The live workbook recalculated by LibreOffice headless, against compplan's figures.

``soffice --headless --convert-to xlsx`` loads the workbook, recalculates every formula
and saves the values; openpyxl reads them back. The test is skipped, with the reason,
where LibreOffice is not installed (``make test`` installs it when it can).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from test_safe import METRIC_B, assert_exit, hostile_case, invoke
from test_workbook import records

from compplan.models.case import load_case
from compplan.models.output import rep_rates
from compplan.models.plan import Plan, load_plan
from compplan.optimizer.coefficients import compute_coefficients
from compplan.render.report import outcome

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice (soffice) is not installed: as root, apt-get install "
                            "-y libreoffice-calc-nogui (make test does it when it can)")
#: The designed plan of the test: neither today's plan nor on its bounds.
DESIGNED = f"""[[metrics]]
id = "a"
weight = 0.7
accelerator_rate = 1.5

[[metrics]]
id = "{METRIC_B}"
weight = 0.3
accelerator_rate = 0.4
"""


def recalculate(book: Path, out: Path) -> openpyxl.Workbook:
    """The workbook as LibreOffice computes it (values only)."""
    out.mkdir()
    # A profile of its own: another soffice running elsewhere does not lock this one.
    profile = (out / "profile").as_uri()
    subprocess.run([str(SOFFICE), f"-env:UserInstallation={profile}", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(out), str(book)],
                   check=True, capture_output=True, timeout=180)
    return openpyxl.load_workbook(out / book.name, data_only=True)


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    folder = hostile_case(tmp_path / "case")
    (folder / "designed.toml").write_text(DESIGNED)
    return folder


def export(case_dir: Path, out: Path) -> Path:
    assert_exit(invoke("export", str(case_dir), str(case_dir / "designed.toml"), "--xlsx",
                       str(out), "-q"), 0)
    return out


def test_recalculated_workbook_equals_compplan(case_dir: Path, tmp_path: Path) -> None:
    book = recalculate(export(case_dir, tmp_path / "plan.xlsx"), tmp_path / "lo")
    case = load_case(case_dir)
    coeffs = compute_coefficients(case)
    plan = load_plan(case, str(case_dir / "designed.toml"))
    designed = outcome(case, coeffs, plan, "designed")
    today = outcome(case, coeffs, load_plan(case, "current"), "current")

    rows = records(book["Plan"])
    for row, m in zip(rows, plan.metrics, strict=True):
        assert row["base rate"] == pytest.approx(m.base_rate, rel=1e-12)
        assert row["pay at 100%"] == pytest.approx(m.weight, rel=1e-12)
        assert row["pay at cap"] == pytest.approx(float(m.payout(m.cap)), rel=1e-12)
        assert row["accelerator multiple"] == pytest.approx(m.accelerator_multiple, rel=1e-12)

    totals = [r["total payout (USD)"] for r in records(book["Scenarios"])]
    assert totals == pytest.approx(list(designed.totals), rel=1e-12)

    expected = rep_rates(case, plan)
    assert expected is not None
    rates = records(book["Rep rates"])
    assert [r["base rate per unit (USD)"] for r in rates] == pytest.approx(
        list(expected["base_rate_per_unit"]), rel=1e-12)
    assert [r["accelerator rate per unit (USD)"] for r in rates] == pytest.approx(
        list(expected["accelerator_rate_per_unit"]), rel=1e-12)

    # At 100 % on every metric a rep earns exactly her target incentive.
    calc = {r["metric"]: r for r in records(book["Calculator"])}
    median = float(np.median(case.target_incentive))
    assert calc["total"]["payout (USD)"] == pytest.approx(median, rel=1e-12)

    side = {r["metric or figure"]: r for r in records(book["Current vs designed"])}
    live = side["expected total payout (USD), live"]
    assert live["current weight"] == pytest.approx(today.evaluation.expected_cost, rel=1e-12)
    assert live["designed weight"] == pytest.approx(designed.evaluation.expected_cost,
                                                    rel=1e-12)


def test_change_a_weight_and_the_cost_moves(case_dir: Path, tmp_path: Path) -> None:
    """Finance's edit: new weights and an attainment typed in; formulas follow them."""
    path = export(case_dir, tmp_path / "plan.xlsx")
    edited = openpyxl.load_workbook(path)
    edited["Plan"]["C2"] = 0.55
    edited["Plan"]["C3"] = 0.45
    edited["Calculator"]["C2"] = 1.3
    edited["Calculator"]["C3"] = 0.65
    edited.save(tmp_path / "edited.xlsx")
    book = recalculate(tmp_path / "edited.xlsx", tmp_path / "lo")

    case = load_case(case_dir)
    coeffs = compute_coefficients(case)
    w, u = load_plan(case, str(case_dir / "designed.toml")).vectors(case)
    w[case.metric_ids.index("a")], w[case.metric_ids.index(METRIC_B)] = 0.55, 0.45
    changed = outcome(case, coeffs, Plan.from_vectors(case, w, u), "changed")
    totals = [r["total payout (USD)"] for r in records(book["Scenarios"])]
    assert totals == pytest.approx(list(changed.totals), rel=1e-12)
    side = {r["metric or figure"]: r for r in records(book["Current vs designed"])}
    assert side["expected total payout (USD), live"]["designed weight"] == pytest.approx(
        changed.evaluation.expected_cost, rel=1e-12)

    calc = {r["metric"]: r for r in records(book["Calculator"])}
    median = float(np.median(case.target_incentive))
    by_id = {m.id: m for m in changed.plan.metrics}
    pay = float(by_id["a"].payout(1.3) + by_id[METRIC_B].payout(0.65))
    assert calc["total"]["payout (USD)"] == pytest.approx(median * pay, rel=1e-12)


#: A plan as written: a curve with a step on 'a', gated on the other metric.
WRITTEN = f"""[[metrics]]
id = "a"
curve = [[0.5, 0.0], [1.0, 0.6], [1.0, 0.7], [1.5, 0.9]]
gate = {{ metric = "{METRIC_B}", at = 0.8 }}

[[metrics]]
id = "{METRIC_B}"
weight = 0.3
accelerator_rate = 0.4
"""


@pytest.mark.parametrize(("a", "b"), [(0.75, 1.0), (1.0, 1.0), (1.2, 0.9), (2.0, 0.5),
                                      (0.4, 1.3)])
def test_calculator_pays_a_written_curve_and_gate(case_dir: Path, tmp_path: Path,
                                                  a: float, b: float) -> None:
    # The Calculator's formulas for a curve with a step and a gate, typed attainment
    # replaced before LibreOffice recalculates: they give compplan's own payout.
    (case_dir / "written.toml").write_text(WRITTEN)
    out = tmp_path / "written.xlsx"
    assert_exit(invoke("export", str(case_dir), str(case_dir / "written.toml"), "--xlsx",
                       str(out), "-q"), 0)
    edited = openpyxl.load_workbook(out)
    sheet = edited["Calculator"]
    sheet["C2"], sheet["C3"] = a, b
    edited.save(out)
    book = recalculate(out, tmp_path / "lo")
    case = load_case(case_dir)
    plan = load_plan(case, str(case_dir / "written.toml"))
    first, second = records(book["Calculator"])[:2]  # the plan's metrics, in order
    curve, linear = plan.metrics
    gate_open = b >= 0.8
    expected_a = float(curve.payout(np.array(a))) if gate_open else 0.0
    assert first["payout (share of target)"] == pytest.approx(expected_a, abs=1e-12)
    assert second["payout (share of target)"] == pytest.approx(
        float(linear.payout(np.array(b))), abs=1e-12)
    assert first["gate: attainment of its metric"] == pytest.approx(b)


#: Curves at their edges, each the plan's only metric, gated on a metric not in the plan
#: (its attainment typed in the Calculator): a step at the first point and a final flat
#: part; a first point paying more than 0 (nothing below it), a step, flat after the last.
EDGE_CURVES = ["[[0.5, 0.0], [0.5, 0.2], [1.0, 0.6], [1.5, 0.9], [2.0, 0.9]]",
               "[[0.6, 0.3], [1.0, 0.6], [1.0, 0.8], [1.4, 1.0]]"]
EDGE_POINTS = [0.0, 0.49, 0.5, 0.55, 0.6, 0.8, 1.0, 1.2, 1.4, 1.5, 1.75, 2.0, 2.5]


@pytest.mark.parametrize("curve", EDGE_CURVES)
def test_calculator_curve_edges_and_a_typed_gate(case_dir: Path, tmp_path: Path,
                                                 curve: str) -> None:
    # One recalculation: the Calculator's own payout formula (cell F2) is copied beside
    # the sheet with its attainment (C2) and typed gate attainment (H2) moved to cells
    # holding every edge point, gate open (0.8, at the gate) and shut (0.79).
    (case_dir / "edge.toml").write_text(f'[[metrics]]\nid = "a"\ncurve = {curve}\n'
                                        f'gate = {{ metric = "{METRIC_B}", at = 0.8 }}\n')
    out = tmp_path / "edge.xlsx"
    assert_exit(invoke("export", str(case_dir), str(case_dir / "edge.toml"), "--xlsx",
                       str(out), "-q"), 0)
    edited = openpyxl.load_workbook(out)
    sheet = edited["Calculator"]
    formula = sheet["F2"].value
    assert isinstance(formula, str) and formula.startswith("=IF(H2>=")
    cases = [(x, g) for g in (0.8, 0.79) for x in EDGE_POINTS]
    for i, (x, g) in enumerate(cases, start=1):
        sheet[f"X{i}"], sheet[f"Y{i}"] = g, x
        sheet[f"Z{i}"] = formula.replace("C2", f"Y{i}").replace("H2", f"X{i}")
    edited.save(out)
    book = recalculate(out, tmp_path / "lo")
    case = load_case(case_dir)
    metric = load_plan(case, str(case_dir / "edge.toml")).metrics[0]
    got = [book["Calculator"][f"Z{i}"].value for i in range(1, len(cases) + 1)]
    want = [float(metric.payout(np.array(x))) if g >= 0.8 else 0.0 for x, g in cases]
    assert got == pytest.approx(want, abs=1e-12)
    # The curve's own figures, by hand: the first curve pays 0.2 from 0.5 (the later point
    # of the step holds), the second 0.3 from 0.6 and nothing just below.
    by_x = dict(zip(EDGE_POINTS, want[:len(EDGE_POINTS)], strict=True))
    if curve == EDGE_CURVES[0]:
        assert (by_x[0.49], by_x[0.5], by_x[1.0], by_x[2.5]) == pytest.approx((0, 0.2, 0.6, 0.9))
    else:
        assert (by_x[0.55], by_x[0.6], by_x[1.0], by_x[2.0]) == pytest.approx((0, 0.3, 0.8, 1.0))


@pytest.mark.parametrize("level", [0.5, 0.75])
def test_cvar_and_guardrails_broken_follow_an_edit(case_dir: Path, tmp_path: Path,
                                                   level: float) -> None:
    """Issue 19, item 4: after finance edits the weights, CVaR and the count of broken
    guardrails on Current vs designed move with them (they kept the exported values).
    The hostile case has two scenarios: a level of 0.5 takes the larger total in full,
    0.75 half of it (the tail of 0.5 scenarios); both against compplan's own figures."""
    toml = case_dir / "case.toml"
    toml.write_text(toml.read_text() + f"\n[budget]\nexpected_cap = 4000\ncvar_level = {level}"
                    "\ncvar_cap = 5000\n\n[design]\nmax_payout_multiple = 3.0\n")
    path = export(case_dir, tmp_path / "plan.xlsx")
    edited = openpyxl.load_workbook(path)
    edited["Plan"]["C2"], edited["Plan"]["C3"] = 0.9, 0.1
    edited["Plan"]["J2"] = 2.5
    edited.save(tmp_path / "edited.xlsx")
    book = recalculate(tmp_path / "edited.xlsx", tmp_path / "lo")

    case = load_case(case_dir)
    coeffs = compute_coefficients(case)
    w, u = load_plan(case, str(case_dir / "designed.toml")).vectors(case)
    a, b = case.metric_ids.index("a"), case.metric_ids.index(METRIC_B)
    w[a], w[b], u[a] = 0.9, 0.1, 2.5
    changed = outcome(case, coeffs, Plan.from_vectors(case, w, u), "changed").evaluation
    side = {r["metric or figure"]: r for r in records(book["Current vs designed"])}
    cvar = side[f"CVaR {level:g} of the total (USD), live"]
    assert cvar["designed weight"] == pytest.approx(changed.total_cvar, rel=1e-12)
    broken = side["guardrails broken, live"]["designed weight"]
    assert broken == len(changed.violated) > 0
    # The multiple of 'a' is now 2.5 x 0.5 / 0.9 = 1.39: not flagged.
    assert records(book["Plan"])[0]["check"] in ("", None)


def test_an_accelerator_multiple_below_one_is_flagged(case_dir: Path, tmp_path: Path) -> None:
    """Issue 19, item 4: an accelerator rate typed in that makes the multiple < 1 is
    flagged on the Plan sheet (0.4 x 0.5 / 0.3 = 0.67 for the other metric as designed)."""
    from compplan.render.workbook import SLOWER

    book = recalculate(export(case_dir, tmp_path / "plan.xlsx"), tmp_path / "lo")
    first, second = records(book["Plan"])  # a, then the metric named '=b'
    assert second["accelerator multiple"] == pytest.approx(0.4 * 0.5 / 0.3)
    assert second["check"] == SLOWER
    assert first["check"] in ("", None)
