"""Plans as written (MODEL.md section 9): curves with steps, gates, own thresholds and caps.

The case: goals g1 = 3, g2 = 1 (pi = 0.75, 0.25); metric ``a`` (A[a, g1] = 1, so
a_a = 0.75) and ``b`` (A[b, g2] = 1, a_b = 0.25), both with the case's threshold 0.5,
cap 2 and step 0.5. Three reps, two periods:

    rep  segment  TI     a: s1   s2     b: s1   s2
    R0   North   1000      1.0  0.6       1.0  1.5
    R1   North   2000      1.2  0.9       0.5  1.25
    R2   South   1000      2.0  0.4       2.0  1.0

The written plan:

- ``a``: curve (0.5, 0), (1.0, 0.4), (1.0, 0.6), (1.5, 0.8): linear from 50 % to 40 % at
  100 %, a step to 60 % at 100 % (the later point holds there), linear to 80 % at
  150 %, flat above. c_a(1.0) = 0.6, c_a(0.6) = 0.08, c_a(1.2) = 0.68, c_a(0.9) = 0.32,
  c_a(2.0) = 0.8, c_a(0.4) = 0.
- ``b``: weight 0.4, accelerator rate 0.4, its own threshold 0 and cap 1.5 (not the
  case's 0.5 and 2), gated on a >= 0.8: c_b(x) = 0.4 min(x, 1) + 0.4 clip(x - 1, 0, 0.5).
  The gate is shut for R0 s2 (a = 0.6) and R2 s2 (a = 0.4).

P / TI:
    R0: s1 0.6 + 0.4 = 1.0      s2 0.08 + 0 (gated)   = 0.08    e = 0.54
    R1: s1 0.68 + 0.2 = 0.88    s2 0.32 + 0.5         = 0.82    e = 0.85
    R2: s1 0.8 + 0.6 = 1.4      s2 0 + 0 (gated)      = 0       e = 0.70

Totals: s1 = 1000 + 1760 + 1400 = 4160, s2 = 80 + 1640 + 0 = 1720; expected 2940.

U (step 0.5), TI-weighted over rep-periods, divided by S sum TI = 2 x 4000 = 8000:
    a: R0 (0.8 - 0.6) + (c(1.1) = 0.64 - 0.08) = 0.76 -> 760; R1 (0.8 - 0.68) +
       (c(1.4) = 0.76 - 0.32) = 0.56 -> 1120; R2 0 + 0.32 -> 320; U_a = 2200 / 8000 = 0.275
    b (gate at the unchanged a): R0 s1 0.6 - 0.4 = 0.2 -> 200; R1 s1 0.4 - 0.2 = 0.2 and
       s2 0.6 - 0.5 = 0.1 -> 600; R2 s1 0 (capped); U_b = 800 / 8000 = 0.1
Alignment = 0.75 x 0.275 + 0.25 x 0.1 = 0.23125.
Most a rep can earn: 0.8 + (0.4 + 0.4 x 0.5) = 1.4 x target.
Parity (group_by segment): North (540 + 1700) / 3000 = 0.7466..., South 0.7, all
2940 / 4000 = 0.735: gaps +0.011666..., -0.035.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from compplan.cli.main import main
from compplan.errors import CaseError
from compplan.models.case import load_case
from compplan.models.plan import Plan, curve_payout, load_plan, payouts
from compplan.optimizer.audit import audit_plan
from compplan.optimizer.coefficients import compute_coefficients
from compplan.optimizer.evaluate import evaluate_plan, plan_payouts

MakeCase = Callable[..., Path]
REL = 1e-12

TABLES = {
    "goals": {"g1": 3.0, "g2": 1.0},
    "metrics.a": {"threshold": 0.5, "cap": 2.0, "step": 0.5, "alignment": {"g1": 1.0}},
    "metrics.b": {"threshold": 0.5, "cap": 2.0, "step": 0.5, "alignment": {"g2": 1.0}},
    "fairness": {"group_by": "segment", "parity_tolerance": 0.5},
}
REPS = [{"rep_id": "R0", "segment": "North", "target_incentive": 1000.0},
        {"rep_id": "R1", "segment": "North", "target_incentive": 2000.0},
        {"rep_id": "R2", "segment": "South", "target_incentive": 1000.0}]
ATTAINMENT = {"a": [[1.0, 0.6], [1.2, 0.9], [2.0, 0.4]],
              "b": [[1.0, 1.5], [0.5, 1.25], [2.0, 1.0]]}
WRITTEN = """\
[[metrics]]
id = "a"
curve = [[0.5, 0.0], [1.0, 0.4], [1.0, 0.6], [1.5, 0.8]]

