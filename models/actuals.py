"""Actual attainment of the periods elapsed so far in the plan year (MODEL.md section 8).

The file has the form of ``attainment.csv`` (CSV or Parquet): ``rep_id``, ``period`` and
one column per metric. It is read with the case's own readers, so a problem is named
by file, line and field exactly as for the case's history. Every rep of ``reps.csv``
needs one row per elapsed period, unless the case sets ``[scenarios] allow_absent``:
then a missing row means the rep was off the plan in that period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from compplan.errors import CaseError
from compplan.models.case import Case
from compplan.models.fastcsv import read_attainment_fast
from compplan.models.limits import MAX_ATTAINMENT
from compplan.models.tables import (
    check_memory,
    header_row,
    not_a_file,
    numeric_column,
    read_header,
    read_table,
    row_unit,
)
from compplan.models.text import shown

_ALLOWED = "a finite number >= 0 (attainment as a ratio of quota, 1.0 = 100 %)"


@dataclass(frozen=True)
class Actuals:
    """Attainment of the elapsed periods.

    Attributes
    ----------
    file : str
        The file's name, for messages.
    metric_ids : tuple of str
        The metrics read, in the case's order (the plan's, and any other metric of the
        case the file has a column for).
    periods : tuple of str
        The elapsed periods, in the order they first appear in the file.
    attainment : numpy.ndarray
        ``x[r, m, t]``, shape (reps of ``reps.csv``, metrics, periods); 0 where absent.
    present : numpy.ndarray
        Boolean (reps, periods): the rep has a row for the period.
    """

    file: str
    metric_ids: tuple[str, ...]
    periods: tuple[str, ...]
    attainment: np.ndarray
    present: np.ndarray

    @property
    def count(self) -> int:
        """Number of elapsed periods ``k``."""
        return len(self.periods)

    def metric(self, metric_id: str) -> np.ndarray:
        """Attainment of one metric, shape (reps, periods)."""
        return self.attainment[:, self.metric_ids.index(metric_id), :]


def read_actuals(path: str | Path, case: Case, needed: Sequence[str]) -> Actuals:
    """Read actual attainment for the pulse check.

    Parameters
    ----------
    path : str or Path
        A CSV or Parquet file in the form of ``attainment.csv``.
    case : Case
        The case: its reps, its metrics and ``[scenarios] allow_absent``.
    needed : sequence of str
        Metrics that must have a column (the plan's).

    Returns
    -------
    Actuals
        The attainment of every rep, metric with a column and elapsed period.

    Raises
    ------
    CaseError
        Naming the file, the line and the field: a missing metric column, an unknown
        rep, a missing rep (without ``allow_absent``), two rows for one rep and period,
        an attainment that is negative, empty or not a finite number.
    """
    file = Path(path)
    name = file.name
    if not file.is_file():
        kind = not_a_file(file)
        where = str(file) if str(file).isprintable() else repr(str(file))[1:-1]
        raise CaseError(where, f"is {kind or 'not a file'}"
                        f"{', not a file' if kind else ''} (give actuals in the form of "
                        "attainment.csv, CSV or Parquet)")
    if file.suffix.lower() not in (".csv", ".parquet"):
        raise CaseError(name, "must be a .csv or .parquet file")
    check_memory(file)  # as the case's attainment: refused before reading, with the figures
    columns = read_header(file)
    for col in ("rep_id", "period"):
        if col not in columns:
            raise CaseError(name, f"required column '{col}' is missing "
                                  f"(columns found: {', '.join(columns)})",
                            row=header_row(name))
    for metric in needed:
        if metric not in columns:
            raise CaseError(name, f"has no column for metric '{metric}' (every metric the "
                                  "plan pays on or gates on needs one; columns found: "
                                  f"{', '.join(columns)})",
                            row=header_row(name))
    ids = tuple(m for m in case.metric_ids if m in columns)
    allow_absent = case.spec.scenarios.allow_absent
    if file.suffix.lower() == ".csv":
        fast = read_attainment_fast(file, pd.Index(case.reps.index), ids, sort_periods=False)
        if fast is not None:
            x, periods, _ = fast
            present = np.ones((x.shape[0], x.shape[2]), dtype=bool)
            return Actuals(name, ids, periods, np.ascontiguousarray(x), present)
    return _read_careful(file, case, ids, allow_absent)


def _read_careful(file: Path, case: Case, ids: tuple[str, ...],
                  allow_absent: bool) -> Actuals:
    name = file.name
    unit = row_unit(name)
    frame = read_table(file, ["rep_id", "period"], ["rep_id", "period"])
    reps = pd.Index(case.reps.index)
    rep_code = reps.get_indexer(frame["rep_id"])
    if (rep_code < 0).any():
        i = int(np.argmax(rep_code < 0))
        raise CaseError(name, f"rep {shown(frame['rep_id'].iloc[i])} is not in reps.csv",
                        row=int(frame.index[i]), unit=unit, field="rep_id")
    # Periods in the order of the file (Jan, Feb, ...; M1 ... M10), not as text.
    period_code, labels = pd.factorize(frame["period"], sort=False)
    n_reps, n_periods = len(reps), len(labels)
    cell = rep_code.astype(np.int64) * n_periods + period_code
    counts = np.bincount(cell, minlength=n_reps * n_periods)
    if (counts > 1).any():
        again = int(np.argmax(pd.Series(cell).duplicated().to_numpy()))
        line = int(frame.index[again])
        first = int(frame.index[int(np.argmax(cell == cell[again]))])
        raise CaseError(name, f"rep {shown(frame.loc[line, 'rep_id'])} has two rows for "
                              f"period {shown(frame.loc[line, 'period'])} (the first on "
                              f"{unit} {first})",
                        row=line, unit=unit, field="period")
    if (counts == 0).any() and not allow_absent:
        hole = int(np.argmax(counts == 0))
        raise CaseError(name, f"rep {shown(reps[hole // n_periods])} has no row for period "
                              f"{shown(labels[hole % n_periods])} (every rep of reps.csv needs one "
                              "row per elapsed period; with [scenarios] allow_absent = true "
                              "in case.toml a missing row means off the plan)")
    x = np.zeros((n_reps, len(ids), n_periods), dtype=np.float64)
    for j, metric in enumerate(ids):
        values = numeric_column(frame, name, metric, allowed=_ALLOWED, minimum=0.0,
                                strict=False, maximum=MAX_ATTAINMENT, what="attainment")
        x[rep_code, j, period_code] = values
    present = (counts > 0).reshape(n_reps, n_periods)
    return Actuals(name, ids, tuple(str(p) for p in labels), x, present)
