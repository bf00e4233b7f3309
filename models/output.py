"""Write a plan to disk: plan.json (MODEL.md section 6), plan.csv, plan.md, rep_rates.csv.

Every file is written to a temporary name and renamed, so a crash never leaves a
half-written plan behind.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compplan.models import fmt
from compplan.models.case import Case
from compplan.models.fastwrite import json_text
from compplan.models.money import annual_note, money_per, periods_per_year
from compplan.models.plan import Plan
from compplan.models.text import markdown_safe, one_line
from compplan.render.safe import csv_text, records_csv

SCHEMA = "compplan.plan/1"


def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file: 0o666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write text (UTF-8, LF line ends) or bytes to ``path`` through a temporary file.

    The temporary file sits in the same folder and is renamed over ``path``, so a
    crash or ``kill -9`` leaves either the old file or the new one, never half of one.
    It is created as a plain ``open()`` creates a file (mode 0o666 less the umask),
    under a name of this process's own (``.<name>.<pid>.<n>``); a name already taken
    (a crashed process's, with the same id) falls back to ``mkstemp``'s random names.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    tmp = f"{path.parent}{os.sep}.{path.name}.{os.getpid()}.{next(_TEMPORARIES)}"
    try:
        fd = os.open(tmp, _CREATE, 0o666)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, _CREATE, 0o666)
    except FileExistsError:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        # mkstemp makes the file private (0600); outputs are shared like any file.
        os.fchmod(fd, _file_mode())
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Flags of a new temporary output file: never an existing one (or a link's target).
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) \
    | getattr(os, "O_BINARY", 0)
_TEMPORARIES = itertools.count()


def prepare_folder(folder: Path) -> list[Path]:
    """Create ``folder`` if need be and check a file can be written in it.

    Called before a long solve, so that a folder that cannot be written fails at once.

    Returns
    -------
    list of Path
        The folders created, deepest first (for :func:`remove_if_empty`).

    Raises
    ------
    OSError
        The folder cannot be created or written to.
    """
    created = []
    parent = folder
    while not parent.exists() and parent != parent.parent:
        created.append(parent)
        parent = parent.parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass
    return created


def remove_if_empty(folders: list[Path]) -> None:
    """Remove folders made by :func:`prepare_folder` that are still empty, deepest first."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON document atomically, with NaN as null."""
    write_atomic(path, json_text(data))


def plan_document(case: Case, plan: Plan, status: str, evaluation: dict[str, Any],
                  solver: dict[str, Any]) -> dict[str, Any]:
    """The ``plan.json`` document.

    Parameters
    ----------
    case : Case
        The case the plan was designed for.
    plan : Plan
        The plan.
    status : str
        ``optimal`` or ``time_limit``.
    evaluation : dict
        The plan's evaluation (``Evaluation.to_dict()``).
    solver : dict
        ``name``, ``version``, ``mip_gap`` and any further solver figures (no wall
        times: they go to the run record).

    Returns
    -------
    dict
        JSON-ready, with the keys of MODEL.md section 6.
    """
    return {
        "schema": SCHEMA,
        "case": case.name,
        "currency": case.spec.case.currency,
        # Only when set, so plans of per-period cases stay byte for byte as they were.
        **({"periods_per_year": periods_per_year(case)} if periods_per_year(case) else {}),
        "status": status,
        "objective": {"alignment": evaluation["alignment"],
                      "expected_cost": evaluation["expected_cost"]},
        "metrics": plan.to_records(),
        "evaluation": evaluation,
        "solver": solver,
    }


def run_record(started: float, solver_seconds: float | None) -> dict[str, Any]:
    """When and how long: kept in ``run.json``, apart from the plan.

    The plan holds no timings, dates or paths (MODEL.md section 6), so the same case
    gives a byte-identical ``plan.json``; the wall times of the run are kept here.
    """
    return {"started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started, 3),
            "solver_seconds": None if solver_seconds is None else round(solver_seconds, 3)}


def rep_rates(case: Case, plan: Plan) -> pd.DataFrame | None:
    """Each rep's rates in currency per unit of metric, where quotas are known.

    From ``quotas.csv`` (one quota per rep and metric), or, for a case from transactions
    (MODEL.md section 11), from each period's own quota: one row per rep, metric and period
    the rep is on the plan, with a ``period`` column.
    """
    if case.period_quotas is not None:
        return _period_rates(case, plan)
    if case.quotas is None:
        return None
    ti = case.target_incentive
    frames = []
    for metric in plan.metrics:
        quota = case.quotas[:, case.metric_ids.index(metric.id)]
        with np.errstate(invalid="ignore"):
            frames.append(pd.DataFrame({
                "rep_id": case.reps.index, "metric": metric.id, "quota": quota,
                "base_rate_per_unit": ti * metric.base_rate / quota,
                "accelerator_rate_per_unit": ti * metric.accelerator_rate / quota,
            }))
    return pd.concat(frames, ignore_index=True) if frames else None