[[metrics]]
id = "b"
weight = 0.4
accelerator_rate = 0.4
threshold = 0.0
cap = 1.5
gate = { metric = "a", at = 0.8 }
"""


@pytest.fixture
def written(make_case: MakeCase) -> tuple[Path, Path]:
    folder = make_case(TABLES, REPS, ATTAINMENT)
    plan = folder / "written.toml"
    plan.write_text(WRITTEN)
    return folder, plan


def test_curve_step_holds_the_later_point() -> None:
    curve = ((0.5, 0.0), (1.0, 0.4), (1.0, 0.6), (1.5, 0.8))
    x = np.array([0.0, 0.49, 0.5, 0.75, 0.999999, 1.0, 1.25, 1.5, 3.0])
    expected = [0.0, 0.0, 0.0, 0.2, 0.4 * 0.499999 / 0.5, 0.6, 0.7, 0.8, 0.8]
    np.testing.assert_allclose(curve_payout(curve, x), expected, rtol=REL, atol=1e-15)
    # A first point above zero is a step from nothing: 0 below, its payout at it.
    np.testing.assert_allclose(curve_payout(((1.0, 0.5),), np.array([0.99, 1.0, 2.0])),
                               [0.0, 0.5, 0.5])


def test_payouts_per_rep_and_period(written: tuple[Path, Path]) -> None:
    folder, file = written
    case = load_case(folder)
    plan = load_plan(case, file)
    assert not plan.is_canonical(case)
    np.testing.assert_allclose(payouts(case, plan, case.attainment),
                               [[1000.0, 80.0], [1760.0, 1640.0], [1400.0, 0.0]], rtol=REL)


def test_evaluation_of_a_written_plan(written: tuple[Path, Path]) -> None:
    folder, file = written
    case = load_case(folder)
    coeffs = compute_coefficients(case)
    plan = load_plan(case, file)
    pay = plan_payouts(case, coeffs, plan)
    np.testing.assert_allclose(pay.totals, [4160.0, 1720.0], rtol=REL)
    np.testing.assert_allclose(pay.shares, [0.54, 0.85, 0.70], rtol=REL)
    np.testing.assert_allclose(pay.marginal, [0.275, 0.1], rtol=REL)
    ev = evaluate_plan(case, coeffs, plan)
    assert ev.expected_cost == pytest.approx(2940.0, rel=REL)
    assert ev.alignment == pytest.approx(0.23125, rel=REL)
    assert ev.alignment_by_metric == pytest.approx({"a": 0.75 * 0.275, "b": 0.25 * 0.1})
    assert ev.max_payout_multiple == pytest.approx(1.4, rel=REL)
    assert ev.parity_gaps == pytest.approx({"North": 2240 / 3000 - 0.735,
                                            "South": 0.7 - 0.735})
    assert ev.bottom_tail_mean == pytest.approx(0.54)  # bottom 20 % of 3 reps: R0
    # The curve's weight is its pay at 100 % (the step's later point); weights sum to 1.
    rules = {(r.name, r.metric): r for r in ev.design_rules}
    assert rules[("weights_sum", None)].value == pytest.approx(1.0)
    assert rules[("min_weight", "a")].value == pytest.approx(0.6)
    # a: average slope above target (0.8 - 0.6) / 0.5 over below (0.6 / 0.5) = 1/3.
    assert rules[("accelerator_min", "a")].value == pytest.approx(1.0 / 3.0)
    assert not rules[("accelerator_min", "a")].ok
    # b: its own threshold 0: multiple 0.4 x (1 - 0) / 0.4 = 1.
    assert rules[("accelerator_min", "b")].value == pytest.approx(1.0)


def test_own_threshold_and_cap_are_honoured(written: tuple[Path, Path]) -> None:
    """threshold and cap in a plan file change what it pays (they used to be ignored)."""
    folder, _ = written
    case = load_case(folder)
    coeffs = compute_coefficients(case)
    own = folder / "own.toml"
    own.write_text('[[metrics]]\nid = "a"\nweight = 1.0\naccelerator_rate = 1.0\n'
                   "threshold = 0.0\ncap = 1.5\n")
    plan = load_plan(case, own)
    # c(x) = min(x, 1) + clip(x - 1, 0, 0.5): R0 1.0, 0.6; R1 1.2, 0.9; R2 1.5, 0.4.
    ev = evaluate_plan(case, coeffs, plan)
    assert ev.expected_cost == pytest.approx((1600 + 2000 * 2.1 + 1900) / 2, rel=REL)
    same = folder / "same.toml"
    same.write_text('[[metrics]]\nid = "a"\nweight = 1.0\naccelerator_rate = 1.0\n'
                    "threshold = 0.5\ncap = 2.0\n")
    assert load_plan(case, same).is_canonical(case)


def test_a_canonical_plan_takes_the_coefficient_path(written: tuple[Path, Path]) -> None:
    """Paid out over the scenarios, a canonical plan gives the coefficients' figures."""
    folder, _ = written
    case = load_case(folder)
    coeffs = compute_coefficients(case)
    plan = Plan.from_vectors(case, np.array([0.6, 0.4]), np.array([1.2, 0.8]))
    fast = plan_payouts(case, coeffs, plan)
    gated = Plan(tuple(m.__class__(**{**m.__dict__, "curve": ((m.threshold, 0.0), (1.0, m.weight),
                                                               (m.cap, m.max_payout))})
                       for m in plan.metrics))
    slow = plan_payouts(case, coeffs, gated)
    np.testing.assert_allclose(slow.totals, fast.totals, rtol=1e-12)
    np.testing.assert_allclose(slow.shares, fast.shares, rtol=1e-12)
    np.testing.assert_allclose(slow.marginal, fast.marginal, rtol=1e-12)


