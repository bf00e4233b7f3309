"""What-if arithmetic: each modifier form, rescaling, shifts, order, and the errors.

The case: metrics a, b, c, d with thresholds 0.5, 0.6, 0.2, 0.5, so the base rate
is w / (1 - theta) and the accelerator rate u = multiple * w / (1 - theta);
``[design] accelerator_min`` is 1.5 (the multiple of a metric joining a plan).

The plan PLAN3: a 0.5 (multiple 2: u = 2 * 0.5 / 0.5 = 2.0), b 0.3 (multiple 1:
u = 0.3 / 0.4 = 0.75), c 0.2 (multiple 1.5: u = 1.5 * 0.2 / 0.8 = 0.375).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from compplan.errors import UsageError
from compplan.models.case import Case, load_case
from compplan.models.plan import Plan
from compplan.models.whatif import Modifier, apply_modifiers, parse_set, parse_shift
from compplan.optimizer.evaluate import design_rules

MakeCase = Callable[..., Path]
THRESHOLDS = {"a": 0.5, "b": 0.6, "c": 0.2, "d": 0.5}


@pytest.fixture
def case(make_case: MakeCase) -> Case:
    tables = {"goals": {"g": 1.0}, "design": {"accelerator_min": 1.5}}
    for k, theta in THRESHOLDS.items():
        tables[f"metrics.{k}"] = {"threshold": theta, "cap": 2.0, "alignment": {"g": 1.0}}
    path = make_case(tables, [{"rep_id": "R0", "target_incentive": 1000.0}],
                     {k: [[1.0]] for k in THRESHOLDS})
    return load_case(path)


def plan(case: Case, **metrics: tuple[float, float]) -> Plan:
    """A plan from (weight, accelerator multiple) per metric."""
    w = np.array([metrics.get(k, (0.0, 0.0))[0] for k in case.metric_ids])
    u = np.array([metrics.get(k, (0.0, 0.0))[0] * metrics.get(k, (0.0, 0.0))[1]
                  / (1.0 - THRESHOLDS[k]) for k in case.metric_ids])
    return Plan.from_vectors(case, w, u)


def plan3(case: Case) -> Plan:
    return plan(case, a=(0.5, 2.0), b=(0.3, 1.0), c=(0.2, 1.5))


def mods(*texts: str) -> list[Modifier]:
    return [parse_shift(t[len("--shift "):]) if t.startswith("--shift ")
            else parse_set(t[len("--set "):]) for t in texts]


def weights(p: Plan) -> dict[str, float]:
    """``ID.w``, ``ID.u`` and ``ID.x``: weight, accelerator rate and multiple per metric."""
    return {f"{m.id}.{part}": value for m in p.metrics
            for part, value in (("w", m.weight), ("u", m.accelerator_rate),
                                ("x", m.accelerator_multiple))}


def approx(value: object) -> object:
    return pytest.approx(value, rel=1e-12, abs=1e-12)


def expect(**metrics: tuple[float, float, float]) -> object:
    """The plan's figures as :func:`weights` gives them, from (w, u, multiple) per metric."""
    return approx({f"{k}.{part}": v for k, triple in metrics.items()
                   for part, v in zip("wux", triple, strict=True)})


def run(case: Case, *texts: str, start: Plan | None = None) -> dict[str, float]:
    return weights(apply_modifiers(case, start or plan3(case), mods(*texts)))


# ---------------------------------------------------------------------------- parsing

@pytest.mark.parametrize(("text", "expected"), [
    ("weight.a=0.3", Modifier("--set weight.a=0.3", "weight", "a", 0.3)),
    ("weight.a=+0.2", Modifier("--set weight.a=+0.2", "weight", "a", 0.2, relative=True)),
    ("weight.a=-0.1", Modifier("--set weight.a=-0.1", "weight", "a", -0.1, relative=True)),
    (" weight.a = 0.3 ", Modifier("--set  weight.a = 0.3 ", "weight", "a", 0.3)),
    ("accelerator.b=2.0", Modifier("--set accelerator.b=2.0", "accelerator", "b", 2.0)),
    ("rate.c=1.5", Modifier("--set rate.c=1.5", "rate", "c", 1.5)),
])
def test_parse_set(text: str, expected: Modifier) -> None:
    assert parse_set(text) == expected


def test_parse_shift() -> None:
    assert parse_shift("0.2:a->b") == Modifier("--shift 0.2:a->b", "shift", "b", 0.2,
                                                source="a")


# ---------------------------------------------------------------------- arithmetic

def test_set_weight_rescales_the_others(case: Case) -> None:
    # a 0.3; b and c (0.3 + 0.2 = 0.5) scale to 0.7: b 0.42, c 0.28. Multiples are kept,
    # so rates scale: u_a = 2 * 0.3 / 0.5 = 1.2, u_b = 0.42 / 0.4 = 1.05,
    # u_c = 1.5 * 0.28 / 0.8 = 0.525.
    assert run(case, "--set weight.a=0.3") == expect(
        a=(0.3, 1.2, 2.0), b=(0.42, 1.05, 1.0), c=(0.28, 0.525, 1.5))


