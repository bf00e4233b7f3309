"""A case from transactions with [response] (MODEL.md sections 10 and 11), by hand.

Section 10's volume change uses each period's own quota for a case from transactions:
``(lambda_m - 1) * sum_r mean_s Q[r,m,s] x[r,m,s]``, and ``Q x`` is the metric's own
total in the period, so the volume is each rep's mean recorded total per period.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from ledger_helpers import CASE_TOML, write_mini

import compplan
from compplan.errors import CaseError
from compplan.models.case import load_case

RESPONSE = """
[response]
baseline = "current_plan.toml"
elasticity = 0.3
"""
BASELINE = '[[metrics]]\nid = "bookings"\nweight = 1.0\naccelerator_rate = 1.0\n'
PLAN = ('[[metrics]]\nid = "bookings"\nweight = 0.5\naccelerator_rate = 0.5\n\n'
        '[[metrics]]\nid = "deals"\nweight = 0.5\naccelerator_rate = 0.5\n')


def response_mini(folder: Path) -> Path:
    case = CASE_TOML.replace('alignment = { growth = 1.0 }\n',
                             'alignment = { growth = 1.0 }\nvalue = 0.1\n', 1)
    case = case.replace('alignment = { growth = 0.5 }\n',
                        'alignment = { growth = 0.5 }\nvalue = 2.0\n', 1)
    write_mini(folder, case=case + RESPONSE)
    (folder / "current_plan.toml").write_text(BASELINE)
    (folder / "plan.toml").write_text(PLAN)
    return folder


def test_values_use_each_periods_own_quota(tmp_path: Path) -> None:
    folder = response_mini(tmp_path / "m")
    case = load_case(folder)
    assert case.baseline is not None
    ev = compplan.evaluate(case, folder / "plan.toml")
    figs = ev.response
    assert figs is not None
    # Bookings recorded: R1 600 (Jan), 900 (Feb); R2 1000, 1300 -> means 750 + 1150.
    # Deals recorded (every kind): R1 2, 1; R2 1, 2 -> means 1.5 + 1.5.
    lam = figs.multipliers
    assert figs.outcomes["bookings"]["volume_change"] == pytest.approx(
        (lam["bookings"] - 1.0) * 1900.0, rel=1e-12)
    assert figs.outcomes["deals"]["volume_change"] == pytest.approx(
        (lam["deals"] - 1.0) * 3.0, rel=1e-12)
    assert figs.outcomes["bookings"]["value_change"] == pytest.approx(
        0.1 * (lam["bookings"] - 1.0) * 1900.0, rel=1e-12)
    # The plan moves pay from bookings to deals: bookings falls, deals rises.
    assert lam["bookings"] < 1.0 < lam["deals"]
    value = sum(o["value_change"] for o in figs.outcomes.values())
    assert figs.net_value == pytest.approx(value - (ev.expected_cost - figs.baseline_cost),
                                           rel=1e-12)


def test_a_case_from_frames_cannot_read_a_baseline(tmp_path: Path) -> None:
    folder = response_mini(tmp_path / "m")
    frames = {name: pd.read_csv(folder / f"{name}.csv")
              for name in ("reps", "deals", "quota_plan")}
    with pytest.raises(CaseError, match=r"\[response\] baseline.*built from DataFrames"):
        compplan.Case.from_frames((folder / "case.toml").read_text(), frames["reps"],
                                  transactions=frames["deals"],
                                  quota_plan=frames["quota_plan"])
