"""What the studio holds for one case, and the documents its JSON endpoints return.

The case is read and its coefficients computed once, when the studio starts; every
slider move is a state (:mod:`compplan.studio.state`) evaluated from them with
numpy (linear in weights and rates, tails by partial sort), never re-reading files.
Plans the solver designs are kept by their settings, so two tabs asking for the
same Optimise share one answer and neither changes what the other shows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compplan.api import load_case
from compplan.errors import CompplanError, UsageError
from compplan.models.case import CURRENT_PLAN, Case
from compplan.models.money import money_per, periods_per_year
from compplan.models.plan import Plan, load_plan
from compplan.models.whatif import apply_modifiers
from compplan.optimizer.coefficients import Coefficients, compute_coefficients
from compplan.optimizer.evaluate import (
    evaluate_plan,
    expected_revenue,
    plan_payouts,
    segment_column,
)
from compplan.optimizer.understand import readings
from compplan.render.figures import cells, columns_of, headers, side_by_side
from compplan.studio.state import (
    LIMITS,
    SOLVED,
    FieldError,
    State,
    StateError,
    parse_state,
    query,
    solver_case,
)

#: The schema of the evaluation document (``GET /api/evaluate``).
SCHEMA = "compplan.studio.evaluation/1"
#: What the page names a plan by its ``plan`` parameter.
PLAN_NAMES = {"optimised": "optimised", "rounded": "rounded", "min-budget": "min budget"}


@dataclass
class Solved:
    """A plan the solver designed (or why there is none), kept by its settings.

    Attributes
    ----------
    status : str
        ``optimal``, ``time_limit``, ``infeasible`` or ``no_solution``.
    message : str
        One line saying how it ended.
    plan : Plan or None
        The plan, when one was found.
    diagnosis : dict or None
        When infeasible: the conflicting rules and the smallest fix.
    rounding : dict or None
        With ``plan=rounded``: what rounding cost against the unrounded optimum.
    seconds : float
        The solve's wall time.
    """

    status: str
    message: str
    plan: Plan | None = None
    diagnosis: dict[str, Any] | None = None
    rounding: dict[str, Any] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the plan)."""
        return {"status": self.status, "message": self.message, "diagnosis": self.diagnosis,
                "rounding": self.rounding, "seconds": self.seconds}


class NeedsSolve(CompplanError):
    """The state starts from a plan the solver has not designed yet in this studio."""

    exit_code = 2


class NoPlan(CompplanError):
    """The solver found no plan under the state's settings; ``solved`` says why."""

    exit_code = 3

    def __init__(self, solved: Solved) -> None:
        super().__init__(solved.message)
        self.solved = solved


