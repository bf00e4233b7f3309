"""A case from pandas DataFrames (:meth:`compplan.models.case.Case.from_frames`).

The tables go through the same readers and checks as a case folder's files, so a
DataFrame is held to exactly the rules of MODEL.md section 1 (and section 11 for a
ledger); the case that results has no folder (``path`` None).
"""

from __future__ import annotations

import tempfile
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from compplan.errors import CaseError
from compplan.models.case import (
    CASE_FILE,
    CURRENT_PLAN_FILE,
    Case,
    _check_revenue,
    case_from_ledger,
    check_goals,
    check_plan,
    read_attainment,
    read_quotas,
    read_reps,
    read_response,
    validate_model,
)
from compplan.models.schema import CaseSpec, PlanSpec

#: What a table given as a frame stands in for, in ``[source]``.
FRAME = "<DataFrame>"


def _frame(name: str, value: object) -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        raise CaseError(name, f"must be a pandas DataFrame, got {type(value).__name__}")
    return value


def _spec(spec: dict[str, Any] | str, *, transactions: bool, quota_plan: bool,
          calendar: bool) -> CaseSpec:
    if isinstance(spec, str):
        try:
            data = tomllib.loads(spec)
        except tomllib.TOMLDecodeError as exc:
            raise CaseError(CASE_FILE, f"is not valid TOML: {exc}") from None
    elif isinstance(spec, dict):
        data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in spec.items()}
    else:
        raise CaseError(CASE_FILE, "must be given as a dict or as TOML text, got "
                                   f"{type(spec).__name__}")
    source = data.get("source")
    if isinstance(source, dict):
        source = dict(source)
        if transactions:
            source.setdefault("transactions", FRAME)
        if quota_plan:
            source.setdefault("quotas", FRAME)
        if calendar and "period" not in source:
            source.setdefault("calendar", FRAME)
        data["source"] = source
    parsed: CaseSpec = validate_model(Path(CASE_FILE), CaseSpec, data)
    check_goals(parsed, CASE_FILE)
    return parsed


def case_from_frames(spec: dict[str, Any] | str, reps: pd.DataFrame,
                     attainment: pd.DataFrame | None = None, *,
                     transactions: pd.DataFrame | None = None,
                     quota_plan: pd.DataFrame | None = None,
                     calendar: pd.DataFrame | None = None,
                     quotas: pd.DataFrame | None = None,
                     current_plan: dict[str, Any] | None = None) -> Case:
    """See :meth:`compplan.models.case.Case.from_frames`."""
    from compplan.models.ledger import LedgerInputs, build_ledger
    from compplan.models.sources import FrameSource
    from compplan.models.tables import read_table

    parsed = _spec(spec, transactions=transactions is not None,
                   quota_plan=quota_plan is not None, calendar=calendar is not None)
    metric_ids = tuple(parsed.metrics)
    with tempfile.TemporaryDirectory(prefix="compplan-frames-") as tmp:
        folder = Path(tmp)

        def written(name: str, frame: object) -> Path:
            path = folder / name
            _frame(name, frame).to_csv(path, index=False)
            return path

        rep_table = read_reps(written("reps.csv", reps), parsed)
        current = None
        if current_plan is not None:
            if not isinstance(current_plan, dict):
                raise CaseError(CURRENT_PLAN_FILE, "must be given as a dict")
            current = validate_model(Path(CURRENT_PLAN_FILE), PlanSpec, current_plan)
            check_plan(CURRENT_PLAN_FILE, current, parsed)
        quota_path = None if quotas is None else written("quotas.csv", quotas)
        if parsed.source is not None:
            if attainment is not None:
                raise CaseError(CASE_FILE, "has a [source] table, but an attainment table was "
                                           "given too: attainment comes from one of them",
                                field="[source]")
            if transactions is None or quota_plan is None:
                raise CaseError(CASE_FILE, "a case from frames with [source] needs the "
                                           "transactions and quota_plan frames",
                                field="[source]")
            cal = None
            if calendar is not None:
                cal = read_table(written("calendar.csv", calendar), ["period", "start", "end"],
                                 ["period", "start", "end"])
            inputs = LedgerInputs(
                FrameSource("transactions", _frame("transactions", transactions)),
                written("quota_plan.csv", quota_plan), "quota_plan.csv", cal, "calendar.csv")
            ledger = build_ledger(parsed, rep_table, inputs)
            case = case_from_ledger(None, parsed, rep_table, ledger, quota_path, current)
            return replace(case, path=None)
        if attainment is None:
            raise CaseError("attainment.csv", "is required: give the attainment frame (or a "
                                              "[source] with transactions and quota_plan)")
        x, periods, present = read_attainment(
            written("attainment.csv", attainment), rep_table, metric_ids,
            allow_absent=parsed.scenarios.allow_absent)
        if not x.any():
            raise CaseError("attainment.csv", "every attainment value is 0: no plan can pay "
                                              "for any result")
        q = None if quota_path is None else read_quotas(quota_path, rep_table, metric_ids)
        _check_revenue(parsed, q, metric_ids)
        # A [response] baseline is a file of a case folder: refused here, saying so.
        read_response(None, parsed, q)
        return Case(None, parsed, rep_table, metric_ids, periods, x, q, current, present)
