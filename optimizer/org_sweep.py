"""The organisation's alignment-cost frontier over its expected-cost cap (MODEL.md s. 7).

One joint solve per cap (the coefficients computed once): the organisation's alignment,
expected payout and CVaR, and each role's share of it. Between two consecutive caps
with plans, the extra expected payout splits across roles: where the next dollar goes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from compplan.errors import InfeasibleError, SolverLimitError
from compplan.models.org import Org
from compplan.optimizer.coefficients import Coefficients

SCHEMA = "compplan.org_sweep/1"


@dataclass(frozen=True)
class SweepPoint:
    """The organisation's plans at one expected-cost cap."""

    factor: float
    cap: float
    status: str
    alignment: float | None = None
    expected_cost: float | None = None
    cvar: float | None = None
    role_cost: dict[str, float] = field(default_factory=dict)
    role_alignment: dict[str, float] = field(default_factory=dict)
    role_metrics: dict[str, str] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class OrgSweep:
    """Every cap of the sweep, with the frontier and where each next dollar goes.

    Attributes
    ----------
    base : float
        What the factors multiply: ``[budget] expected_cap`` of org.toml, else the
        total target incentive of all roles.
    points : list of SweepPoint
        One per cap, in increasing order.
    """

    org: str
    currency: str
    roles: list[str]
    labels: dict[str, str]
    base: float
    base_source: str
    points: list[SweepPoint]

    def frontier(self) -> list[bool]:
        """Per point: no other plans cost as little or less and align as well or better."""
        found = []
        for i, p in enumerate(self.points):
            if p.alignment is None or p.expected_cost is None:
                found.append(False)
                continue
            found.append(not any(
                q is not p and q.alignment is not None and q.expected_cost is not None
                and q.expected_cost <= p.expected_cost + 1e-6 * max(1.0, p.expected_cost)
                and q.alignment >= p.alignment
                and (q.expected_cost < p.expected_cost - 1e-6 * max(1.0, p.expected_cost)
                     or q.alignment > p.alignment + 1e-9)
                for q in self.points) and not any(  # equal plans: the smallest cap only
                q.alignment == p.alignment and q.expected_cost == p.expected_cost
                for q in self.points[:i]))
        return found

    def next_dollar(self) -> list[dict[str, Any] | None]:
        """Per point: how the extra expected payout since the previous plans splits by role.

        ``None`` for the first point with plans, and where the payout did not grow.
        """
        found: list[dict[str, Any] | None] = []
        last: SweepPoint | None = None
        for p in self.points:
            if p.expected_cost is None or p.alignment is None:
                found.append(None)
                continue
            if last is None or last.expected_cost is None or last.alignment is None \
                    or p.expected_cost - last.expected_cost <= 1e-6 * max(1.0, p.expected_cost):
                found.append(None)
            else:
                extra = p.expected_cost - last.expected_cost
                found.append({
                    "extra_cost": extra,
                    "alignment_per_million": (p.alignment - last.alignment) / extra * 1e6,
                    "shares": {r: (p.role_cost[r] - last.role_cost[r]) / extra
                               for r in self.roles}})
            last = p
        return found

    def to_rows(self) -> list[dict[str, Any]]:
        """One row per cap (``results.csv``)."""
        rows = []
        for p, on, nxt in zip(self.points, self.frontier(), self.next_dollar(), strict=True):
            row: dict[str, Any] = {"factor": p.factor, "cap": p.cap, "status": p.status,
                                   "alignment": p.alignment, "expected_cost": p.expected_cost,
                                   "cvar": p.cvar, "frontier": on}
            for r in self.roles:
                row[f"cost.{r}"] = p.role_cost.get(r)
            for r in self.roles:
                row[f"alignment.{r}"] = p.role_alignment.get(r)
            for r in self.roles:
                row[f"next_dollar.{r}"] = None if nxt is None else nxt["shares"][r]
            row["alignment_per_million"] = None if nxt is None else nxt["alignment_per_million"]
            for r in self.roles:
                row[f"metrics.{r}"] = p.role_metrics.get(r, "")
            row["reason"] = p.reason
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``sweep.json``)."""
        return {"schema": SCHEMA, "org": self.org, "currency": self.currency,
                "roles": self.roles, "base": self.base, "base_source": self.base_source,
                "points": self.to_rows()}


def org_base(org: Org) -> tuple[float, str]:
    """What the sweep's factors multiply: the org cap, else the total target incentive."""
    cap = org.spec.budget.expected_cap
    if cap is not None:
        return float(cap), "org.toml [budget] expected_cap"
    return float(sum(r.case.target_incentive.sum() for r in org.roles)), \
        "total target incentive of all roles"


def with_cap(org: Org, cap: float | None) -> Org:
    """The organisation with its expected-cost cap replaced."""
    budget = org.spec.budget.model_copy(update={"expected_cap": cap})
    return replace(org, spec=org.spec.model_copy(update={"budget": budget}))