def test_audit_of_a_written_plan(written: tuple[Path, Path]) -> None:
    folder, file = written
    case = load_case(folder)
    result = audit_plan(case, load_plan(case, file), "written")
    assert result.metric("a").marginal_incentive == pytest.approx(0.275, rel=REL)
    assert result.metric("b").marginal_incentive == pytest.approx(0.1, rel=REL)
    assert result.alignment == pytest.approx(0.23125, rel=REL)


@pytest.mark.parametrize(("text", "message"), [
    pytest.param('[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], [1.0, 0.5], [0.9, 0.6]]\n',
                 "plan.toml, [[metrics]] #1: metric 'a', curve point #3 [0.9, 0.6]: attainment "
                 "0.9 is below the previous point's 1 (attainments never decrease)",
                 id="attainment-falls"),
    pytest.param('[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], [1.0, 0.5], [1.5, 0.4]]\n',
                 "plan.toml, [[metrics]] #1: metric 'a', curve point #3 [1.5, 0.4]: share 0.4 "
                 "is below the previous point's 0.5 (pay never falls as attainment rises)",
                 id="payout-falls"),
    pytest.param('[[metrics]]\nid = "a"\ncurve = [[0.5, -0.1], [1.0, 0.5]]\n',
                 "plan.toml, [[metrics]] #1: metric 'a', curve point #1 [0.5, -0.1]: attainment "
                 "and share must be >= 0", id="negative"),
    pytest.param('[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0, 1.0]]\n',
                 "plan.toml, [[metrics]] #1: metric 'a', curve point #1 [0.5, 0.0, 1.0]: a "
                 "point is [attainment, share of target incentive], got 3 numbers",
                 id="three-numbers"),
    pytest.param('[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], [1.0, 1.0]]\nweight = 1.0\n',
                 "plan.toml, [[metrics]] #1: metric 'a' has a curve and weight: a curve says "
                 "all the metric pays; give one or the other", id="curve-and-weight"),
    pytest.param('[[metrics]]\nid = "a"\nweight = 1.0\naccelerator_rate = 2.0\n'
                 "accelerator_multiple = 1.5\n",
                 "plan.toml, [[metrics]] #1 (a) accelerator_multiple: accelerator_rate 2 and "
                 "accelerator_multiple 1.5 disagree (the multiple x base rate 2 is 3); give one "
                 "of them", id="both-accelerators-disagree"),
    pytest.param('[[metrics]]\nid = "a"\nweight = 1.0\naccelerator_rate = 2.0\nbase_rate = 1.0\n',
                 "plan.toml, [[metrics]] #1 (a) base_rate: base_rate 1 is not weight / (1 - "
                 "threshold) = 1 / (1 - 0.5) = 2; give the weight and leave base_rate out, or "
                 "make them agree", id="base-rate"),
    pytest.param('[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], [1.0, 1.0]]\n'
                 'gate = { metric = "c", at = 0.5 }\n',
                 "plan.toml, [[metrics]] #1 gate.metric: metric 'a' is gated on 'c', which is "
                 "not a metric of the case (metrics: a, b)", id="gate-unknown"),
    pytest.param('[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], [1.0, 1.0]]\n'
                 'gate = { metric = "b", at = 0.5, below = 0 }\n',
                 "plan.toml, [[metrics]] #1 gate.below: unknown key (allowed keys: metric, at)",
                 id="gate-key"),
    pytest.param('[[metrics]]\nid = "a"\ncurve = ['
                 + ", ".join(f"[{i / 1000}, {i / 2000}]" for i in range(1001)) + "]\n",
                 "plan.toml, [[metrics]] #1: metric 'a': curve has 1,001 points; a curve has at "
                 "most 1,000 (a payout table, not a sampled function)", id="curve-too-long"),
    pytest.param('[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], [1.0, 150.0]]\n',
                 "plan.toml, [[metrics]] #1: metric 'a', curve point #2 [1.0, 150.0]: attainment "
                 "and share are ratios (1.5 = 150 %) of at most 100; 150 looks like a percentage "
                 "or an amount", id="curve-percent"),
    # Issue 19, item 7: a gate typed as a percent never opens; refused as curves are.
    pytest.param('[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], [1.0, 1.0]]\n'
                 'gate = { metric = "b", at = 50 }\n',
                 "plan.toml, [[metrics]] #1 gate.at: a gate's level is a ratio of quota (0.5 = "
                 "50 %) of at most 10; 50 looks like a percentage", id="gate-percent"),
    pytest.param('[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], [1.0, nan]]\n',
                 "plan.toml, [[metrics]] #1 curve.1.1: must be a finite number, got nan",
                 id="curve-nan"),
    pytest.param('[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], [1.0, 1.0]]\ntiers = 3\n',
                 "plan.toml, [[metrics]] #1 tiers: unknown key (allowed keys: id, label, weight, "
                 "threshold, cap, base_rate, accelerator_rate, accelerator_multiple, curve, gate)",
                 id="unknown-key"),
])
def test_written_plan_errors(make_case: MakeCase, text: str, message: str) -> None:
    folder = make_case(TABLES, REPS, ATTAINMENT)
    (folder / "plan.toml").write_text(text)
    with pytest.raises(CaseError) as info:
        load_plan(load_case(folder), folder / "plan.toml")
    assert str(info.value) == message