def _period_rates(case: Case, plan: Plan) -> pd.DataFrame | None:
    assert case.period_quotas is not None
    ti = case.target_incentive
    frames = []
    for metric in plan.metrics:
        quota = case.period_quotas[:, case.metric_ids.index(metric.id), :]
        reps, periods = np.nonzero(np.isfinite(quota))
        q = quota[reps, periods]
        frames.append(pd.DataFrame({
            "rep_id": case.reps.index[reps], "metric": metric.id,
            "period": np.asarray(case.periods, dtype=object)[periods], "quota": q,
            "base_rate_per_unit": ti[reps] * metric.base_rate / q,
            "accelerator_rate_per_unit": ti[reps] * metric.accelerator_rate / q,
        }))
    return pd.concat(frames, ignore_index=True) if frames else None


def plan_markdown(doc: dict[str, Any]) -> str:
    """The plan for a person: what it pays for, the rates, and how it fares."""
    ev = doc["evaluation"]
    cur = doc.get("currency", "")
    lines = [f"# Plan for {one_line(doc['case'])}", "",
             f"Status: **{doc['status']}**. Expected alignment with the strategy "
             f"**{doc['objective']['alignment']:.4f}**; expected total payout "
             f"**{fmt.money(doc['objective']['expected_cost'], cur)}** {money_per(doc)}.", "",
             "## What the plan pays for", "",
             "| metric | weight | pays from | base rate | accelerator rate | "
             "accelerator multiple | stops at |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for m in doc["metrics"]:
        label = one_line(m["label"]).replace("|", "/")
        lines.append(f"| {label} | {m['weight']:.1%} | {m['threshold']:.0%} | "
                     f"{m['base_rate']:.3f} | {m['accelerator_rate']:.3f} | "
                     f"{m['accelerator_multiple']:.2f}x | {m['cap']:.0%} |")
    lines += ["", "A rep at exactly 100 % on every metric earns exactly the target incentive. "
              "Rates are shares of target incentive per unit of attainment (1.0 = 100 % "
              "of quota): the base rate up to target, the accelerator rate above it.", "",
              "## How it fares", "",
              f"- Total payout {money_per(doc)}: P10 {fmt.money(ev['total_p10'])}, P50 "
              f"{fmt.money(ev['total_p50'])}, P90 {fmt.money(ev['total_p90'], cur)}",
              f"- Share of reps expected at or above target: "
              f"{ev['share_reps_at_or_above_target']:.0%}",
              f"- Top {ev['top_share']:.0%} of reps earn on average "
              f"{ev['top_tail_mean']:.2f}x target; bottom {ev['bottom_share']:.0%} earn "
              f"{ev['bottom_tail_mean']:.2f}x",
              f"- Most any rep can earn: {ev['max_payout_multiple']:.2f}x target"]
    if ev["cvar"] is not None:
        lines.append(f"- Mean total payout in the worst {1 - ev['cvar_level']:.0%} of "
                     f"scenarios (CVaR): {fmt.money(ev['cvar'], cur)}{annual_note(doc)}")
    if ev["guardrails"]:
        prices = {p["guardrail"]: p for p in doc.get("guardrail_prices", [])}
        lines += ["", "## Guardrails", "",
                  "Loosening 1 %: the alignment a re-solve finds with the limit loosened by "
                  "1 % of its value. Marginal price: alignment per unit of loosening, which "
                  "holds while the limit stays in the range shown.", "",
                  "| guardrail | value | limit | slack | met | alignment from loosening 1 % "
                  "| marginal price | price holds for limits |",
                  "|---|---:|---:|---:|:-:|---:|---:|---|"]
        for g in ev["guardrails"]:
            figures = [fmt.check(g["name"], g[k], g["unit"]) for k in ("value", "limit", "slack")]
            lines.append(f"| {g['setting']} | {' | '.join(figures)} | "
                         f"{'yes' if g['ok'] else 'NO'} | "
                         + _price_cells(prices.get(g["name"])) + " |")
    return "\n".join(lines) + "\n"


def _price_cells(price: dict[str, Any] | None) -> str:
    """The price columns of a guardrail's row in ``plan.md`` (blank when not priced)."""
    if price is None:
        return " | | "
    low, high = price.get("valid_from"), price.get("valid_to")
    # An organisation's role prices carry no range (the joint LP's dual only): None once
    # read back from plan.json, NaN in the document as built.
    held = ("not computed" if any(v is None or math.isnan(v) for v in (low, high))
            else fmt.limits(low, high, bool(price.get("valid_from_open")),
                            bool(price.get("valid_to_open"))))
    return (f"{price['per_percent']:.4g} | {price['shadow_price']:.4g} {price['unit']} | "
            f"{held}")


def write_plan(out: Path, case: Case, plan: Plan, doc: dict[str, Any]) -> list[Path]:
    """Write ``plan.json``, ``plan.csv``, ``plan.md`` and (with quotas) ``rep_rates.csv``.

    Returns
    -------
    list of Path
        The files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "plan.json", out / "plan.csv", out / "plan.md"]
    write_json(written[0], doc)
    write_atomic(written[1], records_csv(plan.to_records()))
    write_atomic(written[2], markdown_safe(plan_markdown(doc)))
    rates = rep_rates(case, plan)
    if rates is not None:
        written.append(out / "rep_rates.csv")
        write_atomic(written[-1], csv_text(rates))
    return written
