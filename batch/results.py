"""A finished batch: the results table, the alignment-cost frontier, its chart and summary."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from compplan.batch.frontier import non_dominated
from compplan.batch.run import coefficient_key, with_priorities
from compplan.models import fmt
from compplan.models.money import annual_note, money_per
from compplan.models.output import write_atomic
from compplan.models.plan import Plan
from compplan.optimizer.evaluate import evaluate_plan
from compplan.optimizer.verdicts import FEASIBLE
from compplan.render.charts import frontier_chart
from compplan.render.safe import csv_text

if TYPE_CHECKING:
    from compplan.batch.store import Batch


@dataclass(frozen=True)
class BatchReport:
    """A finished batch: one row per candidate, the current plan's point, the files."""

    table: pd.DataFrame
    current: dict[str, Any] | None
    written: list[Path]

    def frontier(self, kind: str = "cost") -> pd.DataFrame:
        """The distinct points of a frontier (:func:`frontier_points`)."""
        return frontier_points(self.table, kind)

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate (``results.csv``), a copy of :attr:`table`."""
        return self.table.copy()


def frontier_points(table: pd.DataFrame, kind: str = "cost") -> pd.DataFrame:
    """The distinct points of a frontier, cheapest first.

    Candidates with the same plan (same metrics, weights and rates, and the same
    figures) are one point, shown by the first of them; ``same_plan`` lists the others
    (a budget cap that no longer binds gives the same plan as every higher one).

    Parameters
    ----------
    table : pandas.DataFrame
        The results table (:func:`results_table`).
    kind : {"cost", "cvar"}
        Alignment against expected cost, or against CVaR.

    Returns
    -------
    pandas.DataFrame
        The frontier's rows with a ``same_plan`` column (a list of ids).
    """
    column = "expected_cost" if kind == "cost" else "cvar"
    rows = table[table[f"frontier_{kind}"]].sort_values([column, "alignment", "id"],
                                                        kind="stable") if len(table) else table
    records = rows.to_dict("records")
    kept: list[int] = []
    same: list[list[str]] = []
    for pos, record in enumerate(records):
        first = next((i for i, k in enumerate(kept) if _same_plan(records[k], record)), None)
        if first is None:
            kept.append(pos)
            same.append([])
        else:
            same[first].append(str(record["id"]))
    points = rows.iloc[kept].copy()
    points["same_plan"] = pd.Series(same, index=points.index, dtype=object)
    return points


def _same_plan(a: dict[Any, Any], b: dict[Any, Any]) -> bool:
    if a["metrics"] != b["metrics"]:
        return False
    return all(abs(float(a[k]) - float(b[k])) <= 1e-7 * max(1.0, abs(float(a[k])))
               for k in ("alignment", "expected_cost", "cvar"))


def same_plan_text(ids: list[str]) -> str:
    """``c0011`` / ``c0011, c0014`` / ``c0011, c0014 … c0025 (15)``: the other candidates."""
    if len(ids) <= 3:
        return ", ".join(ids)
    return f"{ids[0]}, {ids[1]} … {ids[-1]} ({len(ids)})"


def _dotted(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return json.dumps(node, sort_keys=True) if isinstance(node, dict | list) else node


def results_table(batch: Batch, records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per finished candidate, in candidate order.

    ``param.<key>`` holds the key's value in the candidate's case (the base case's
    where the candidate does not set it); ``weight.<metric>`` and ``rate.<metric>``
    the weight and accelerator rate of every candidate metric (0 when not in the plan,
    empty without a plan); ``metrics`` the plan as ``id:weight/rate; ...``.
    """
    ids = batch.case.metric_ids
    index = {c.id: i for i, c in enumerate(batch.spec.candidates)}
    rows = []
    for record in records:
        dumped = batch.specs[index[record["id"]]].model_dump()
        row: dict[str, Any] = {"id": record["id"], "name": record["name"]}
        row.update({f"param.{k}": _dotted(dumped, k) for k in batch.spec.keys})
        row["status"] = record["status"]
        for key in ("alignment", "expected_cost", "cvar", "max_parity_gap"):
            value = record.get(key)
            row[key] = np.nan if value is None else float(value)
        metrics = {m["id"]: m for m in record.get("metrics") or []}
        feasible = record["status"] in FEASIBLE
        row["metrics"] = "; ".join(f"{k}:{m['weight']:.4f}/{m['accelerator_rate']:.4f}"
                                   for k, m in metrics.items()) if feasible else ""
        for k in ids:
            row[f"weight.{k}"] = metrics[k]["weight"] if k in metrics else \
                (0.0 if feasible else np.nan)
        for k in ids:
            row[f"rate.{k}"] = metrics[k]["accelerator_rate"] if k in metrics else \
                (0.0 if feasible else np.nan)
        row["binding"] = "; ".join(record.get("binding") or [])
        row["reason"] = record.get("reason") or ""
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["frontier_cost"] = non_dominated(table["alignment"].to_numpy(),
                                           table["expected_cost"].to_numpy())
    table["frontier_cvar"] = non_dominated(table["alignment"].to_numpy(),
                                           table["cvar"].to_numpy())
    return table