def test_a_gate_on_its_own_metric_is_honoured(make_case: MakeCase) -> None:
    # MODEL.md section 9 defines the gate for any metric: on its own metric it pays only
    # in a period where that attainment reaches the gate (here 0.8): below, nothing.
    folder = make_case(TABLES, REPS, ATTAINMENT)
    (folder / "plan.toml").write_text('[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], '
                                      '[1.0, 1.0]]\ngate = { metric = "a", at = 0.8 }\n')
    plan = load_plan(load_case(folder), folder / "plan.toml")
    x = np.array([[[0.7], [0.0]], [[0.9], [0.0]]])  # reps x (a, b) x one period
    assert plan.shares(("a", "b"), x)[:, 0] == pytest.approx([0.0, 0.8])


def test_a_curve_of_one_point_is_a_step(make_case: MakeCase) -> None:
    # Pays 0 below its point and the point's share from there on (MODEL.md section 9).
    folder = make_case(TABLES, REPS, ATTAINMENT)
    (folder / "plan.toml").write_text('[[metrics]]\nid = "a"\ncurve = [[0.8, 0.3]]\n')
    plan = load_plan(load_case(folder), folder / "plan.toml")
    paid = plan.metrics[0].payout(np.array([0.79, 0.8, 5.0]))
    assert paid.tolist() == [0.0, 0.3, 0.3]


def test_consistent_base_rate_and_accelerators_are_accepted(make_case: MakeCase) -> None:
    folder = make_case(TABLES, REPS, ATTAINMENT)
    (folder / "plan.toml").write_text('[[metrics]]\nid = "a"\nweight = 1.0\nbase_rate = 2.0\n'
                                      "accelerator_rate = 3.0\naccelerator_multiple = 1.5\n")
    plan = load_plan(load_case(folder), folder / "plan.toml")
    assert plan.metrics[0].accelerator_rate == 3.0


