"""The organisation API with wrong types or values: UsageError, as the single-case API.

Each of these was once a TypeError, ValueError or numpy's DTypePromotionError, or was
accepted (a budget of "7e6", nan, -1, True or inf; a negative sweep factor solved a
negative cap; a sweep of 10**6 caps ran for ever) (issue 24).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFORMANCE

import compplan
from compplan.errors import UsageError

C1 = CONFORMANCE / "c1_budget_only"
C5 = CONFORMANCE / "c5_org"
ORG = "an Org (compplan.load_org) or an organisation folder (str or Path)"
PLANS = "'current' (each role's current_plan.toml) or an org_plan.json (str or Path)"
COUNT = ("count must be a whole number of caps from 1 to 100,000 (a batch holds at most "
         "100,000 candidates), got ")


@pytest.fixture(scope="module")
def org() -> Any:
    return compplan.load_org(C5)


def raises(message: str, call: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(UsageError) as err:
        call(*args, **kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize(("budget", "detail"), [
    ("7e6", "must be a number, got '7e6'"),
    (math.nan, "must be a finite number, got nan"),
    (math.inf, "must be a finite number, got inf"),
    (-1, "must be > 0.0, got -1"),
    (True, "must be a number, got True"),
    (1e308, "must be at most 1e15 (the largest amount of money compplan computes with, "
            "MODEL.md section 1), got 1e+308"),
])
def test_budgets_are_checked_alike_for_a_case_and_an_organisation(budget: Any,
                                                                  detail: str) -> None:
    message = f"override rejected: [budget] expected_cap: {detail}"
    raises(message, compplan.load_org, C5, budget=budget)
    raises(message, compplan.load_case, C1, budget=budget)


def test_a_budget_replaces_org_toml_s() -> None:
    assert compplan.load_org(C5, budget=7e6).spec.budget.expected_cap == 7e6


@pytest.mark.parametrize(("value", "shown"), [(None, "NoneType None"), (5, "int 5"),
                                              (b"org", "bytes b'org'")])
def test_load_org_of_what_is_not_a_folder(value: Any, shown: str) -> None:
    raises(f"org must be {ORG}, got {shown}", compplan.load_org, value)


def test_load_org_of_a_case_folder() -> None:
    raises(f"{C1} is a case folder (it holds case.toml), not an organisation folder (one "
           "holding org.toml); a single case is designed by compplan.optimise",
           compplan.load_org, C1)


@pytest.mark.parametrize("call", [compplan.optimise_org, compplan.min_budget_org,
                                  compplan.evaluate_org, compplan.audit_org])
def test_a_single_case_where_an_org_is_expected(call: Any) -> None:
    case = compplan.load_case(C1)
    raises(f"org must be {ORG}, got the case 'Budget only'; a single case is designed by "
           "compplan.optimise", call, case)
    raises(f"org must be {ORG}, got NoneType None", call, None)


@pytest.mark.parametrize(("options", "message"), [
    ({"time_limit": "5"}, "time_limit must be a finite number of seconds > 0 (or None), "
                          "got '5'"),
    ({"time_limit": math.nan}, "time_limit must be a finite number of seconds > 0 (or "
                               "None), got nan"),
    ({"time_limit": -1}, "time_limit must be a finite number of seconds > 0 (or None), "
                         "got -1"),
    ({"tail_method": "bogus"}, "tail_method must be 'auto', 'full' or 'cuts', got 'bogus'"),
])
def test_optimise_org_options(org: Any, options: dict[str, Any], message: str) -> None:
    raises(message, compplan.optimise_org, org, **options)
    if "time_limit" in options:
        raises(message, compplan.min_budget_org, org, **options)
        raises(message, compplan.sweep_org, org, 0.9, 1.1, 2, **options)


@pytest.mark.parametrize(("plans", "shown"), [(None, "NoneType None"), (5, "int 5"),
                                              ({}, "dict {}"), (3.5, "float 3.5")])
def test_evaluate_and_audit_org_plans(org: Any, plans: Any, shown: str) -> None:
    raises(f"plans must be {PLANS}, got {shown}", compplan.evaluate_org, org, plans)
    raises(f"plans must be {PLANS}, got {shown}", compplan.audit_org, org, plans)


@pytest.mark.parametrize(("args", "message"), [
    ((0.9, 1.1, 2.5), COUNT + "2.5"),
    ((0.9, 1.1, math.nan), COUNT + "nan"),
    ((0.9, 1.1, 10**6), COUNT + "1000000"),
    ((0.9, 1.1, True), COUNT + "True"),
    (("0.9", 1.1, 3), "start must be a finite factor of the expected-cost cap > 0, got '0.9'"),
    ((-1, 1.1, 3), "start must be a finite factor of the expected-cost cap > 0, got -1"),
    ((0.9, math.inf, 3), "stop must be a finite factor of the expected-cost cap > 0, got inf"),
])
def test_sweep_org_refuses_as_the_command_line(org: Any, args: tuple[Any, ...],
                                               message: str) -> None:
    raises(message, compplan.sweep_org, org, *args)
    raises(message, compplan.sweep, C1, *args, "unused")


@pytest.mark.parametrize(("folder", "message"), [
    (5, "folder must be an output folder (str or Path), got int 5"),
    (None, "folder must be an output folder (str or Path), got NoneType None"),
    # The API's word for an empty path (compplan.optimise's result says the same).
    ("", "folder is an empty path; give an output folder (str or Path)"),
])
def test_org_outcome_write_of_what_is_not_a_folder(org: Any, folder: Any, message: str,
                                                   tmp_path: Path) -> None:
    outcome = compplan.optimise_org(org)
    raises(message, outcome.write, folder)
    assert outcome.outcome is not None  # the plans themselves refuse it alike
    raises(f"folder must be an output folder (str or Path), got "
           f"{type(folder).__name__} {folder!r}", outcome.outcome.write, folder)
    written = outcome.write(tmp_path / "out")
    assert (tmp_path / "out" / "org_plan.json") in written