def test_add_to_a_weight(case: Case) -> None:
    # a 0.5 + 0.2 = 0.7; b and c scale from 0.5 to 0.3: b 0.18, c 0.12.
    assert run(case, "--set weight.a=+0.2") == expect(
        a=(0.7, 2.8, 2.0), b=(0.18, 0.45, 1.0), c=(0.12, 0.225, 1.5))


def test_subtract_from_a_weight(case: Case) -> None:
    # a 0.4; b and c scale from 0.5 to 0.6: b 0.36, c 0.24.
    assert run(case, "--set weight.a=-0.1") == expect(
        a=(0.4, 1.6, 2.0), b=(0.36, 0.9, 1.0), c=(0.24, 0.45, 1.5))


def test_a_new_metric_gets_accelerator_min(case: Case) -> None:
    # From a 0.6, b 0.4: c joins at 0.2 with multiple 1.5 (u = 1.5 * 0.2 / 0.8 = 0.375);
    # a and b scale from 1.0 to 0.8: a 0.48 (u = 2 * 0.48 / 0.5), b 0.32 (u = 0.32 / 0.4).
    start = plan(case, a=(0.6, 2.0), b=(0.4, 1.0))
    assert run(case, "--set weight.c=0.2", start=start) == expect(
        a=(0.48, 1.92, 2.0), b=(0.32, 0.8, 1.0), c=(0.2, 0.375, 1.5))


def test_a_zero_weight_takes_a_metric_out(case: Case) -> None:
    # c leaves; a and b scale from 0.8 to 1: a 0.625, b 0.375.
    assert run(case, "--set weight.c=0") == expect(a=(0.625, 2.5, 2.0), b=(0.375, 0.9375, 1.0))


def test_set_the_accelerator_multiple(case: Case) -> None:
    # a: multiple 3, u = 3 * 0.5 / 0.5 = 3.0; weights stay.
    assert run(case, "--set accelerator.a=3") == expect(
        a=(0.5, 3.0, 3.0), b=(0.3, 0.75, 1.0), c=(0.2, 0.375, 1.5))


def test_set_the_accelerator_rate(case: Case) -> None:
    # b: u = 1.5, multiple 1.5 * 0.4 / 0.3 = 2.
    result = run(case, "--set rate.b=1.5")
    assert (result["b.w"], result["b.u"], result["b.x"]) == approx((0.3, 1.5, 2.0))


def test_shift_between_metrics_of_the_plan(case: Case) -> None:
    # a 0.5 - 0.2 = 0.3 (u = 2 * 0.3 / 0.5 = 1.2), b 0.3 + 0.2 = 0.5 (u = 0.5 / 0.4); c stays.
    assert run(case, "--shift 0.2:a->b") == expect(
        a=(0.3, 1.2, 2.0), b=(0.5, 1.25, 1.0), c=(0.2, 0.375, 1.5))


def test_shift_everything_to_a_new_metric(case: Case) -> None:
    # c gives all of its 0.2 and leaves; d joins at 0.2 with multiple 1.5: u = 0.6.
    assert run(case, "--shift 0.2:c->d") == expect(
        a=(0.5, 2.0, 2.0), b=(0.3, 0.75, 1.0), d=(0.2, 0.6, 1.5))


def test_modifiers_apply_in_order(case: Case) -> None:
    # Shift first: a 0.3, b 0.5, c 0.2; then a = 0.5: b and c scale from 0.7 to 0.5.
    first = run(case, "--shift 0.2:a->b", "--set weight.a=0.5")
    assert {k: v for k, v in first.items() if k.endswith(".w")} == approx(
        {"a.w": 0.5, "b.w": 0.5 * 0.5 / 0.7, "c.w": 0.2 * 0.5 / 0.7})
    # Set first: a is already 0.5, nothing moves; then the shift: a 0.3, b 0.5, c 0.2.
    second = run(case, "--set weight.a=0.5", "--shift 0.2:a->b")
    assert {k: v for k, v in second.items() if k.endswith(".w")} == approx(
        {"a.w": 0.3, "b.w": 0.5, "c.w": 0.2})


def test_one_metric_plan_keeps_its_weight_and_breaks_the_sum(case: Case) -> None:
    # Nothing to rescale: a stays at 0.5, and the evaluation's design rules say so.
    result = apply_modifiers(case, plan(case, a=(1.0, 2.0)), mods("--set weight.a=0.5"))
    assert weights(result) == expect(a=(0.5, 2.0, 2.0))
    w, u = result.vectors(case)
    assert design_rules(case, case.metric_ids, w, u)[0].message == "weights sum to 0.5, not 1"