# ------------------------------------------------------------------ every command

REPO = Path(__file__).resolve().parents[1]
SIX = REPO / "docs" / "examples" / "written_plan.toml"
BUNDLED = REPO / "cases" / "enterprise_first"
GATE = ("Multi-product deals pays only in a period where Enterprise bookings reaches 50% "
        "of quota")
RENEWAL = ("Renewal rate: curve: nothing below 90%, a step to 5% at 90%, rising to 15% at "
           "100%, rising to 20% at 110%, flat above")


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}\n{result.output}")
    assert result.exit_code == 0, result.output
    return result


def test_six_metric_written_plan_through_every_command(tmp_path: Path) -> None:
    """The bundled example (docs/examples/written_plan.toml) is never refused for being real."""
    case = load_case(BUNDLED)
    plan = load_plan(case, SIX)
    assert len(plan.metrics) == 6 and not plan.is_canonical(case)
    ev = evaluate_plan(case, compute_coefficients(case), plan)
    broken = [r.message for r in ev.broken_rules]
    assert "6 metrics, more than 3 ([design] max_metrics)" in broken

    out = invoke("evaluate", BUNDLED, SIX, "--out", tmp_path / "ev").output
    assert "written_plan breaks a design rule: 6 metrics, more than 3 ([design] max_metrics)" in out
    assert f"  {RENEWAL}" in out
    doc = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert doc["evaluation"]["expected_cost"] == pytest.approx(ev.expected_cost, rel=1e-12)
    assert doc["plan"]["metrics"][3]["curve"] == [[0.9, 0.0], [0.9, 0.05], [1.0, 0.15],
                                                   [1.1, 0.2]]
    assert doc["plan"]["metrics"][2]["gate"] == {"metric": "enterprise_bookings", "at": 0.5}

    invoke("compare", BUNDLED, "current", SIX, "--out", tmp_path / "cmp", "-q")
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert "written_plan" in table

    invoke("audit", BUNDLED, SIX, "--out", tmp_path / "audit", "-q")
    audit_md = (tmp_path / "audit" / "audit.md").read_text()
    assert "## Design rules the plan breaks" in audit_md
    assert "- 6 metrics, more than 3 (\\[design\\] max_metrics)" in audit_md
    audit_json = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert [m["id"] for m in audit_json["metrics"]] == [m.id for m in plan.metrics]
    assert any(GATE.split(" pays")[1] in note for note in audit_json["written"])

    invoke("report", BUNDLED, SIX, "--compare", "current", "--out", tmp_path / "r.html", "-q")
    html = (tmp_path / "r.html").read_text()
    assert f"<figcaption>{GATE}.</figcaption>" in html
    assert "breaks design rules" in html

    invoke("export", BUNDLED, SIX, "--xlsx", tmp_path / "p.xlsx", "-q")
    sheet = pd.read_excel(tmp_path / "p.xlsx", sheet_name="Plan")
    assert list(sheet["metric"]) == [m.id for m in plan.metrics]
    assert sheet["as written"][3] == RENEWAL.split(": ", 1)[1]
    assert sheet["as written"].isna()[1]  # smb_bookings is on the case's own curve

    invoke("explain", SIX, "--case", BUNDLED, "--out", tmp_path / "ex", "-q")
    md = (tmp_path / "ex" / "plan_explained.md").read_text()
    assert ("Pays by its curve: nothing below 90%, a step to 5% at 90%, rising to 15% at "
            "100%, rising to 20% at 110%, flat above.") in md
    assert "It pays only in a period where Enterprise bookings reaches 50% of quota." in md


