"""How HiGHS searches an organisation's joint MIP (issue 23).

The tie-break starts from the first solve's plan: HiGHS is handed the alignment
solve's plan before the tie-break's run, so that it begins with an incumbent and only
has to prove there is none cheaper. The start must reach HiGHS, must be dropped when it
no longer fits the model, and must not change the answer beyond the solver's
tolerances. Each round of tail cuts starts from the last round's plan where the model
asks for it (an organisation's does). And the joint model branches on pseudo-costs from
the first node (its own options over the solver's defaults), while one case's model
keeps the defaults.
"""

from __future__ import annotations

from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
import pytest
from conftest import CONFORMANCE, DATA

from compplan.models.org import load_org
from compplan.optimizer import solve as solve_module
from compplan.optimizer.model import PlanModel
from compplan.optimizer.org import OrgModel, org_coefficients, solve_org
from compplan.optimizer.solve import Status

ORGS = [CONFORMANCE / "c5_org", DATA.parent.parent / "cases" / "gtm_org"]


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[list[float]]:
    """Every start handed to HiGHS, in order."""
    seen: list[list[float]] = []
    original = highspy.Highs.setSolution

    def spy(self: highspy.Highs, *args: Any) -> Any:
        seen.append(list(args[0].col_value))
        return original(self, *args)

    monkeypatch.setattr(highspy.Highs, "setSolution", spy)
    return seen


@pytest.mark.parametrize("folder", ORGS, ids=lambda p: p.name)
def test_the_tie_break_starts_from_the_alignment_optimum(folder: Any,
                                                         starts: list[list[float]]) -> None:
    org = load_org(folder)
    result = solve_org(org, org_coefficients(org))
    assert result.status is Status.OPTIMAL
    # One start, for the tie-break; the alignment solve starts cold.
    assert len(starts) == 1
    assert len(starts[0]) == result.columns


@pytest.mark.parametrize("folder", ORGS, ids=lambda p: p.name)
def test_a_started_tie_break_finds_the_same_plans(folder: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    org = load_org(folder)
    coeffs = org_coefficients(org)
    started = solve_org(org, coeffs)
    monkeypatch.setattr(solve_module.CutLoop, "start_from_last", lambda self: None)
    cold = solve_org(org, coeffs)
    for rid, plan in cold.roles.items():
        assert plan.w is not None and plan.u is not None and plan.z is not None
        other = started.roles[rid]
        assert np.array_equal(plan.z, other.z), rid
        np.testing.assert_allclose(other.w, plan.w, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(other.u, plan.u, rtol=1e-9, atol=1e-12)


def small_model() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Binary)
    m.y = pyo.Var(bounds=(0, 4))
    m.c = pyo.Constraint(expr=m.y <= 3 * m.x + 0.5)
    m.o = pyo.Objective(expr=m.y + m.x, sense=pyo.maximize)
    return m


def test_a_start_that_no_longer_fits_the_model_is_dropped(starts: list[list[float]]) -> None:
    solver = solve_module._Highs()
    m = small_model()
    assert solver.incumbent() is None  # nothing solved yet
    solver.solve(m)
    # In HiGHS's column order: Pyomo passes y first (the first to appear in a row).
    assert solver.incumbent() == pytest.approx([3.5, 1.0])
    solver.start = [3.5, 1.0, 0.0]  # a column too many
    solver.solve(m)
    assert starts == [] and solver.start is None
    solver.start = [3.5, 1.0]
    solver.solve(m)
    assert starts == [[3.5, 1.0]] and solver.start is None  # handed once
    assert pyo.value(m.o) == pytest.approx(4.5)


def test_an_organisation_branches_on_pseudo_costs_and_a_case_keeps_the_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from compplan.models.case import load_case
    from compplan.optimizer.coefficients import compute_coefficients
    from compplan.optimizer.solve import solve

    seen: list[dict[str, Any]] = []
    original = solve_module._Highs._solve

    def spy(self: Any) -> Any:
        seen.append(dict(self._active_config.solver_options))
        return original(self)

    monkeypatch.setattr(solve_module._Highs, "_solve", spy)
    org = load_org(ORGS[0])
    assert solve_org(org, org_coefficients(org)).status is Status.OPTIMAL
    assert seen and all(o["mip_pscost_minreliable"] == 0 for o in seen)
    assert all(o["mip_feasibility_tolerance"] == 1e-9 for o in seen)  # the defaults stay
    seen.clear()
    assert OrgModel(pyo.ConcreteModel()).start_rounds  # and its rounds of cuts start warm
    assert not PlanModel(pyo.ConcreteModel()).start_rounds
    case = load_case(DATA.parent.parent / "cases" / "enterprise_first")
    assert solve(case, compute_coefficients(case)).status is Status.OPTIMAL
    assert seen and all("mip_pscost_minreliable" not in o for o in seen)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rounds_of_tail_cuts_start_from_the_last_round_where_the_model_asks(
        make_case: Any, seed: int, starts: list[list[float]]) -> None:
    from test_tails import random_case

    from compplan.models.case import load_case
    from compplan.optimizer.coefficients import compute_coefficients
    from compplan.optimizer.model import create_model

    case = load_case(random_case(make_case, seed))
    coeffs = compute_coefficients(case)
    results = {}
    for started in (False, True):
        starts.clear()
        plan = create_model(case, coeffs, tail_method="cuts")
        plan.start_rounds = started
        loop = solve_module.CutLoop(plan, None, None)
        status, _, _ = loop.run()
        assert status is Status.OPTIMAL
        # A start before every round after the first, none without the model asking.
        assert len(starts) == (loop.rounds - 1 if started else 0)
        results[started] = (float(pyo.value(plan.model.alignment)), loop.rounds)
    assert results[True][1] >= 2  # the case needs rounds of cuts
    assert results[True][0] == pytest.approx(results[False][0], rel=1e-9)
