"""A batch spec: a base case and the candidates to solve, read from TOML and checked.

A spec names the base case (relative to the spec file) and its candidates: a
``[grid]`` of values per parameter, expanded as a cartesian product in key order,
and/or an explicit ``[[candidates]]`` list. A parameter is a dotted path into
``case.toml`` (``budget.expected_cap``, ``metrics.smb_bookings.forbidden``,
``goals.enterprise_growth``). Each candidate's case is the base case with its
parameters applied and validated by the case schema, so a spec that makes an invalid
case fails before anything is solved, naming the candidate and the key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from compplan.errors import CaseError
from compplan.models.case import Case, read_toml
from compplan.models.errors_format import case_error_from_pydantic
from compplan.models.schema import (
    BudgetSpec,
    CaseSpec,
    DesignSpec,
    FairnessSpec,
    MetricSpec,
    ResponseSpec,
    ScenarioSpec,
)

#: A grid larger than this is refused before it is expanded.
MAX_CANDIDATES = 100_000
_TABLES: dict[str, type[BaseModel]] = {"design": DesignSpec, "budget": BudgetSpec,
                                       "fairness": FairnessSpec, "scenarios": ScenarioSpec,
                                       "response": ResponseSpec}
_SPEC_KEYS = ("case", "grid", "candidates")


class _SpecFile(BaseModel):
    """The spec file as written; parameters are checked against the case afterwards."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case: str
    grid: dict[str, list[Any]] = {}
    candidates: list[dict[str, Any]] = []


@dataclass(frozen=True)
class Candidate:
    """One candidate of a batch.

    Attributes
    ----------
    id : str
        ``c0001``, ``c0002``, ... in spec order: the grid first, then the explicit list.
    name : str
        Its ``name`` in the spec, else its parameters in words.
    params : dict
        Dotted ``case.toml`` key to value: what the candidate changes in the base case.
    where : str
        Where it comes from in the spec, for messages: ``[grid]`` or
        ``[[candidates]] #2``.
    """

    id: str
    name: str
    params: dict[str, Any]
    where: str

    def label(self) -> str:
        """The candidate as named in messages: ``candidate c0003 ('loose parity')``."""
        return f"candidate {self.id} ({self.name!r})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as listed in ``batch.json``."""
        return {"id": self.id, "name": self.name, "params": self.params}