def test_whatif_on_a_written_plan_is_refused_in_words(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["evaluate", str(BUNDLED), str(SIX), "--set",
                                       "weight.new_logos=0.2", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: what-if modifiers apply to plans on the case's own curves; "
        "'enterprise_bookings' is written with its own threshold or cap: evaluate the plan "
        "without --set and --shift\n")


def test_a_label_in_a_plan_file_is_honoured(make_case: MakeCase) -> None:
    folder = make_case(TABLES, REPS, ATTAINMENT)
    (folder / "plan.toml").write_text('[[metrics]]\nid = "a"\nlabel = "Bookings"\nweight = 1.0\n'
                                      "accelerator_rate = 2.0\n")
    plan = load_plan(load_case(folder), folder / "plan.toml")
    assert [m.label for m in plan.metrics] == ["Bookings"]


def test_explain_a_json_plan_with_a_curve_and_a_gate_without_its_case(tmp_path: Path) -> None:
    doc = {"metrics": [{"id": "a", "label": "Bookings",
                        "curve": [[0.5, 0.0], [1.0, 1.0], [1.0, 1.2]],
                        "gate": {"metric": "b", "at": 0.8}}]}
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    invoke("explain", tmp_path / "plan.json", "--out", tmp_path / "ex", "-q")
    md = (tmp_path / "ex" / "plan_explained.md").read_text()
    assert ("Pays by its curve: nothing below 50%, rising to 100% at 100%, a step to 120% at "
            "100%, flat above. It pays only in a period where b reaches 80% of quota.") in md


def test_write_plan_reads_back_the_same(tmp_path: Path) -> None:
    invoke("evaluate", BUNDLED, SIX, "--out", tmp_path / "e1", "--write-plan",
           tmp_path / "back.toml", "-q")
    text = (tmp_path / "back.toml").read_text()
    assert 'gate = { metric = "enterprise_bookings", at = 0.5 }' in text
    assert "threshold = 0.6\n" in text and "cap = 1.25\n" in text
    invoke("evaluate", BUNDLED, tmp_path / "back.toml", "--out", tmp_path / "e2", "-q")
    first, second = (json.loads((tmp_path / e / "evaluation.json").read_text())["evaluation"]
                     for e in ("e1", "e2"))
    assert first == second


def test_whatif_keeps_the_metrics_of_a_canonical_plan_with_more_than_three(
        tmp_path: Path) -> None:
    four = tmp_path / "four.toml"
    four.write_text("".join(f'[[metrics]]\nid = "{k}"\nweight = 0.25\naccelerator_multiple = 1.0\n'
                            for k in ("enterprise_bookings", "smb_bookings", "new_logos",
                                      "renewal_rate")))
    out = invoke("evaluate", BUNDLED, four, "--shift", "0.1:smb_bookings->new_logos",
                 "--out", tmp_path / "e").output
    assert "what-if breaks a design rule: 4 metrics, more than 3 ([design] max_metrics)" in out


def test_a_bad_written_plan_exits_2_naming_file_entry_and_point(make_case: MakeCase,
                                                                tmp_path: Path) -> None:
    folder = make_case(TABLES, REPS, ATTAINMENT)
    (folder / "current_plan.toml").write_text(
        '[[metrics]]\nid = "b"\nweight = 1.0\naccelerator_rate = 1.0\n\n'
        '[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], [1.0, 0.5], [1.5, 0.4]]\n')
    result = CliRunner().invoke(main, ["evaluate", str(folder), "current",
                                       "--out", str(tmp_path / "e")])
    assert result.exit_code == 2
    assert result.output == (
        "Error: current_plan.toml, [[metrics]] #2: metric 'a', curve point #3 [1.5, 0.4]: "
        "share 0.4 is below the previous point's 0.5 (pay never falls as attainment rises)\n")


def test_explain_examples_apply_the_gate(make_case: MakeCase, tmp_path: Path) -> None:
    """a pays by its curve only where b >= 1.2; b pays 0.5 + 1 per unit above 100 %.

    At 100 % on both the gate is shut: only b pays 0.5 of the target 1000 (the median
    target incentive): 500, not "your target incentive". At 120 % on a and 90 % on b:
    shut, b pays 0.5 * 0.4 / 0.5 = 0.4: 400. At 80 %: 0.5 * 0.3 / 0.5 = 0.3: 300.
    """
    folder = make_case(TABLES, REPS, ATTAINMENT)
    (folder / "gated.toml").write_text(
        '[[metrics]]\nid = "a"\ncurve = [[0.5, 0.0], [1.0, 0.5], [2.0, 1.5]]\n'
        'gate = { metric = "b", at = 1.2 }\n\n'
        '[[metrics]]\nid = "b"\nweight = 0.5\naccelerator_rate = 1.0\n')
    result = CliRunner().invoke(main, ["explain", str(folder / "gated.toml"), "--case",
                                       str(folder), "--out", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "x" / "plan_explained.md").read_text()
    assert "- At 100% of quota on every metric you earn 500 USD.\n" in md
    assert "- At 120% on a and 90% on b, you earn 400 USD.\n" in md
    assert "- At 80% on every metric you earn 300 USD.\n" in md