def sweep_org(org: Org, start: float, stop: float, count: int, *,
              time_limit: float | None = None,
              coefficients: list[Coefficients] | None = None,
              progress: Callable[[str], None] | None = None,
              earlier: dict[float, dict[str, Any]] | None = None) -> OrgSweep:
    """Design the organisation's plans at ``count`` expected-cost caps.

    Parameters
    ----------
    org : Org
        A loaded organisation.
    start, stop : float
        The first and last factor of the base (:func:`org_base`).
    count : int
        How many caps, evenly spaced.
    time_limit : float, optional
        Seconds per solve.
    coefficients : list of Coefficients, optional
        Each role's coefficients when already computed.
    progress : callable, optional
        Called with a line of text at each step.
    earlier : dict, optional
        Points of an earlier run (``sweep.json``), by cap: a cap solved then is kept
        (``--resume``). Ctrl-C stops the loop: caps not reached are ``"not solved"``.

    Returns
    -------
    OrgSweep
        Every cap's plans (or why there are none), the frontier and the next dollar.
    """
    from compplan.optimizer.org import org_coefficients
    from compplan.optimizer.org_pipeline import optimise_org

    say = progress or (lambda _: None)
    if coefficients is None:
        say("computing coefficients")
        coefficients = org_coefficients(org)
    base, source = org_base(org)
    points = []
    stopped = False
    for factor in np.linspace(start, stop, count):
        cap = round(float(factor) * base, 2)
        kept = _kept_point(org, (earlier or {}).get(cap), {}, cap)
        if kept is not None or stopped:
            points.append(replace(kept, factor=float(factor)) if kept is not None else
                          SweepPoint(float(factor), cap, NOT_SOLVED, reason="interrupted"))
            continue
        say(f"solving at cap {cap:,.0f}")
        try:
            out = optimise_org(with_cap(org, cap), time_limit=time_limit,
                               coefficients=coefficients, diagnosis="short", prices=False)
        except KeyboardInterrupt:
            stopped = True
            points.append(SweepPoint(float(factor), cap, NOT_SOLVED, reason="interrupted"))
            continue
        except InfeasibleError as exc:
            points.append(SweepPoint(float(factor), cap, "infeasible", reason=str(exc)))
            continue
        except SolverLimitError as exc:
            points.append(SweepPoint(float(factor), cap, "limit", reason=str(exc)))
            continue
        doc = out.document
        points.append(SweepPoint(
            float(factor), cap, doc["status"], doc["objective"]["alignment"],
            doc["objective"]["expected_cost"], doc["evaluation"]["cvar"]
            if doc["evaluation"]["cvar"] is not None else None,
            {r["id"]: r["expected_cost"] for r in doc["roles"]},
            {r["id"]: r["alignment"] for r in doc["roles"]},
            {r["id"]: "+".join(m["id"] for m in r["plan"]["metrics"] if m["weight"] > 1e-9)
             for r in doc["roles"]}))
    return OrgSweep(org.name, org.currency, [r.id for r in org.roles],
                    {r.id: r.label for r in org.roles}, base, source, points)



# ----------------------------------------------------------------------------- batch

#: The org.toml keys a batch may change: the organisation's caps and coherence switches.
BATCH_KEYS = ("budget.expected_cap", "budget.cvar_cap", "budget.cvar_level",
              "coherence.no_opposing", "coherence.cover_goals")


