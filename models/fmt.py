"""Numbers for people, formatted once: money, shares, multiples and alignment.

Every output (terminal, plan.md, the report, the workbook, the plan explained)
formats its figures here, so the same figure reads the same everywhere: money with
thousands separators and never in exponent form, short money (``19.6 M``) with as
many digits as it takes to tell different values apart, shares as percentages,
multiples as ``1.25x``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MISSING = "\u2014"
# (from, divide by, suffix): below 10,000 money is shown in full.
_UNITS = ((1e9, 1e9, " B"), (1e6, 1e6, " M"), (1e4, 1e3, " k"))


def _missing(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def money(value: float | None, currency: str = "", digits: int | None = None) -> str:
    """Money in full: ``19,614,072 USD``; cents below 100 (``12.50``); a dash if missing.

    Parameters
    ----------
    value : float or None
        The amount.
    currency : str
        Appended after a space when given.
    digits : int, optional
        Decimals; by default none from 100 up, two below (a rate per unit).
    """
    if value is None or _missing(value):
        return MISSING
    if digits is None:
        digits = 0 if abs(round(value, 2)) >= 100 else 2
    text = f"{value:,.{digits}f}"
    if text.startswith("-") and not any(c in "123456789" for c in text):
        text = text[1:]  # no "-0"
    return text + (f" {currency}" if currency else "")


def least_cap(value: float) -> float:
    """The smallest whole cap at or above ``value`` (a least cost).

    A cap typed as shown admits the plan, as a cap rounded to the nearest unit might
    not (issue 19).
    """
    return float(math.ceil(value - 1e-9 * max(1.0, abs(value))))


def rate(value: float | None, currency: str = "", significant: int = 3) -> str:
    """A rate per unit with ``significant`` digits: ``0.0169 USD``, not ``0.02 USD``.

    Money per unit of a metric can be a fraction of a cent; rounding it to cents makes
    different rates read the same. From 100 up, money in full (``1,250 USD``).
    """
    if value is None or _missing(value):
        return MISSING
    if abs(value) >= 100 or value == 0:
        return money(value, currency)
    return number(value, significant) + (f" {currency}" if currency else "")


def _compact(value: float, significant: int) -> str:
    size = abs(value)
    for least, unit, suffix in _UNITS:
        if size >= least:
            scaled = value / unit
            whole = len(str(int(abs(scaled))))
            digits = max(0, significant - whole)
            return f"{scaled:,.{digits}f}{suffix}"
    return money(value)


def compact_money(value: float | None, currency: str = "", significant: int = 3) -> str:
    """Money short enough for a tile or an axis: ``19.6 M USD``, ``1.95 M``, ``850 k``.

    At least ``significant`` significant digits (3: never ``1.9 M`` for 1,950,000).
    """
    if value is None or _missing(value):
        return MISSING
    return _compact(value, significant) + (f" {currency}" if currency else "")


def distinct_money(values: Sequence[float | None], currency: str = "") -> list[str]:
    """Short money for figures shown together, with the digits to tell them apart.

    Two different values never read the same (1.69 M and 1.71 M are not both
    ``1.7 M``); values equal to the cent may. Falls back to full money.
    """
    finite = [v for v in values if v is not None and math.isfinite(v)]
    for significant in range(3, 8):
        texts = {v: _compact(v, significant) for v in finite}
        clash = any(texts[a] == texts[b] and round(a, 2) != round(b, 2)
                    for i, a in enumerate(finite) for b in finite[i + 1:])
        if not clash:
            return [compact_money(v, currency, significant) for v in values]
    return [money(v, currency) for v in values]


def share(value: float | None, digits: int = 1) -> str:
    """A share as a percentage: ``46.5%``; a dash if missing."""
    if value is None or _missing(value):
        return MISSING
    return f"{value:.{digits}%}"


def points(value: float | None, sign: bool = True) -> str:
    """A difference of shares in percentage points: ``+6.5 pp``."""
    if value is None or _missing(value):
        return MISSING
    return f"{value * 100:{'+' if sign else ''}.1f} pp"


def multiple(value: float | None, digits: int = 2) -> str:
    """A multiple: ``1.25x``."""
    if value is None or _missing(value):
        return MISSING
    return f"{value:.{digits}f}x"


def number(value: float | None, significant: int = 4) -> str:
    """A plain figure with ``significant`` digits, thousands separated, never ``1e+07``."""
    if value is None or _missing(value):
        return MISSING
    if value == 0:
        return "0"
    whole = math.floor(math.log10(abs(value))) + 1
    digits = max(0, significant - whole)
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def alignment(value: float | None) -> str:
    """The alignment index (the objective): four decimals, ``0.5235``."""
    if value is None or _missing(value):
        return MISSING
    return f"{value:.4f}"


# Units of a guardrail check (optimizer.evaluate.GuardrailCheck.unit).
def figure(value: float | None, unit: str, currency: str = "") -> str:
    """A figure in its unit: money, a share of target, or a multiple."""
    if unit == "currency":
        return money(value, currency)
    if unit == "share of target":
        return share(value)
    if unit == "points of target":
        return points(value, sign=False)
    if unit in ("x target", "x mean"):
        return multiple(value)
    return number(value)


def check(name: str, value: float | None, unit: str, currency: str = "") -> str:
    """A guardrail's value or limit by its unit; the parity gap in points.

    Also for a document written before parity's unit was ``points of target``.
    """
    if name == "fairness_parity":
        return points(value, sign=False)
    return figure(value, unit, currency)


def limits(low: float, high: float, low_open: bool = False, high_open: bool = False) -> str:
    """Where a guardrail's price holds: ``3.484 to 3.546``.

    An end the search window reached with the price still holding is not where the
    price stops: ``1.99 to at least 4``, ``at most 0.2 to 0.4`` (issue 19).
    """
    start = f"at most {number(low)}" if low_open else number(low)
    end = f"at least {number(high)}" if high_open else number(high)
    return f"{start} to {end}"


def seconds(value: float | None) -> str:
    """Wall time: ``0.04 s``, ``12.3 s``, ``2 min 5 s``."""
    if value is None or _missing(value):
        return MISSING
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {round(value % 60):d} s"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 solve``, ``2 solves``."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def breaks(settings: Sequence[str], what: str = "guardrail") -> str:
    """``breaks 3 guardrails: [budget] cvar_cap, ...``; empty when nothing is broken."""
    if not settings:
        return ""
    return f"breaks {plural(len(settings), what)}: {', '.join(settings)}"
