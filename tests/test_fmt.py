"""The one formatter of figures (models/fmt.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compplan.models import fmt


@pytest.mark.parametrize(("value", "text"), [
    (19_614_072.0, "19,614,072"), (21_600_000.0, "21,600,000"), (12.5, "12.50"),
    (-0.001, "0.00"), (None, "\u2014"), (float("nan"), "\u2014"), (1e12, "1,000,000,000,000")])
def test_money_is_never_in_exponent_form(value: float | None, text: str) -> None:
    assert fmt.money(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (1_950_000.0, "1.95 M"), (19_614_072.0, "19.6 M"), (850_000.0, "850 k"),
    (24_280.0, "24.3 k"), (950.0, "950"), (2.5e9, "2.50 B"), (123_400_000.0, "123 M")])
def test_compact_money_keeps_three_significant_digits(value: float, text: str) -> None:
    assert fmt.compact_money(value) == text


def test_figures_shown_together_read_differently() -> None:
    assert fmt.distinct_money([1.69e6, 1.71e6]) == ["1.69 M", "1.71 M"]
    assert fmt.distinct_money([19_614_072.0, 19_600_000.0], "USD") == [
        "19.61 M USD", "19.60 M USD"]
    # Equal figures may read the same.
    assert fmt.distinct_money([2e6, 2e6, None]) == ["2.00 M", "2.00 M", "\u2014"]


@given(st.lists(st.floats(min_value=0, max_value=1e10, allow_nan=False), min_size=2,
                max_size=6))
def test_distinct_money_never_merges_different_values(values: list[float]) -> None:
    texts = fmt.distinct_money(values)
    for a, ta in zip(values, texts, strict=True):
        for b, tb in zip(values, texts, strict=True):
            if round(a, 2) != round(b, 2):
                assert ta != tb, (a, b, ta)


@pytest.mark.parametrize(("call", "text"), [
    (lambda: fmt.share(0.465), "46.5%"), (lambda: fmt.points(0.0648), "+6.5 pp"),
    (lambda: fmt.multiple(1.25), "1.25x"), (lambda: fmt.number(19_614_072.0), "19,614,072"),
    (lambda: fmt.number(0.0009118), "0.0009118"), (lambda: fmt.number(1.99), "1.99"),
    (lambda: fmt.check("fairness_parity", 0.06478, "share of target"), "6.5 pp"),
    (lambda: fmt.check("fairness_parity", 0.06478, "points of target"), "6.5 pp"),
    (lambda: fmt.figure(0.06478, "points of target"), "6.5 pp"),
    (lambda: fmt.check("budget_cvar", 2.428e7, "currency", "USD"), "24,280,000 USD"),
    (lambda: fmt.check("fairness_top", 1.99, "x mean"), "1.99x"),
    (lambda: fmt.seconds(0.04), "0.04 s"), (lambda: fmt.seconds(125.0), "2 min 5 s"),
    (lambda: fmt.plural(1, "solve"), "1 solve"), (lambda: fmt.plural(2, "solve"), "2 solves"),
    (lambda: fmt.breaks(["[budget] cvar_cap"]), "breaks 1 guardrail: [budget] cvar_cap")])
def test_shares_multiples_and_words(call, text: str) -> None:  # type: ignore[no-untyped-def]
    assert call() == text


def test_least_cap_rounds_up_never_below_the_least_cost() -> None:
    # 574,051.14 shown as 574,051 was a cap that admits no plan (issue 19, item 9).
    assert fmt.least_cap(574_051.136) == 574_052
    assert fmt.least_cap(1_900.0) == 1_900 and fmt.least_cap(1_900.0 + 1e-9) == 1_900
    assert fmt.least_cap(6_382_026.97) == 6_382_027