def test_no_modifier_leaves_the_plan(case: Case) -> None:
    assert run(case) == approx(weights(plan3(case)))


# --------------------------------------------------------------------------- errors

ERRORS = [
    ("--set weight.zz=0.3", "--set weight.zz=0.3: 'zz' is not a metric of the case "
                            "(metrics: a, b, c, d)"),
    ("--set weight.a", "--set weight.a: expected weight.ID=VALUE, accelerator.ID=VALUE or "
                       "rate.ID=VALUE (a + or - before a weight's VALUE adds or subtracts it)"),
    ("--set a=0.3", "--set a=0.3: expected weight.ID=VALUE, accelerator.ID=VALUE or "
                    "rate.ID=VALUE (a + or - before a weight's VALUE adds or subtracts it)"),
    ("--set speed.a=0.3", "--set speed.a=0.3: unknown setting 'speed' (use weight, "
                          "accelerator or rate)"),
    ("--set weight.a=abc", "--set weight.a=abc: 'abc' is not a number"),
    ("--set weight.a=nan", "--set weight.a=nan: 'nan' is not a finite number"),
    ("--set weight.a=+0.6", "--set weight.a=+0.6: the weight of a would be 1.1, outside [0, 1]"),
    ("--set weight.b=-0.4", "--set weight.b=-0.4: the weight of b would be -0.1, "
                            "outside [0, 1]"),
    ("--set weight.a=1.5", "--set weight.a=1.5: the weight of a would be 1.5, outside [0, 1]"),
    ("--set accelerator.d=2", "--set accelerator.d=2: d is not in the plan (plan: a, b, c); "
                              "give it a weight first"),
    ("--set accelerator.a=-1", "--set accelerator.a=-1: the accelerator multiple must be >= 0, "
                               "got -1"),
    ("--set accelerator.a=+1", "--set accelerator.a=+1: only a weight can be added to or "
                               "subtracted from; give the accelerator multiple itself"),
    ("--set rate.a=-0.5", "--set rate.a=-0.5: the accelerator rate must be >= 0, got -0.5"),
    ("--set weight.d=0.1", "--set weight.d=0.1: the plan would have 4 metrics (a, b, c, d); "
                           "a plan has at most 3"),
    ("--shift 0.4:c->a", "--shift 0.4:c->a: shifts 0.4 but c carries only 0.2"),
    ("--shift 0.2:d->a", "--shift 0.2:d->a: d is not in the plan (plan: a, b, c)"),
    ("--shift 0.2:zz->a", "--shift 0.2:zz->a: 'zz' is not a metric of the case "
                          "(metrics: a, b, c, d)"),
    ("--shift 0.2:a->zz", "--shift 0.2:a->zz: 'zz' is not a metric of the case "
                          "(metrics: a, b, c, d)"),
    ("--shift 0.2:a->a", "--shift 0.2:a->a: moves incentive from a to itself"),
    ("--shift 0:a->b", "--shift 0:a->b: the amount must be > 0 and <= 1 (a share of target "
                       "incentive), got 0"),
    ("--shift 1.5:a->b", "--shift 1.5:a->b: the amount must be > 0 and <= 1 (a share of "
                         "target incentive), got 1.5"),
    ("--shift 0.2a->b", "--shift 0.2a->b: expected AMOUNT:FROM->TO, e.g. "
                        "0.2:smb_bookings->multi_product_deals"),
    ("--shift 0.2:a-b", "--shift 0.2:a-b: expected AMOUNT:FROM->TO, e.g. "
                        "0.2:smb_bookings->multi_product_deals"),
    ("--shift 0.2:a-", "--shift 0.2:a-: expected AMOUNT:FROM->TO, e.g. "
                       "0.2:smb_bookings->multi_product_deals (quote it: a shell reads > as "
                       "a redirection)"),
    ("--shift x:a->b", "--shift x:a->b: 'x' is not a number"),
    ("--shift 0.1:a->d", "--shift 0.1:a->d: the plan would have 4 metrics (a, b, c, d); "
                         "a plan has at most 3"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_the_modifier(case: Case, text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        run(case, text)
    assert str(err.value) == message
    assert err.value.exit_code == 2


def test_no_metric_left(case: Case) -> None:
    with pytest.raises(UsageError) as err:
        run(case, "--set weight.a=0", start=plan(case, a=(1.0, 2.0)))
    assert str(err.value) == "--set weight.a=0: the plan would have no metric left"


def test_the_failing_modifier_is_named_after_others_applied(case: Case) -> None:
    # The first shift empties c (0.2 -> 0); the second finds c out of the plan.
    with pytest.raises(UsageError) as err:
        run(case, "--shift 0.2:c->a", "--shift 0.1:c->b")
    assert str(err.value) == "--shift 0.1:c->b: c is not in the plan (plan: a, b)"
