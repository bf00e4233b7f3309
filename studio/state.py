"""The studio's state: a plan to start from, what-if modifiers, limits and locks.

The state is what the page's URL holds after ``?token=...``, written as
``compplan evaluate``'s modifiers so that a link reproduces a candidate in any
studio of the same case::

    plan=current&set=weight.enterprise_bookings=0.6&shift=0.1:smb_bookings->new_logos
    &limit=budget.expected_cap=1200000&lock=new_logos=0.2&require=x&forbid=y

- ``plan``: ``current`` (the case's current plan), the plan file the studio was
  started with (as given), or a plan the solver designs under the state's limits
  and locks: ``optimised``, ``rounded`` (with ``round=weights=0.05,rates=0.05``,
  as ``compplan optimise --round``) or ``min-budget`` (as ``compplan min-budget``).
- ``set`` and ``shift``: ``--set`` and ``--shift`` of ``compplan evaluate``, applied
  to that plan in the order they appear.
- ``limit=SECTION.KEY=VALUE``: a budget, fairness or design limit replacing the
  case's (``none`` removes it), for the figures' checks and for the solver.
- ``lock=ID=WEIGHT``: the solver keeps that weight (0 keeps the metric out);
  ``require=ID`` and ``forbid=ID``: the metric must be in the plan, or must not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from pydantic import ValidationError

from compplan.errors import CompplanError, UsageError
from compplan.models.case import CURRENT_PLAN, Case
from compplan.models.schema import CaseSpec
from compplan.models.whatif import Modifier, parse_set, parse_shift

#: Plans the solver designs: the value of ``plan`` and what it runs.
SOLVED = ("optimised", "rounded", "min-budget")
#: ``round`` when ``plan=rounded`` gives none.
DEFAULT_ROUND = "weights=0.05,rates=0.05"
#: Limits a state may move, by ``SECTION.KEY``, with what a value must be.
LIMITS: dict[str, str] = {
    "budget.expected_cap": "an amount > 0",
    "budget.cvar_cap": "an amount > 0",
    "fairness.parity_tolerance": "a share of target >= 0",
    "fairness.top_ratio": "a multiple > 0",
    "fairness.bottom_floor": "a share of target >= 0",
    "design.max_payout_multiple": "a multiple > 0",
    "design.max_metrics": "a whole number from 1 to 3",
}
_KEYS = ("plan", "round", "set", "shift", "limit", "lock", "require", "forbid")


@dataclass(frozen=True)
class FieldError:
    """A part of the state that cannot be used: which parameter, and why.

    Attributes
    ----------
    param : str
        The query parameter (``set``, ``limit`` ...).
    index : int
        Its position among the parameters of that name (0 for the first).
    text : str
        Its value as given.
    message : str
        What is wrong and what is allowed.
    """

    param: str
    index: int
    text: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"param": self.param, "index": self.index, "text": self.text,
                "message": self.message}


class StateError(CompplanError):
    """The state holds parts that cannot be used; ``errors`` says which."""

    exit_code = 2

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.param}={e.text}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class State:
    """A parsed state (see the module's docstring).

    Attributes
    ----------
    plan : str
        ``current``, the studio's plan file, or one of :data:`SOLVED`.
    round : str
        The grids of ``plan=rounded``.
    modifiers : tuple of Modifier
        ``set`` and ``shift`` in their order.
    limits : dict
        ``SECTION.KEY`` to a number, or None to remove the limit.
    locks : dict
        Metric to the weight the solver keeps.
    require, forbid : tuple of str
        Metrics the plan must hold, or must not.
    """

    plan: str = CURRENT_PLAN
    round: str = DEFAULT_ROUND
    modifiers: tuple[Modifier, ...] = ()
    limits: dict[str, float | None] = field(default_factory=dict)
    locks: dict[str, float] = field(default_factory=dict)
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()

    @property
    def solved(self) -> bool:
        """Whether the starting plan is one the solver designs."""
        return self.plan in SOLVED

    def settings_key(self) -> str:
        """What a solved plan depends on: the solver's settings, without the modifiers."""
        return query(replace(self, modifiers=()) if self.plan == "rounded"
                     else replace(self, modifiers=(), round=DEFAULT_ROUND))

    def without_modifiers(self) -> State:
        """The same starting plan and settings, no what-if."""
        return replace(self, modifiers=())


def _text(mod: Modifier) -> tuple[str, str]:
    """A modifier back as its query parameter: ``("set", "weight.a=0.3")``."""
    option, _, value = mod.text.partition(" ")
    return option.removeprefix("--"), value


def query(state: State) -> str:
    """The state as a query string (without the token), in a stable order."""
    pairs: list[tuple[str, str]] = [("plan", state.plan)]
    if state.plan == "rounded":
        pairs.append(("round", state.round))
    pairs += [_text(m) for m in state.modifiers]
    pairs += [("limit", f"{k}={_number(v)}") for k, v in state.limits.items()]
    pairs += [("lock", f"{k}={_number(v)}") for k, v in state.locks.items()]
    pairs += [("require", k) for k in state.require]
    pairs += [("forbid", k) for k in state.forbid]
    return urlencode(pairs, safe=".:=,>+")


def _number(value: float | None) -> str:
    if value is None:
        return "none"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def parse_state(text: str | list[tuple[str, str]], case: Case,
                plan_files: tuple[str, ...] = ()) -> State:
    """Read a state from a query string (or its pairs); the token and unknown keys ignored.

    Parameters
    ----------
    text : str or list of (str, str)
        The query string, or its pairs in order.
    case : Case
        The case: metric ids and limits are checked against it.
    plan_files : tuple of str
        Plan files the studio may start from besides ``current``.

    Returns
    -------
    State
        The parsed state.

    Raises
    ------
    StateError
        Listing every part that cannot be used, each with its reason.
    """
    pairs = parse_qsl(text, keep_blank_values=True) if isinstance(text, str) else list(text)
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    plan, rounding = CURRENT_PLAN, DEFAULT_ROUND
    modifiers: list[Modifier] = []
    limits: dict[str, float | None] = {}
    locks: dict[str, float] = {}
    require: list[str] = []
    forbid: list[str] = []
    for key, value in pairs:
        if key not in _KEYS:
            continue
        index = seen.get(key, 0)
        seen[key] = index + 1

        def bad(message: str, key: str = key, index: int = index, value: str = value) -> None:
            errors.append(FieldError(key, index, value, message))

        try:
            if key == "plan":
                if value not in (CURRENT_PLAN, *plan_files, *SOLVED):
                    allowed = ", ".join(repr(p) for p in (CURRENT_PLAN, *plan_files, *SOLVED))
                    bad(f"unknown plan; this studio starts from {allowed}")
                else:
                    plan = value
            elif key == "round":
                from compplan.optimizer.model import parse_rounding

                parse_rounding(value)
                rounding = value
            elif key in ("set", "shift"):
                modifiers.append(parse_set(value) if key == "set" else parse_shift(value))
            elif key == "limit":
                name, number = _limit(value)
                limits[name] = number
            elif key == "lock":
                metric, _, raw = value.partition("=")
                _metric(case, metric)
                locks[metric] = _lock(case, metric, raw)
            elif key in ("require", "forbid"):
                _metric(case, value)
                (require if key == "require" else forbid).append(value)
        except CompplanError as exc:
            bad(str(exc).removeprefix(f"--{key} {value}: ").removeprefix(f"--{key}: "))
    for metric in sorted(set(require) & set(forbid)):
        errors.append(FieldError("forbid", forbid.index(metric), metric,
                                 f"{metric} is also required: a metric cannot be both"))
    if errors:
        raise StateError(errors)
    state = State(plan, rounding, tuple(modifiers), limits, locks, tuple(require), tuple(forbid))
    solver_case(case, state)  # limits and locks the case cannot hold are refused here
    return state


def _metric(case: Case, metric: str) -> None:
    if metric not in case.metric_ids:
        raise UsageError(f"'{metric}' is not a metric of the case "
                         f"(metrics: {', '.join(case.metric_ids)})")


def _lock(case: Case, metric: str, raw: str) -> float:
    """A lock's weight: 0 (kept out), or within the metric's weight bounds."""
    value = _fraction(raw, f"the weight to lock {metric} at")
    low, high = case.weight_bounds(metric)
    if value > 0 and not low <= value <= high:
        spec = case.metric(metric)
        side = "maximum" if value > high else "minimum"
        where = (f"[metrics.{metric}] {side[:3]}_weight"
                 if getattr(spec, f"{side[:3]}_weight") is not None
                 else f"[design] {side[:3]}_weight")
        raise UsageError(f"{value:g} is {'above' if value > high else 'below'} the {side} "
                         f"{high if value > high else low:g} of {metric} ({where})")
    return value


def _fraction(raw: str, what: str) -> float:
    value = _float(raw, what)
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{what} must be from 0 to 1, got {raw}")
    return value


def _float(raw: str, what: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{what} must be a number, got '{raw}'") from None
    if not math.isfinite(value):
        raise UsageError(f"{what} must be a finite number, got '{raw}'")
    return value


def _limit(text: str) -> tuple[str, float | None]:
    name, eq, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    if not eq or name not in LIMITS:
        raise UsageError(f"expected SECTION.KEY=VALUE with SECTION.KEY one of "
                         f"{', '.join(LIMITS)}")
    if raw.lower() == "none":
        return name, None
    value = _float(raw, name)
    if name == "design.max_metrics" and not (value.is_integer() and 1 <= value <= 3):
        raise UsageError(f"{name} must be {LIMITS[name]}, got {raw}")
    if name in ("budget.expected_cap", "budget.cvar_cap", "fairness.top_ratio",
                "design.max_payout_multiple") and value <= 0:
        raise UsageError(f"{name} must be {LIMITS[name]}, got {raw}")
    if value < 0:
        raise UsageError(f"{name} must be {LIMITS[name]}, got {raw}")
    return name, value


def solver_case(case: Case, state: State) -> Case:
    """The case with the state's limits, locks, required and forbidden metrics.

    Its coefficients are the case's: limits and locks change no payout, only the
    checks and the solver's constraints (MODEL.md section 4).

    Parameters
    ----------
    case : Case
        The studio's case.
    state : State
        The state.

    Returns
    -------
    Case
        A copy with the settings applied and validated (the case itself when the
        state moves none).

    Raises
    ------
    StateError
        The settings do not make a valid case (``cvar_cap`` without ``cvar_level``,
        more required metrics than ``max_metrics`` ...), naming the setting.
    """
    if not (state.limits or state.locks or state.require or state.forbid):
        return case
    data = case.spec.model_dump()
    for name, value in state.limits.items():
        section, key = name.split(".")
        data[section][key] = int(value) if key == "max_metrics" and value is not None else value
    for metric, weight in state.locks.items():
        spec = data["metrics"][metric]
        if weight > 0:
            spec.update(min_weight=weight, max_weight=weight, required=True, forbidden=False)
        else:
            spec.update(required=False, forbidden=True)
    for metric in state.require:
        data["metrics"][metric].update(required=True, forbidden=False)
    for metric in state.forbid:
        data["metrics"][metric].update(required=False, forbidden=True)
    try:
        spec = CaseSpec.model_validate(data)
    except ValidationError as exc:
        detail = "; ".join(_pydantic_message(e) for e in exc.errors())
        param = ("limit" if state.limits and not (state.locks or state.require or state.forbid)
                 else "lock" if state.locks else "require")
        raise StateError([FieldError(param, 0, "", detail)]) from None
    return replace(case, spec=spec)


def _pydantic_message(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__")
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