@dataclass(frozen=True)
class BatchSpec:
    """An expanded batch spec.

    Attributes
    ----------
    source : str
        The spec file's name, as errors name it (``command line`` for a sweep).
    case_path : Path
        The base case folder.
    candidates : tuple of Candidate
        In id order.
    keys : tuple of str
        Every parameter that some candidate sets, in order of first appearance.
    """

    source: str
    case_path: Path
    candidates: tuple[Candidate, ...]
    keys: tuple[str, ...]

    def digest(self) -> str:
        """A hash of the candidates and their parameters: a resumed batch must match it."""
        text = json.dumps([c.to_dict() for c in self.candidates], sort_keys=True,
                          separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def read_batch_spec(path: str | Path) -> BatchSpec:
    """Read and expand a batch spec file.

    Parameters
    ----------
    path : str or Path
        The spec, a TOML file.

    Returns
    -------
    BatchSpec
        The candidates, ids assigned; parameters not yet checked against the case
        (:func:`candidate_specs` does that).

    Raises
    ------
    CaseError
        Naming the spec file, the candidate and the key.
    """
    spec_path = Path(path)
    if not spec_path.is_file():
        raise CaseError(str(spec_path), "is not a file (give a batch spec, a TOML file "
                                        "with case = \"...\" and [grid] or [[candidates]])")
    data = read_toml(spec_path)
    try:
        parsed = _SpecFile.model_validate(data, strict=True)
    except ValidationError as exc:
        err = case_error_from_pydantic(spec_path.name, exc, _SpecFile, set())
        if exc.errors()[0]["type"] == "extra_forbidden":
            err = CaseError(spec_path.name, f"unknown key (allowed keys: "
                                            f"{', '.join(_SPEC_KEYS)}; a parameter goes in "
                                            "[grid] or [[candidates]])", field=err.field)
        raise err from None
    return expand(spec_path.name, spec_path.parent / parsed.case, parsed.grid, parsed.candidates)


def expand(source: str, case_path: Path, grid: dict[str, list[Any]],
           listed: list[dict[str, Any]]) -> BatchSpec:
    """Expand a grid (cartesian product, in key order) and an explicit candidate list.

    Parameters
    ----------
    source : str
        The spec's name in messages.
    case_path : Path
        The base case folder.
    grid : dict
        Dotted key to the list of its values.
    listed : list of dict
        Explicit candidates: dotted keys to values, and an optional ``name``.

    Returns
    -------
    BatchSpec
        Grid candidates first, then the listed ones.

    Raises
    ------
    CaseError
        An empty grid list, a grid too large, a candidate without parameters, or no
        candidates at all.
    """
    for key, values in grid.items():
        if not values:
            raise CaseError(source, "needs at least one value", field=f"[grid] {key}")
    size = math.prod(len(v) for v in grid.values()) if grid else 0
    if size + len(listed) > MAX_CANDIDATES:
        raise CaseError(source, f"makes {size + len(listed):,} candidates; a batch holds at "
                                f"most {MAX_CANDIDATES:,}", field="[grid]")
    rows: list[tuple[str | None, dict[str, Any], str]] = []
    if grid:
        rows += [(None, dict(zip(grid, values, strict=True)), "[grid]")
                 for values in itertools.product(*grid.values())]
    for i, item in enumerate(listed):
        where = f"[[candidates]] #{i + 1}"
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            raise CaseError(source, f"must be text, got {name!r}", field=f"{where} name")
        params = {k: v for k, v in item.items() if k != "name"}
        if not params:
            raise CaseError(source, "sets no parameter (give dotted case.toml keys such as "
                                    "\"budget.expected_cap\" = 2e7)", field=where)
        rows.append((name, params, where))
    if not rows:
        raise CaseError(source, "has no candidates: give a [grid] or [[candidates]] tables")
    keys = tuple(dict.fromkeys(k for _, params, _ in rows for k in params))
    short = short_keys(keys)
    candidates = tuple(Candidate(f"c{i + 1:04d}", name or describe(params, short), params,
                                 where)
                       for i, (name, params, where) in enumerate(rows))
    return BatchSpec(source, case_path, candidates, keys)


def short_keys(keys: tuple[str, ...]) -> dict[str, str]:
    """Each key by its shortest dotted suffix that no other key ends with.

    ``budget.expected_cap`` is ``expected_cap``, but ``metrics.a.forbidden`` and
    ``metrics.b.forbidden`` stay ``a.forbidden`` and ``b.forbidden``.
    """
    short = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            suffix = ".".join(parts[-n:])
            if not any(o != key and (o == suffix or o.endswith("." + suffix)) for o in keys):
                break
        short[key] = suffix
    return short


def describe(params: dict[str, Any], short: dict[str, str] | None = None) -> str:
    """Parameters in words: ``expected_cap=20000000, max_metrics=2``."""
    names = short or {}
    return ", ".join(f"{names.get(k, k)}={_short(v)}" for k, v in params.items())


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and abs(value) >= 1e5:
        return f"{value / 1e6:.10g}e6"  # money as written in a spec: 19.5e6
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def check_key(base: CaseSpec, key: str) -> str | None:
    """Why ``key`` is not a parameter of the case, or None when it is.

    Parameters
    ----------
    base : CaseSpec
        The base case.
    key : str
        A dotted path into ``case.toml``.

    Returns
    -------
    str or None
        The reason in words.
    """
    parts = key.split(".")
    head, rest = parts[0], parts[1:]
    goals = _goal_names(base)
    if key == "scenarios.allow_absent":
        # It decides how attainment.csv is read, once for every candidate.
        return "decides how attainment.csv is read: set it in case.toml, not per candidate"
    if key == "response.baseline":
        # The baseline plan is read with the case, once for every candidate.
        return "names the plan read with the case: set it in case.toml, not per candidate"
    if head in _TABLES:
        fields = [f for f in _TABLES[head].model_fields
                  if f"{head}.{f}" != "scenarios.allow_absent"]
        if len(rest) == 1 and rest[0] in fields:
            return None
        return f"not a parameter of the case (keys of [{head}]: {', '.join(fields)})"
    if head == "goals":
        if len(rest) == 1 and rest[0] in goals:
            return None
        return f"not a goal of the case (goals: {', '.join(goals)})"
    if head == "metrics":
        return _check_metric_key(base, rest, goals)
    if head == "case":
        return "[case] names the case; it is not a parameter"
    return ("not a parameter of the case (a dotted key into case.toml: "
            f"{', '.join(['goals', 'metrics', *_TABLES])})")


def _goal_names(base: CaseSpec) -> list[str]:
    """Goals of [goals], then any goal a metric's alignment names."""
    named = [g for m in base.metrics.values() for g in m.alignment]
    return list(dict.fromkeys([*base.goals, *named]))


def _check_metric_key(base: CaseSpec, rest: list[str], goals: list[str]) -> str | None:
    if not rest or rest[0] not in base.metrics:
        return f"not a metric of the case (metrics: {', '.join(base.metrics)})"
    fields = list(MetricSpec.model_fields)
    if len(rest) == 2 and rest[1] in fields:
        return None
    if len(rest) == 3 and rest[1] == "alignment":
        return None if rest[2] in goals else \
            f"not a goal of the case (goals: {', '.join(goals)})"
    return f"not a parameter of the case (keys of [metrics.{rest[0]}]: {', '.join(fields)})"


def _apply(data: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key in the dumped case, creating a table where need be."""
    *path, last = key.split(".")
    node = data
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value


def candidate_specs(spec: BatchSpec, case: Case) -> list[CaseSpec]:
    """Every candidate's case, validated by the case schema, before anything is solved.

    Parameters
    ----------
    spec : BatchSpec
        The expanded batch spec.
    case : Case
        The loaded base case.

    Returns
    -------
    list of CaseSpec
        In candidate order.

    Raises
    ------
    CaseError
        Naming the spec file, the candidate and the key: a key that is not a
        parameter of the case, or a combination the case schema rejects.
    """
    base = case.spec
    for candidate in spec.candidates:
        for key in candidate.params:
            reason = check_key(base, key)
            if reason is not None:
                place = candidate.where if candidate.where == "[grid]" else \
                    f"{candidate.where} ({candidate.id}, {candidate.name!r})"
                raise CaseError(spec.source, reason, field=f"{place}, {key}")
    dumped = base.model_dump()
    return [_candidate_spec(spec.source, dumped, case, c) for c in spec.candidates]


def _candidate_spec(source: str, dumped: dict[str, Any], case: Case,
                    candidate: Candidate) -> CaseSpec:
    data = json.loads(json.dumps(dumped))  # a deep copy of plain data
    for key, value in candidate.params.items():
        _apply(data, key, value)
    try:
        result = CaseSpec.model_validate(data, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        err = case_error_from_pydantic("case.toml", exc, CaseSpec, {"metrics", "goals"})
        raise CaseError(source, f"makes an invalid case: {err.detail}",
                        field=f"{candidate.label()}, {key}") from None
    group_by = result.fairness.group_by
    if group_by is not None and group_by not in case.reps.columns:
        grouping = [c for c in case.reps.columns if c != "target_incentive"]
        raise CaseError(source, f"'{group_by}' is not a column of reps.csv (grouping "
                                f"columns: {', '.join(grouping) or 'none'})",
                        field=f"{candidate.label()}, fairness.group_by")
    return result


def budget_sweep(case: Case, start: float, stop: float, count: int) -> BatchSpec:
    """Candidates with ``count`` expected-cost caps from ``start`` to ``stop`` times the base.

    Parameters
    ----------
    case : Case
        The base case; its ``[budget] expected_cap`` is the base, else the total
        target incentive.
    start, stop : float
        The first and last factor.
    count : int
        How many caps, evenly spaced.

    Returns
    -------
    BatchSpec
        One candidate per cap, named by its factor.
    """
    cap = case.spec.budget.expected_cap
    base = float(cap) if cap is not None else float(case.target_incentive.sum())
    what = "expected_cap" if cap is not None else "target incentive"
    listed = []
    for factor in np.linspace(start, stop, count):
        value = round(float(factor) * base, 2)
        listed.append({"name": f"{float(factor):.6g} x {what}",
                       "budget.expected_cap": value})
    return expand(f"sweep --budget {start:g}:{stop:g}:{count}", case.path, {}, listed)