@dataclass
class Session:
    """A case, its coefficients and the plans a studio can start from.

    Attributes
    ----------
    case : Case
        The case, as read when the studio started.
    coeffs : Coefficients
        Its coefficients, computed once.
    revenue : float or None
        Its expected revenue, computed once.
    plans : dict of str to Plan
        Plans to start from: ``current`` (when the case has one) and the plan file
        the studio was started with, by the reference given.
    solved : dict of str to Solved
        Plans the solver designed, by :meth:`State.settings_key`.
    best : float or None
        The best alignment within the case's guardrails (None until known, or
        when no plan fits them).
    lock : threading.Lock
        Guards ``solved`` and ``best`` (evaluations run in threads).
    jobs : dict
        Solves under way, by settings (:func:`compplan.studio.solving.design`).
    segment_attainment : dict
        Each segment's mean attainment of each metric over the case's history (the
        periods a rep was on the plan), by segment then metric.
    actuals : Actuals or None
        The year so far (``--actuals``), read once.
    year_periods : int or None
        Periods in the plan year (``--year-periods``).
    """

    case: Case
    coeffs: Coefficients
    revenue: float | None
    plans: dict[str, Plan]
    solved: dict[str, Solved] = field(default_factory=dict)
    best: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    jobs: dict[str, Any] = field(default_factory=dict)
    segment_attainment: dict[str, dict[str, float]] = field(default_factory=dict)
    actuals: Any = None
    year_periods: int | None = None

    @property
    def plan_files(self) -> tuple[str, ...]:
        """Plan files the studio may start from (not ``current``)."""
        return tuple(k for k in self.plans if k != CURRENT_PLAN)

    @property
    def first_plan(self) -> str:
        """The plan the page starts from: the plan file, ``current``, else ``optimised``."""
        files = self.plan_files
        return files[0] if files else CURRENT_PLAN if CURRENT_PLAN in self.plans else "optimised"

    @property
    def inputs(self) -> list[Path]:
        """Files the studio read: no output may replace one of them."""
        folder = [] if self.case.path is None else [self.case.path]
        return [*folder, *(Path(p) for p in self.plan_files)]

    def set_best(self, plan: Plan) -> None:
        """Take ``plan`` (the case's optimised plan) as the best within its guardrails."""
        best = evaluate_plan(self.case, self.coeffs, plan, revenue=self.revenue).alignment
        with self.lock:
            self.best = best

    def parse(self, text: str | list[tuple[str, str]]) -> State:
        """A state from its query string (:func:`~compplan.studio.state.parse_state`)."""
        return parse_state(text, self.case, self.plan_files)

    def settings_case(self, state: State) -> Case:
        """The case with the state's limits and locks."""
        return solver_case(self.case, state)

    def start(self, state: State) -> Plan:
        """The plan the state starts from, before its modifiers.

        Raises
        ------
        NeedsSolve
            A solved plan not designed yet (``POST /api/solve`` designs it).
        NoPlan
            The solver found none under those settings.
        """
        if not state.solved:
            if state.plan not in self.plans:
                raise StateError([FieldError("plan", 0, state.plan,
                                             "the case has no current_plan.toml")])
            return self.plans[state.plan]
        with self.lock:
            found = self.solved.get(state.settings_key())
        if found is None:
            raise NeedsSolve(f"plan={state.plan}: not designed yet under these settings")
        if found.plan is None:
            raise NoPlan(found)
        return found.plan

    def plan(self, state: State) -> Plan:
        """The state's plan: its starting plan with the modifiers applied.

        Raises
        ------
        StateError
            A modifier cannot apply (naming it).
        """
        base = self.start(state)
        if not state.modifiers:
            return base
        try:
            return apply_modifiers(self.case, base, state.modifiers)
        except UsageError as exc:
            text = str(exc)
            for i, mod in enumerate(state.modifiers):
                if text.startswith(mod.text + ":"):
                    option, _, value = mod.text.partition(" ")
                    param = option.removeprefix("--")
                    index = sum(1 for m in state.modifiers[:i] if m.text.startswith(option))
                    raise StateError([FieldError(param, index, value,
                                                 text.removeprefix(mod.text + ": "))]) from None
            raise StateError([FieldError("set", 0, "", text)]) from None

    # ------------------------------------------------------------------ documents

    def info(self) -> dict[str, Any]:
        """The case as the page needs it (``GET /api/case``)."""
        case, spec = self.case, self.case.spec
        metrics = []
        for k in case.metric_ids:
            m = case.metric(k)
            low, high = case.weight_bounds(k)
            metrics.append({"id": k, "label": m.label or k, "threshold": m.threshold,
                            "cap": m.cap, "min_weight": low, "max_weight": high,
                            "required": m.required, "forbidden": m.forbidden})
        limits = {}
        for name, allowed in LIMITS.items():
            section, key = name.split(".")
            limits[name] = {"value": getattr(getattr(spec, section), key), "allowed": allowed}
        return {
            "case": case.name, "currency": spec.case.currency, "per": money_per(case),
            "periods_per_year": periods_per_year(case), "metrics": metrics,
            "design": {"accelerator_min": spec.design.accelerator_min,
                       "accelerator_max": spec.design.accelerator_max,
                       "max_metrics": spec.design.max_metrics},
            "cvar_level": spec.budget.cvar_level, "limits": limits,
            "plans": list(self.plans), "solved": list(SOLVED), "first_plan": self.first_plan,
            "actuals": None if self.actuals is None else self.actuals.file,
            "reps": len(case.reps), "scenarios": int(self.coeffs.scen_w.shape[0]),
        }

    def document(self, state: State) -> dict[str, Any]:
        """The state's plan, its evaluation and what the charts draw (``GET /api/evaluate``).

        ``evaluation`` is the ``evaluation`` block of ``compplan evaluate``'s
        ``evaluation.json`` (its ``whatif.evaluation`` for the same modifiers), under
        the state's limits. ``response`` is the evaluation's figures under the case's
        response model (MODEL.md section 10) when the evaluation carries them, else
        None; the page shows them beside the static figures when present.
        """
        case = self.settings_case(state)
        plan = self.plan(state)
        pay = plan_payouts(case, self.coeffs, plan)
        ev = evaluate_plan(case, self.coeffs, plan, revenue=self.revenue, payouts=pay)
        doc: dict[str, Any] = {
            "schema": SCHEMA, "case": case.name, "currency": case.spec.case.currency,
            "per": money_per(case), "state": query(state),
            "plan": {"name": self.name(state), "source": state.plan,
                     "metrics": plan.to_records(), "notes": plan.written_notes(self.case)},
            "evaluation": ev.to_dict(),
            "readings": self._readings(case, plan, ev.alignment),
            "limits": {name: _limit_value(case, name) for name in LIMITS},
            "charts": {"totals": _histogram(pay.totals, int(np.clip(len(pay.totals) // 3, 6, 40))),
                       "shares": _histogram(pay.shares, int(np.clip(len(pay.shares) // 20, 8, 40))),
                       "curves": self._curves(plan)},
            "response": _response(ev),
            "segment_attainment": {
                group: {m.id: by_metric[m.id] for m in plan.metrics}
                for group, by_metric in self.segment_attainment.items()},
        }
        if state.solved:
            with self.lock:
                found = self.solved.get(state.settings_key())
            if found is not None:
                doc["solve"] = found.to_dict()
        return doc

    def name(self, state: State) -> str:
        """How the page names a state's plan: its start, with ``what-if`` after modifiers."""
        base = PLAN_NAMES.get(state.plan, Path(state.plan).stem if state.plan != CURRENT_PLAN
                              else CURRENT_PLAN)
        return f"{base} what-if" if state.modifiers else base

    def _readings(self, case: Case, plan: Plan, alignment: float) -> dict[str, Any] | None:
        try:
            found = readings(case, self.coeffs, plan, alignment, self.best)
        except (CompplanError, ValueError):  # a written plan without canonical vectors
            return None
        return found.to_dict()

    def _curves(self, plan: Plan) -> list[dict[str, Any]]:
        """Each metric's payout curve as points (exact: every curve is piecewise linear)."""
        reference = self.plans.get(CURRENT_PLAN)
        out = []
        for m in plan.metrics:
            x = _kinks([m, *(r for r in (reference.metrics if reference else ()) if r.id == m.id)])
            ref = ([r for r in reference.metrics if r.id == m.id] if reference else [])
            out.append({"id": m.id, "label": m.label, "x": x.tolist(),
                        "y": m.payout(x).tolist(),
                        "current": ref[0].payout(x).tolist() if ref else None,
                        "gate": m.gate.words() if m.gate is not None else None})
        return out

    def pulse(self, state: State) -> dict[str, Any]:
        """The year so far under the state's plan, as ``compplan pulse`` (``GET /api/pulse``).

        ``pulse.json`` of ``compplan pulse CASE PLAN --actuals FILE`` without the re-tune
        (``"retune": null``): what the plan paid to date against what it was designed to
        pay, the forecast and its band, every guardrail now and projected, the drift.

        Raises
        ------
        StateError
            The studio has no actuals, or they lack a column for a metric of the plan.
        """
        from compplan.optimizer.pulse import pulse_check

        if self.actuals is None:
            raise StateError([FieldError("actuals", 0, "", "the studio was started without "
                                                           "--actuals FILE")])
        plan = self.plan(state)
        missing = [m.id for m in plan.metrics if m.id not in self.actuals.metric_ids]
        if missing:
            raise StateError([FieldError("actuals", 0, self.actuals.file,
                                         f"{self.actuals.file} has no column for "
                                         f"{', '.join(missing)} (a metric of the plan)")])
        checked = pulse_check(self.settings_case(state), plan, self.actuals,
                              year_periods=self.year_periods, coefficients=self.coeffs,
                              retune_plan=False)
        return {**checked.document, "state": query(state)}

    def compare(self, states: list[State]) -> dict[str, Any]:
        """Plans side by side, as ``compplan compare`` shows them (``GET /api/compare``)."""
        named = []
        taken: set[str] = set()
        for state in states:
            plan = self.plan(state)
            name, n = self.name(state), 2
            while name in taken:
                name, n = f"{self.name(state)} #{n}", n + 1
            taken.add(name)
            case = self.settings_case(state)
            named.append((name, plan, evaluate_plan(case, self.coeffs, plan,
                                                    revenue=self.revenue)))
        columns = columns_of(self.case, named, self.coeffs)
        frame = side_by_side(columns)
        return {"headers": headers(columns),
                "rows": [{"key": key, "section": section, "cells": cells(columns, i),
                          "values": [_plain(c.figures[i].value) for c in columns]}
                         for i, (key, section) in enumerate(zip(frame["key"], frame["section"],
                                                                strict=True))],
                "states": [query(s) for s in states]}


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _limit_value(case: Case, name: str) -> float | None:
    section, key = name.split(".")
    value = getattr(getattr(case.spec, section), key)
    return None if value is None else float(value)


def _histogram(values: np.ndarray, bins: int) -> dict[str, Any]:
    counts, edges = np.histogram(values, bins=bins)
    return {"edges": edges.tolist(), "counts": counts.tolist(),
            "min": float(values.min()), "max": float(values.max())}


def _kinks(metrics: list[Any]) -> np.ndarray:
    """Attainments where any of the metrics' curves bends, 0 and a tenth past the last."""
    points = {0.0, 1.0}
    for m in metrics:
        points |= {m.threshold, m.cap}
        points |= {a for a, _ in (m.curve or ())}
    top = max(points) * 1.1
    near = [a - 1e-9 * max(1.0, a) for a in points if a > 0.0]
    return np.unique(np.array([*points, *near, top], dtype=float))


def _response(ev: Any) -> dict[str, Any] | None:
    """The figures under response (issue 20), when the evaluation carries them."""
    response = getattr(ev, "response", None)
    if response is None:
        return None
    return response.to_dict() if hasattr(response, "to_dict") else dict(response)


def open_session(case_dir: str | Path | None, plan: str | None = None, *,
                 actuals: str | Path | None = None,
                 year_periods: int | None = None) -> Session:
    """Read the case, compute its coefficients once, and load the plans to start from.

    Parameters
    ----------
    case_dir : str or Path, optional
        The case folder (the bundled default case with None).
    plan : str, optional
        A plan file to start from (a plan.json or a TOML plan), besides ``current``.
    actuals : str or Path, optional
        Attainment of the elapsed periods (the form of attainment.csv): the year so far.
    year_periods : int, optional
        Periods in the plan year (default: ``[case] periods_per_year``, else the
        periods of the case's history).

    Returns
    -------
    Session
        Ready to evaluate states.

    Raises
    ------
    CaseError
        The case or the plan file is malformed.
    """
    case = load_case(case_dir)
    plans: dict[str, Plan] = {}
    if case.current_plan is not None:
        plans[CURRENT_PLAN] = load_plan(case, CURRENT_PLAN)
    if plan is not None and plan != CURRENT_PLAN:
        plans[plan] = load_plan(case, plan)
    read = None
    if actuals is not None:
        from compplan.models.actuals import read_actuals

        read = read_actuals(actuals, case, [])
    return Session(case, compute_coefficients(case), expected_revenue(case), plans,
                   segment_attainment=segment_attainment(case), actuals=read,
                   year_periods=year_periods)


def segment_attainment(case: Case) -> dict[str, dict[str, float]]:
    """Each segment's mean attainment of each metric in the case's history.

    Over the rep-periods on the plan (``[scenarios] allow_absent``), by the column
    segments are reported by (:func:`~compplan.optimizer.evaluate.segment_column`).

    Parameters
    ----------
    case : Case
        The case.

    Returns
    -------
    dict
        Segment to metric to mean attainment (1.0 = quota); empty without segments.
    """
    column = segment_column(case)
    if column is None:
        return {}
    labels, codes = np.unique(case.reps[column].to_numpy(dtype=str), return_inverse=True)
    x = case.attainment
    if case.present is None:
        sums = x.sum(axis=2, dtype=np.float64)
        counts = np.full(x.shape[0], float(x.shape[2]))
    else:
        sums = (x * case.present[:, None, :]).sum(axis=2, dtype=np.float64)
        counts = case.present.sum(axis=1).astype(np.float64)
    group_counts = np.bincount(codes, weights=counts)
    return {str(label): {k: float(np.bincount(codes, weights=sums[:, j])[i] / group_counts[i])
                         if group_counts[i] > 0 else float("nan")
                         for j, k in enumerate(case.metric_ids)}
            for i, label in enumerate(labels)}
