"""The incentive-conflict test (optimizer/audit.py, ``compplan audit``), figures by hand.

Shared set-up unless a test says otherwise: one rep, one period, every metric with
threshold 0.5, cap 2.0 and step 0.2, so below target phi(x) = (x - 0.5) / 0.5 and
above it psi(x) = x - 1 (up to 1). Goals g1 = 2, g2 = 1, g3 = 1 normalise to
priorities 0.5, 0.25, 0.25; a = sum_g pi_g A[m, g]:

    a: A = {g1: 1.0}            a = 0.5                    x = 1.2
    b: A = {g1: -0.6, g2: 0.8}  a = -0.3 + 0.2 = -0.1      x = 0.8
    c: A = {g1: 0.6, g2: -0.4}  a = 0.3 - 0.1 = 0.2        x = 1.9
    d: A = {g3: 0.2}            a = 0.05                   x = 1.0
    e: A = {g3: 1.0, g1: 0.2}   a = 0.25 + 0.1 = 0.35      x = 1.0
    f: A = {g3: 0.5, g1: -1.0}  a = 0.125 - 0.5 = -0.375   x = 1.0
    h: A = {g3: 0.4}            a = 0.1                    x = 1.0
    k: A = {g3: 0.1}            a = 0.025                  x = 1.0
    z: A = {g3: 0.9}, forbidden                            x = 1.0

One step of 0.2 pays: on a (x 1.2) psi 0.2 -> 0.4, so U = 0.2 u; on b (x 0.8) phi
0.6 -> 1.0, so U = 0.4 w; on c (x 1.9) psi 0.9 -> 1.0 (the cap), so U = 0.1 u; on d
(x 1.0) psi 0 -> 0.2, so U = 0.2 u.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_exit, invoke

from compplan.models.case import Case, load_case
from compplan.models.plan import load_plan
from compplan.optimizer.audit import Audit, audit_plan, verdict
from compplan.render.audit import audit_markdown, summary_lines

MakeCase = Callable[..., Path]
ALIGNMENT = {"a": {"g1": 1.0}, "b": {"g1": -0.6, "g2": 0.8}, "c": {"g1": 0.6, "g2": -0.4},
             "d": {"g3": 0.2}, "e": {"g3": 1.0, "g1": 0.2}, "f": {"g3": 0.5, "g1": -1.0},
             "h": {"g3": 0.4}, "k": {"g3": 0.1}, "z": {"g3": 0.9}}
X = {"a": 1.2, "b": 0.8, "c": 1.9, "d": 1.0, "e": 1.0, "f": 1.0, "h": 1.0, "k": 1.0, "z": 1.0}
# Plan 1: a, b, c. U = 0.2 * 1.0, 0.4 * 0.3, 0.1 * 0.8 = 0.2, 0.12, 0.08; total 0.4.
PLAN_1 = [("a", 0.5, 1.0), ("b", 0.3, 0.6), ("c", 0.2, 0.8)]
# Plan 2: a, d. U = 0.2 * 1.0, 0.2 * 0.4 = 0.2, 0.08; total 0.28.
PLAN_2 = [("a", 0.8, 1.0), ("d", 0.2, 0.4)]


def plan_toml(metrics: list[tuple[str, float, float]]) -> str:
    return "".join(f'[[metrics]]\nid = "{m}"\nweight = {w}\naccelerator_rate = {u}\n\n'
                   for m, w, u in metrics)


def tables() -> dict[str, dict[str, Any]]:
    spec: dict[str, dict[str, Any]] = {"case": {"name": "Audit", "currency": "EUR"},
                                       "goals": {"g1": 2.0, "g2": 1.0, "g3": 1.0}}
    for m, alignment in ALIGNMENT.items():
        spec[f"metrics.{m}"] = {"label": m.upper(), "threshold": 0.5, "cap": 2.0,
                                "alignment": alignment, "step": 0.2,
                                **({"forbidden": True} if m == "z" else {})}
    return spec


@pytest.fixture
def case_dir(make_case: MakeCase) -> Path:
    folder = make_case(tables(), [{"rep_id": "R1", "target_incentive": 1000.0}],
                       {m: [[x]] for m, x in X.items()})
    (folder / "current_plan.toml").write_text(plan_toml(PLAN_1))
    (folder / "plan2.toml").write_text(plan_toml(PLAN_2))
    return folder


def run_audit(folder: Path, ref: str = "current") -> Audit:
    case: Case = load_case(folder)
    return audit_plan(case, load_plan(case, ref), ref)


def approx(value: Any) -> Any:
    return pytest.approx(value, rel=1e-12, abs=1e-12)


# ------------------------------------------------------------------------ figures

def test_metric_figures(case_dir: Path) -> None:
    audit = run_audit(case_dir)
    got = {m.id: (m.goal_alignment, m.marginal_incentive, m.incentive_share,
                  m.alignment_contribution) for m in audit.metrics}
    # Contributions a * rho * U: 0.5 * 0.2, -0.1 * 0.12, 0.2 * 0.08.
    assert got == {"a": approx((0.5, 0.2, 0.5, 0.1)), "b": approx((-0.1, 0.12, 0.3, -0.012)),
                   "c": approx((0.2, 0.08, 0.2, 0.016))}
    assert audit.total_marginal_incentive == approx(0.4)
    assert audit.alignment == approx(0.104)
    assert audit.metric("b").alignment == {"g1": -0.6, "g2": 0.8, "g3": 0.0}


def test_verdicts(case_dir: Path) -> None:
    audit = run_audit(case_dir)
    assert [(m.id, m.verdict, m.against) for m in audit.metrics] == [
        ("a", "serves the strategy", ()),
        ("b", "undermines the strategy", ("g1",)),
        ("c", "works against g2", ("g2",))]


@pytest.mark.parametrize(("a", "against", "expected"), [
    (-0.001, (), "undermines the strategy"),
    (-0.2, ("g1", "g2"), "undermines the strategy"),
    (0.5, ("g2",), "works against g2"),
    (0.0, ("g1", "g2", "g3"), "works against g1, g2 and g3"),
    (0.0, (), "neutral"),
    (0.0999, (), "neutral"),
    (0.1, (), "serves the strategy"),
])
def test_verdict_thresholds(a: float, against: tuple[str, ...], expected: str) -> None:
    assert verdict(a, against) == expected


def test_against_shares(case_dir: Path) -> None:
    audit = run_audit(case_dir)
    # a < 0 only for b: 0.12 / 0.4. Against g1 (A < 0): b; against g2: c (0.08 / 0.4).
    assert audit.against_strategy_share == approx(0.3)
    assert {g.id: g.against_share for g in audit.goals} == {
        "g1": approx(0.3), "g2": approx(0.2), "g3": 0.0}


def test_goals_paid_for_and_not(case_dir: Path) -> None:
    audit = run_audit(case_dir)
    # Net sum_m A[m, g] U_m: g1 0.2 - 0.6 * 0.12 + 0.6 * 0.08 = 0.176; g2 0.8 * 0.12 -
    # 0.4 * 0.08 = 0.064; g3 0: no metric of the plan serves it.
    assert {g.id: (g.priority, g.net_incentive) for g in audit.goals} == {
        "g1": approx((0.5, 0.176)), "g2": approx((0.25, 0.064)), "g3": approx((0.25, 0.0))}
    assert [g.id for g in audit.not_paid_for] == ["g3"]
    # Best first by A[m, g3]: z (0.9) is forbidden, f (0.5) undermines the strategy
    # (a < 0); then e 1.0, h 0.4, d 0.2; k (0.1) is the fourth and left out.
    g3 = audit.not_paid_for[0]
    assert [(c.id, c.alignment, c.goal_alignment) for c in g3.candidates] == [
        ("e", 1.0, approx(0.35)), ("h", 0.4, approx(0.1)), ("d", 0.2, approx(0.05))]
    assert all(not g.candidates for g in audit.goals if g.paid_for)


def test_pays_for_what_is_not_asked(case_dir: Path) -> None:
    assert [m.id for m in run_audit(case_dir).pays_for_unasked] == ["b"]
    # Plan 2: d (a = 0.05) is neutral; its share 0.08 / 0.28 = 2/7. It serves g3 (0.2 *
    # 0.08 = 0.016 > 0) and nothing works against any goal; but nothing serves g2, and the
    # one metric that would (b) undermines the strategy, so none is suggested.
    audit = run_audit(case_dir, str(case_dir / "plan2.toml"))
    assert [(m.id, m.verdict, m.incentive_share) for m in audit.metrics] == [
        ("a", "serves the strategy", approx(0.2 / 0.28)), ("d", "neutral", approx(2 / 7))]
    assert [m.id for m in audit.pays_for_unasked] == ["d"]
    assert [(g.id, g.net_incentive, g.candidates) for g in audit.not_paid_for] == [
        ("g2", 0.0, ())]
    assert audit.against_strategy_share == 0.0
    assert summary_lines(audit) == [
        "0.0% of the plan's marginal incentive goes to metrics that undermine the strategy "
        "(a < 0)",
        "no metric of the plan works against any goal",
        "pays for what the strategy does not ask for (a < 0.1): D (a = 0.050, 28.6% of the "
        "marginal incentive)",
        "does not pay for g2 (priority 25.0%, net incentive +0.0000); no candidate metric "
        "outside the plan can serve it"]


def test_summary_lines(case_dir: Path) -> None:
    assert summary_lines(run_audit(case_dir)) == [
        "30.0% of the plan's marginal incentive goes to metrics that undermine the strategy "
        "(a < 0)",
        "against each goal: g1 30.0%; g2 20.0%",
        "pays for what the strategy does not ask for (a < 0.1): B (a = -0.100, 30.0% of the "
        "marginal incentive)",
        "does not pay for g3 (priority 25.0%, net incentive +0.0000); candidates that serve "
        "it best: E (A = +1.00, a = 0.350); H (A = +0.40, a = 0.100); D (A = +0.20, a = 0.050)"]


def test_marginal_incentive_weighs_reps_by_target_and_averages_periods(
        make_case: MakeCase) -> None:
    # w = 1, u = 1, step 0.2. R1 (TI 1000): period 1 at 1.2 gains psi 0.2, period 2 at
    # 0.8 gains phi 0.4: mean 0.3. R2 (TI 3000) at 1.9 gains psi 0.1 (capped) in both.
    # U = (1000 * 0.3 + 3000 * 0.1) / 4000 = 0.15.
    folder = make_case({"goals": {"g1": 1.0},
                        "metrics.a": {"threshold": 0.5, "cap": 2.0, "alignment": {"g1": 1.0},
                                      "step": 0.2}},
                       [{"rep_id": "R1", "target_incentive": 1000.0},
                        {"rep_id": "R2", "target_incentive": 3000.0}],
                       {"a": [[1.2, 0.8], [1.9, 1.9]]})
    (folder / "current_plan.toml").write_text(plan_toml([("a", 1.0, 1.0)]))
    audit = run_audit(folder)
    assert audit.metrics[0].marginal_incentive == approx(0.15)
    assert audit.mean_target_incentive == 2000.0


def test_plan_that_pays_nothing_at_the_margin(make_case: MakeCase) -> None:
    # x = 3 is above the cap: a step moves no pay, U = 0; shares are 0, not NaN, and
    # the goal counts as not paid for, with no candidate left to suggest.
    folder = make_case({"goals": {"g1": 1.0},
                        "metrics.a": {"threshold": 0.5, "cap": 2.0, "alignment": {"g1": 1.0},
                                      "step": 0.2}},
                       [{"rep_id": "R1", "target_incentive": 1000.0}], {"a": [[3.0]]})
    (folder / "current_plan.toml").write_text(plan_toml([("a", 1.0, 1.0)]))
    audit = run_audit(folder)
    assert (audit.total_marginal_incentive, audit.metrics[0].incentive_share) == (0.0, 0.0)
    assert summary_lines(audit)[-1] == ("does not pay for g1 (priority 100.0%, net incentive "
                                        "+0.0000); no candidate metric outside the plan can "
                                        "serve it")


def test_every_goal_paid_for(make_case: MakeCase) -> None:
    folder = make_case({"goals": {"g1": 1.0},
                        "metrics.a": {"threshold": 0.5, "cap": 2.0, "alignment": {"g1": 1.0},
                                      "step": 0.2}},
                       [{"rep_id": "R1", "target_incentive": 1000.0}], {"a": [[1.2]]})
    (folder / "current_plan.toml").write_text(plan_toml([("a", 1.0, 1.0)]))
    assert summary_lines(run_audit(folder))[-2:] == [
        "pays for nothing the strategy does not ask for",
        "every goal of the strategy is paid for"]


def test_goal_of_priority_zero_is_left_out(make_case: MakeCase) -> None:
    # g2 has priority 0: A = -1 on it is no conflict with the strategy.
    folder = make_case({"goals": {"g1": 1.0, "g2": 0.0},
                        "metrics.a": {"threshold": 0.5, "cap": 2.0, "step": 0.2,
                                      "alignment": {"g1": 0.5, "g2": -1.0}}},
                       [{"rep_id": "R1", "target_incentive": 1000.0}], {"a": [[1.2]]})
    (folder / "current_plan.toml").write_text(plan_toml([("a", 1.0, 1.0)]))
    audit = run_audit(folder)
    assert [g.id for g in audit.goals] == ["g1"]
    assert audit.metrics[0].verdict == "serves the strategy"


def test_markdown_and_json(case_dir: Path) -> None:
    audit = run_audit(case_dir)
    text = audit_markdown(audit)
    assert text.startswith("# Incentive audit: current of Audit\n")
    assert ("| B | 30.0% | -0.60 | +0.80 | +0.00 | -0.100 | 0.200 | 12.00% | 30.0% | "
            "undermines the strategy |") in text
    assert "| g3 | 25.0% | +0.0000 | 0.0% | NO |" in text
    doc = audit.to_dict()
    assert doc["schema"] == "compplan.audit/1"
    assert doc["pays_for_unasked"] == ["b"]
    assert doc["not_paid_for"] == ["g3"]
    assert [c["id"] for c in doc["goals"][2]["candidates"]] == ["e", "h", "d"]
    assert json.loads(json.dumps(doc)) == doc


def test_markdown_escapes_case_text(make_case: MakeCase) -> None:
    folder = make_case({"case": {"name": "Q|1 <b>"}, "goals": {"g1": 1.0},
                        "metrics.a": {"label": "*big* <script>", "threshold": 0.5,
                                      "cap": 2.0, "alignment": {"g1": 1.0}, "step": 0.2}},
                       [{"rep_id": "R1", "target_incentive": 1000.0}], {"a": [[1.2]]})
    (folder / "current_plan.toml").write_text(plan_toml([("a", 1.0, 1.0)]))
    text = audit_markdown(run_audit(folder))
    assert text.startswith("# Incentive audit: current of Q\\|1 \\<b\\>\n")
    assert "| \\*big\\* \\<script\\> | 100.0% |" in text
    assert "<script>" not in text


# ------------------------------------------------------------------------ command line


@pytest.mark.parametrize("plan", [[], ["current"]])
def test_cli_audits_the_current_plan_by_default(case_dir: Path, tmp_path: Path,
                                                plan: list[str]) -> None:
    out = tmp_path / "audit"
    result = invoke("audit", str(case_dir), *plan, "--out", str(out))
    assert_exit(result, 0)
    assert result.stdout.startswith("Audit: audit of the current plan\n")
    assert "  30.0% of the plan's marginal incentive goes to metrics that undermine the " \
           "strategy (a < 0)\n" in result.stdout
    assert result.stdout.endswith(f"wrote {out / 'audit.json'}, {out / 'audit.md'}\n")
    doc = json.loads((out / "audit.json").read_text())
    assert doc["plan"] == "the current plan"
    assert doc["against_strategy_share"] == approx(0.3)
    assert (out / "audit.md").read_text().startswith(
        "# Incentive audit: the current plan of Audit\n")


def test_cli_audits_a_plan_file_quietly(case_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    result = invoke("audit", str(case_dir), str(case_dir / "plan2.toml"), "--out", str(out),
                    "-q")
    assert_exit(result, 0)
    assert result.output == ""
    doc = json.loads((out / "audit.json").read_text())
    assert [m["verdict"] for m in doc["metrics"]] == ["serves the strategy", "neutral"]


def test_cli_audits_a_plan_json(case_dir: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"metrics": [
        {"id": m, "weight": w, "threshold": 0.5, "cap": 2.0, "accelerator_rate": u}
        for m, w, u in PLAN_1]}))
    out = tmp_path / "audit"
    assert_exit(invoke("audit", str(case_dir), str(plan), "--out", str(out), "-q"), 0)
    assert json.loads((out / "audit.json").read_text())["alignment"] == approx(0.104)


CLI_ERRORS = [
    pytest.param(lambda case, tmp: [str(case / "nowhere.json")],
                 "{case}/nowhere.json: is not a file (give a plan.json, a plan TOML file, "
                 "or 'current')", id="missing-plan"),
    pytest.param(lambda case, tmp: [_write(tmp / "bad.toml", plan_toml([("q", 1.0, 1.0)]))],
                 "bad.toml, [[metrics]] #1 id: 'q' is not a metric of the case (metrics: a, b, "
                 "c, d, e, f, h, k, z)", id="unknown-metric"),
    pytest.param(lambda case, tmp: [_write(tmp / "plan.json", "{}")],
                 "plan.json: is not a plan: it has no 'metrics' list (write one with "
                 "compplan optimise)", id="json-without-metrics"),
    pytest.param(lambda case, tmp: [_write(tmp / "plan.json", json.dumps({"metrics": [
                     {"id": "a", "weight": 1.0, "threshold": 0.3, "accelerator_rate": 1.0}]}))],
                 "plan.json, metrics #1 (a): threshold 0.3 differs from the case's 0.5: the "
                 "plan was made for another case", id="plan-of-another-case"),
    pytest.param(lambda case, tmp: _unlink(case / "current_plan.toml"),
                 "current_plan.toml: is not in the case folder {case}; give a plan file "
                 "instead of 'current'", id="no-current-plan"),
]


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _unlink(path: Path) -> list[str]:
    path.unlink()
    return []


@pytest.mark.parametrize(("args", "message"), CLI_ERRORS)
def test_cli_bad_plan(case_dir: Path, tmp_path: Path, args: Any, message: str) -> None:
    out = tmp_path / "audit"
    result = invoke("audit", str(case_dir), *args(case_dir, tmp_path), "--out", str(out))
    assert_exit(result, 2)
    assert result.stdout == ""
    assert result.stderr == f"Error: {message.format(case=case_dir)}\n"
    assert not out.exists()


def test_cli_case_missing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere"
    result = invoke("audit", str(path), "--out", str(tmp_path / "audit"))
    assert_exit(result, 2)
    assert result.stderr == (f"Error: {path}: is not a case folder (a folder holding "
                             "case.toml, reps.csv and attainment.csv)\n")


def test_cli_out_cannot_be_written(case_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = blocker / "audit"
    result = invoke("audit", str(case_dir), "--out", str(out))
    assert_exit(result, 2)
    assert result.stderr == (f"Error: cannot write to {out}: Not a directory; "
                             "no file was written\n")


def test_cli_needs_a_case() -> None:
    result = invoke("audit")
    assert_exit(result, 2)
    assert result.stderr.endswith("Error: Missing argument 'CASE'.\n")