def org_candidate(org: Org, params: dict[str, Any], source: str, where: str) -> Org:
    """The organisation with a batch candidate's ``org.toml`` keys applied and checked.

    Parameters
    ----------
    org : Org
        The base organisation.
    params : dict
        Dotted ``org.toml`` key (one of :data:`BATCH_KEYS`) to its value.
    source, where : str
        The spec file and the candidate (``[grid]``, ``[[candidates]] #2``), for messages.

    Returns
    -------
    Org
        The candidate organisation.

    Raises
    ------
    CaseError
        A key outside :data:`BATCH_KEYS`, or a value ``org.toml`` does not allow.
    """
    from pydantic import ValidationError

    from compplan.errors import CaseError

    data = org.spec.model_dump()
    for key, value in params.items():
        if key not in BATCH_KEYS:
            raise CaseError(source, f"{where}: not a key a batch over an "
                                    f"organisation can change (allowed: "
                                    f"{', '.join(BATCH_KEYS)})", field=key)
        table, _, name = key.partition(".")
        data[table][name] = value
    try:
        spec = type(org.spec).model_validate(data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field_name = ".".join(str(p) for p in problem["loc"])
        raise CaseError(source, f"{where}: {field_name}: {problem['msg']}",
                        field=field_name) from None
    return replace(org, spec=spec)


#: The status of a candidate a stopped organisation batch did not reach.
NOT_SOLVED = "not solved"


def _kept_point(org: Org, row: dict[str, Any] | None, params: dict[str, Any],
                cap: float | None) -> SweepPoint | None:
    """An earlier run's row as a point, when it was solved with the same parameters."""
    if not row or row.get("status") in (None, NOT_SOLVED):
        return None
    if {k[len("param."):]: v for k, v in row.items() if k.startswith("param.")} != params:
        return None
    ids = [r.id for r in org.roles]

    def number(value: Any) -> float | None:
        return None if value is None or value == "" else float(value)

    return SweepPoint(math.nan, cap or math.nan, str(row["status"]),
                      number(row.get("alignment")), number(row.get("expected_cost")),
                      number(row.get("cvar")),
                      {r: float(row[f"cost.{r}"]) for r in ids
                       if row.get(f"cost.{r}") is not None},
                      {r: float(row[f"alignment.{r}"]) for r in ids
                       if row.get(f"alignment.{r}") is not None},
                      {r: str(row.get(f"metrics.{r}") or "") for r in ids
                       if row.get(f"metrics.{r}")},
                      str(row.get("reason") or ""))


def batch_org(org: Org, candidates: list[tuple[str, str, dict[str, Any], str]], source: str,
              *,
              time_limit: float | None = None,
              progress: Callable[[str], None] | None = None,
              earlier: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Design the organisation's plans for every candidate of a batch spec.

    Every candidate is checked before anything is solved; the coefficients are
    computed once (the keys a batch changes leave them as they are). Ctrl-C stops
    the loop: the candidates not solved have status ``"not solved"`` (the rest are
    kept, and ``earlier`` takes them back on ``--resume``).

    Parameters
    ----------
    org : Org
        The base organisation.
    candidates : list of (id, name, params, where)
        The spec's candidates, ``params`` in dotted ``org.toml`` keys, ``where`` the
        place in the spec (``[grid]``, ``[[candidates]] #2``).
    source : str
        The spec file, for messages.
    time_limit : float, optional
        Seconds per solve.
    progress : callable, optional
        Called with a line of text at each step.
    earlier : dict, optional
        Rows of an earlier run of the same spec, by candidate id: a row with the same
        parameters that was solved is kept rather than solved again (``--resume``).

    Returns
    -------
    list of dict
        One row per candidate (``results.csv``): id, name, parameters, status,
        alignment, expected payout, CVaR, each role's payout and metrics, ``frontier``.
    """
    from compplan.optimizer.org import org_coefficients
    from compplan.optimizer.org_pipeline import optimise_org

    say = progress or (lambda _: None)
    checked = [(cid, name, params, org_candidate(org, params, source,
                                                 f"{where}, candidate {cid}"))
               for cid, name, params, where in candidates]
    say("computing coefficients")
    coefficients = org_coefficients(org)
    points: list[SweepPoint] = []
    stopped = False
    for cid, _, params, cand in checked:
        cap = cand.spec.budget.expected_cap
        kept = _kept_point(org, (earlier or {}).get(cid), params, cap)
        if kept is not None or stopped:
            points.append(kept or SweepPoint(math.nan, cap or math.nan, NOT_SOLVED,
                                             reason="interrupted"))
            continue
        say(f"solving {cid}")
        try:
            out = optimise_org(cand, time_limit=time_limit, coefficients=coefficients,
                               diagnosis="short", prices=False)
        except KeyboardInterrupt:
            stopped = True
            points.append(SweepPoint(math.nan, cap or math.nan, NOT_SOLVED,
                                     reason="interrupted"))
            continue
        except (InfeasibleError, SolverLimitError) as exc:
            status = "infeasible" if isinstance(exc, InfeasibleError) else "limit"
            points.append(SweepPoint(math.nan, cap or math.nan, status, reason=str(exc)))
            continue
        doc = out.document
        points.append(SweepPoint(
            math.nan, cap or math.nan, doc["status"], doc["objective"]["alignment"],
            doc["objective"]["expected_cost"], doc["evaluation"]["cvar"],
            {r["id"]: r["expected_cost"] for r in doc["roles"]},
            {r["id"]: r["alignment"] for r in doc["roles"]},
            {r["id"]: "+".join(m["id"] for m in r["plan"]["metrics"] if m["weight"] > 1e-9)
             for r in doc["roles"]}))
    sweep = OrgSweep(org.name, org.currency, [r.id for r in org.roles],
                     {r.id: r.label for r in org.roles}, math.nan, source, points)
    rows = []
    for (cid, name, params, _), row in zip(checked, sweep.to_rows(), strict=True):
        for key in ("factor", "cap", "alignment_per_million"):
            row.pop(key)
        for r in sweep.roles:
            row.pop(f"next_dollar.{r}")
        rows.append({"id": cid, "name": name, **{f"param.{k}": v for k, v in params.items()},
                     **row})
    return rows