def current_plan_point(batch: Batch) -> dict[str, Any] | None:
    """The case's current plan evaluated under the base case (None without one)."""
    case = batch.case
    if case.current_plan is None:
        return None
    coeffs = batch.coefficients(coefficient_key(case.spec), case.spec)
    plan = Plan.from_spec(case, case.current_plan)
    ev = evaluate_plan(case, with_priorities(coeffs, case), plan)
    return {"alignment": ev.alignment, "expected_cost": ev.expected_cost, "cvar": ev.total_cvar,
            # Today's plan often sits above the frontier because it breaks guardrails.
            "broken": [g.setting for g in ev.violated]}


def write_results(batch: Batch, table: pd.DataFrame, current: dict[str, Any] | None, *,
                  chart: bool = True) -> list[Path]:
    """``results.parquet``, ``results.csv``, ``frontier.csv``, the chart and ``summary.md``."""
    out = batch.out
    written = [out / "results.parquet", out / "results.csv", out / "frontier.csv"]
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    write_atomic(written[0], buffer.getvalue())
    write_atomic(written[1], csv_text(table))
    write_atomic(written[2], csv_text(frontier_rows(table)))
    if chart and not table.empty and table["alignment"].notna().any():
        png, svg = frontier_chart(table, title=_chart_title(batch, table),
                                  currency=batch.case.spec.case.currency, current=current,
                                  per=money_per(batch.case))
        written += [out / "frontier.png", out / "frontier.svg"]
        write_atomic(written[-2], png)
        write_atomic(written[-1], svg)
    else:  # an earlier run's chart would no longer match the results beside it
        for stale in ("frontier.png", "frontier.svg"):
            (out / stale).unlink(missing_ok=True)
    written.append(out / "summary.md")
    write_atomic(written[-1], summary_markdown(batch, table, current))
    return written


def frontier_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Candidates on either frontier, cheapest first, with the columns worth reading."""
    if table.empty:
        return table
    columns = ["id", "name", "alignment", "expected_cost", "cvar", "max_parity_gap",
               "metrics", "binding", "frontier_cost", "frontier_cvar"]
    on = table[table["frontier_cost"] | table["frontier_cvar"]]
    return on.sort_values(["expected_cost", "alignment"], kind="stable")[columns]


def _counts(table: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in table["status"].value_counts().items()} \
        if not table.empty else {}


def _chart_title(batch: Batch, table: pd.DataFrame) -> str:
    counts = _counts(table)
    feasible = sum(counts.get(s, 0) for s in FEASIBLE)
    return (f"{batch.case.name}: {len(table)} candidates, {feasible} with a plan, "
            f"{int(table['frontier_cost'].sum())} on the cost frontier")


def summary_markdown(batch: Batch, table: pd.DataFrame,
                     current: dict[str, Any] | None) -> str:
    """The batch in words: counts, both frontiers, the candidates without a plan."""
    cur = batch.case.spec.case.currency
    counts = _counts(table)
    lines = [f"# Batch: {batch.case.name}", "",
             f"Spec `{batch.spec.source}`, case `{os.path.normpath(batch.case.path)}`: "
             f"{batch.total} candidates over {', '.join(f'`{k}`' for k in batch.spec.keys)}. "
             + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) + ".", ""]
    if len(table) < batch.total:
        lines += [f"**Unfinished**: {batch.total - len(table)} candidates have no result yet "
                  "(run again with `--resume`).", ""]
    if current is not None:
        lines += [f"The current plan (`current_plan.toml`) under the base case: alignment "
                  f"{current['alignment']:.4f}, expected cost {current['expected_cost']:,.0f} "
                  f"{cur}{annual_note(batch.case)}, CVaR {current['cvar']:,.0f} {cur}"
                  + (f"; it {fmt.breaks(current['broken'])}" if current.get("broken") else "")
                  + ".", ""]
    for kind, title in (("cost", "expected total payout"), ("cvar", "CVaR of the total payout")):
        lines += [f"## Frontier: alignment against {title}", "",
                  "| id | name | alignment | expected cost | CVaR | metrics | binding | "
                  "same plan |", "|---|---|---:|---:|---:|---|---|---|"]
        for _, row in frontier_points(table, kind).iterrows():
            lines.append(f"| {row['id']} | {_cell(row['name'])} | {row['alignment']:.4f} | "
                         f"{row['expected_cost']:,.0f} | {row['cvar']:,.0f} | "
                         f"{_cell(row['metrics'])} | {_cell(row['binding'])} | "
                         f"{same_plan_text(row['same_plan'])} |")
        lines.append("")
    failed = table[~table["status"].isin(list(FEASIBLE))] if not table.empty else table
    if len(failed):
        lines += ["## Candidates without a plan", "", "| id | name | status | reason |",
                  "|---|---|---|---|"]
        lines += [f"| {r['id']} | {_cell(r['name'])} | {r['status']} | {_cell(r['reason'])} |"
                  for _, r in failed.iterrows()]
        lines.append("")
    lines += ["## Files", "",
              "- `results.csv`, `results.parquet`: one row per candidate; `frontier.csv`: "
              "the frontier; `frontier.png`, `frontier.svg`: the chart.",
              "- `candidates/<id>/result.json` (and `plan.json` with a plan, "
              "`infeasibility.json` without).",
              "- Two candidates side by side: `compplan compare CASE "
              "candidates/<id>/plan.json candidates/<id>/plan.json`.", ""]
    return "\n".join(lines)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|")
