"""``compplan pulse ORG_DIR``: every role's pulse, the organisation's totals, the joint re-tune.

The set-up of org_helpers.py (theta 0.5, cap 2, step 0.5, accelerator multiple fixed at
1 so ``u = 2 w``), two roles of two reps with target 1000 (``TI_p = 2000``, shares 0.5):

- sales: metric p at attainment 1.5 (pays ``2 w_p``, alignment 1.0), q at 1.0 (pays
  ``w_q``, alignment 0.5);
- mkt: metric r at 1.5 (pays ``2 w_r``, alignment 0.2), s at 1.0 (pays ``w_s``,
  alignment 0.1).

Weights from 0.2 to 0.8. A step adds ``U = w`` of target on every metric, so a role's
alignment is ``sum_m a_m w_m`` and, with ``w_p + w_q = 1``, its expected cost
``2000 (1 + w_p)`` per period (mkt likewise with ``w_r``).

Plans in force: sales p 0.8 / q 0.2 (cost 3600, alignment 0.9), mkt r 0.5 / s 0.5 (cost
3000, alignment 0.15): ``E[T_org] = 6600``, organisation alignment
``0.5 * 0.9 + 0.5 * 0.15 = 0.525``. Actuals: the history again, 2 elapsed periods of
``N = 4`` (--year-periods 4): ``A_org = 2 * 6600 = 13200`` = expected to date;
forecast ``13200 + 2 * 6600 = 26400``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from org_helpers import metric, role_case, write_org
from test_pulse import assert_exit, invoke

DESIGN = {"min_weight": 0.2, "max_weight": 0.8}
PLANS = {"sales": {"p": 0.8, "q": 0.2}, "mkt": {"r": 0.5, "s": 0.5}}


def close(value: Any) -> Any:
    return pytest.approx(value, rel=1e-6, abs=1e-6)


def tiny_org(folder: Path, cap: float | None, goals: dict[str, float] | None = None,
             coherence: dict[str, Any] | None = None) -> Path:
    roles = {"sales": ({"p": metric({"g": 1.0}), "q": metric({"g": 0.5})},
                       {"p": 1.5, "q": 1.0}),
             "mkt": ({"r": metric({"g": 0.2}), "s": metric({"g": 0.1})}, {"r": 1.5, "s": 1.0})}
    for rid, (metrics, attainment) in roles.items():
        case = role_case(folder / rid, rid, metrics, attainment, design=DESIGN)
        (case / "current_plan.toml").write_text("".join(
            f'[[metrics]]\nid = "{k}"\nweight = {w}\naccelerator_rate = {2 * w}\n\n'
            for k, w in PLANS[rid].items()))
        actuals = folder / "actuals"
        actuals.mkdir(exist_ok=True)
        text = (case / "attainment.csv").read_text()
        (actuals / f"{rid}.csv").write_text(text)
    write_org(folder, goals or {"g": 1.0}, {"sales": {"path": "sales"}, "mkt": {"path": "mkt"}},
              budget={"expected_cap": cap} if cap is not None else None, coherence=coherence)
    return folder


def run(folder: Path, *extra: str) -> Any:
    return invoke("pulse", str(folder), "current", "--actuals", str(folder / "actuals"),
                  "--year-periods", "4", "--out", str(folder / "out"), "-q", *extra)


def org_doc(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "out" / "org_pulse.json").read_text())


def test_joint_retune_cuts_the_least_aligned_weight_first(tmp_path: Path) -> None:
    # B_org = 6000: the year's budget 24000, B_org_rem = (24000 - 13200) / 2 = 5400, so
    # 2000 (1 + w_p) + 2000 (1 + w_r) <= 5400: w_p + w_r <= 0.7, down from 1.3. Moving
    # weight d from p to q (or r to s) changes w by 2d and u by 4d: the least change is
    # 6 * 0.6 = 3.6 however the cut is split. Org alignment loses 0.5 (1 - 0.5) = 0.25
    # per unit moved in sales, 0.5 (0.2 - 0.1) = 0.05 in mkt: cut mkt to its floor
    # (r 0.2, d = 0.3), then sales by the rest (p 0.5). Alignment 0.5 (0.5 + 0.25) +
    # 0.5 (0.04 + 0.08) = 0.435; cost 3000 + 2400 = 5400.
    folder = tiny_org(tmp_path, 6000.0)
    assert_exit(run(folder), 0)
    doc = org_doc(folder)
    assert doc["schema"] == "compplan.org_pulse/1"
    assert (doc["periods_elapsed"], doc["periods_in_year"]) == (2, 4)
    assert doc["paid_to_date"] == pytest.approx(13200.0)
    assert doc["expected_to_date"] == pytest.approx(13200.0)
    assert doc["forecast_year_total"] == pytest.approx(26400.0)
    assert doc["year_budget"] == pytest.approx(24000.0)
    assert doc["remaining_cap_per_period"] == pytest.approx(5400.0)
    rt = doc["retune"]
    assert rt["change"] == close(3.6)
    assert rt["alignment"] == close(0.435)
    assert rt["alignment_before"] == close(0.525)
    assert rt["expected_cost"] == close(5400.0)
    assert rt["expected_cost_before"] == close(6600.0)
    got = {(r["id"], m["id"]): (m["weight"], m["accelerator_rate"])
           for r in rt["roles"] for m in r["retune"]["metrics"]}
    assert got == {("sales", "p"): close((0.5, 1.0)), ("sales", "q"): close((0.5, 1.0)),
                   ("mkt", "r"): close((0.2, 0.4)), ("mkt", "s"): close((0.8, 1.6))}
    # Each role's own pulse: its figures and its part of the joint re-tune.
    roles = {r["role"]: r for r in doc["roles"]}
    assert roles["sales"]["paid_to_date"] == pytest.approx(7200.0)
    assert roles["mkt"]["forecast_year_total"] == pytest.approx(12000.0)
    # Within the alignment's tie tolerance (1e-7) the split may move ~1e-6 of weight.
    assert roles["mkt"]["retune"]["change"] == pytest.approx(1.8, abs=1e-5)
    for rid in ("sales", "mkt"):
        role = json.loads((folder / "out" / rid / "pulse.json").read_text())
        assert role["retune"]["change"] == pytest.approx(1.8, abs=1e-5)
        assert (folder / "out" / rid / "pulse.md").is_file()
    text = (folder / "out" / "org_pulse.md").read_text()
    assert "The least total change over all roles that keeps the year inside every cap " \
           "and rule: 3.6000." in text


def test_plans_that_fit_are_kept(tmp_path: Path) -> None:
    # B_org = 7000: B_org_rem = (28000 - 13200) / 2 = 7400 >= 6600: nothing changes.
    folder = tiny_org(tmp_path, 7000.0)
    assert_exit(run(folder), 0)
    rt = org_doc(folder)["retune"]
    assert rt["unchanged"] and rt["change"] == 0.0
    assert rt["alignment"] == pytest.approx(0.525)


def test_beyond_repair_exits_3_with_the_smallest_org_budget(tmp_path: Path) -> None:
    # B_org = 4000: B_org_rem = (16000 - 13200) / 2 = 1400; the cheapest plans with these
    # metrics (p and r at 0.2) cost 2 * 2000 * 1.2 = 4800 a period: the year needs
    # 13200 + 2 * 4800 = 22800, an expected_cap of 22800 / 4 = 5700.
    folder = tiny_org(tmp_path, 4000.0)
    result = run(folder)
    assert_exit(result, 3)
    assert "no joint re-tune with the roles' metrics saves the year" in result.stderr
    assert (folder / "out" / "infeasibility.json").is_file()
    assert "the cheapest plans with these metrics are expected to pay 4,800.00 USD per " \
           "period. The smallest organisation [budget] expected_cap that saves the year " \
           "is 5,700.00 USD (org.toml's is 4,000.00)" in result.stderr
    doc = org_doc(folder)
    assert doc["status"] == "infeasible" and doc["retune"] is None


def test_beyond_repair_at_any_budget_names_the_rule(tmp_path: Path) -> None:
    # A second goal h that no metric of the plans serves, with cover_goals: no plans with
    # these metrics exist at any budget, and cover_goals on h is the rule they break.
    folder = tiny_org(tmp_path, 6000.0, goals={"g": 1.0, "h": 0.5},
                      coherence={"cover_goals": True})
    result = run(folder)
    assert_exit(result, 3)
    assert "the organisation's cap is not the cause: no such plans exist at any organisation " \
           "budget; a smallest set of rules no plans with these metrics meet (others may " \
           "fail too): cover_goals on goal 'h'" in result.stderr


def test_no_org_cap_no_remaining_cap(tmp_path: Path) -> None:
    folder = tiny_org(tmp_path, None)
    assert_exit(run(folder), 0)
    doc = org_doc(folder)
    assert doc["remaining_cap_per_period"] is None and doc["retune"]["unchanged"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda a: (a / "mkt.csv").unlink(),
     "mkt.csv: is missing: every role needs its actuals (sales.csv, mkt.csv; CSV or "
     "Parquet) in the folder given to --actuals"),
    (lambda a: (a / "marketing.csv").write_text("rep_id,period\n"),
     "marketing.csv: names no role of the organisation (roles: sales, mkt); name each "
     "role's actuals <role id>.csv or <role id>.parquet"),
    (lambda a: (a / "mkt.csv").write_text(
        (a / "mkt.csv").read_text().replace("P02", "P09")),
     "mkt.csv: covers the periods P01, P09 but sales.csv covers P01, P02; every role's "
     "actuals cover the same elapsed periods of the plan year"),
    (lambda a: (a / "sales.csv").write_text(
        (a / "sales.csv").read_text().replace(",q", ",x")),
     "sales.csv, line 1: has no column for metric 'q'"),
])
def test_bad_org_actuals_exit_2(tmp_path: Path, change: Any, message: str) -> None:
    folder = tiny_org(tmp_path, 6000.0)
    change(folder / "actuals")
    result = run(folder)
    assert_exit(result, 2)
    assert message in result.stderr
    assert not (folder / "out").exists()


def test_org_actuals_must_be_a_folder(tmp_path: Path) -> None:
    folder = tiny_org(tmp_path, 6000.0)
    result = invoke("pulse", str(folder), "current", "--actuals",
                    str(folder / "actuals" / "sales.csv"), "--out", str(folder / "out"))
    assert_exit(result, 2)
    assert "for an organisation give a folder holding one file per role (sales.csv, " \
           "mkt.csv; CSV or Parquet)" in result.stderr


def test_org_pulse_json_is_byte_identical_across_runs(tmp_path: Path) -> None:
    folder = tiny_org(tmp_path, 6000.0)
    assert_exit(run(folder), 0)
    first = (folder / "out" / "org_pulse.json").read_bytes()
    assert_exit(run(folder, "--force"), 0)
    assert (folder / "out" / "org_pulse.json").read_bytes() == first
