"""How money is labelled in time (MODEL.md section 5): the one place that decides it.

By default target incentive, budget caps, costs and payouts are per period of
``attainment.csv``. With ``[case] periods_per_year`` they are annual (the payout of a
scenario is the year's payout if every period were like it), and every output says
"per year", never "per period". Every output asks :func:`money_per` for its label.
"""

from __future__ import annotations

from typing import Any


def money_per(source: Any) -> str:
    """``"per year"`` when money is annual, else ``"per period"``.

    Parameters
    ----------
    source : Case, CaseSpec, dict or int or None
        A case, its spec, a document written from it (``plan.json``, carrying
        ``periods_per_year`` when set), or ``[case] periods_per_year`` itself.

    Returns
    -------
    str
        The label to put after an amount of money or a currency.

    Examples
    --------
    >>> money_per(12), money_per(None)
    ('per year', 'per period')
    """
    return "per year" if periods_per_year(source) else "per period"


def periods_per_year(source: Any) -> int | None:
    """``[case] periods_per_year`` of a case, spec, document or the value itself."""
    if isinstance(source, dict):
        value = source.get("periods_per_year")
    elif hasattr(source, "spec"):
        value = source.spec.case.periods_per_year
    elif hasattr(source, "case") and hasattr(source.case, "periods_per_year"):
        value = source.case.periods_per_year
    else:
        value = source
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def annual_note(source: Any) -> str:
    """``" per year"`` when money is annual, else ``""``.

    For amounts whose label never said "per period" (a currency alone means per
    period by default): they gain the note only where money is annual.
    """
    return f" {money_per(source)}" if periods_per_year(source) else ""


def money_unit(currency: str, source: Any) -> str:
    """``"USD per year"`` or ``"USD per period"``."""
    return f"{currency} {money_per(source)}".strip()
