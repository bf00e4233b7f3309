"""Data that is allowed but probably wrong: warnings naming the column and the figure.

Each check looks for a mistake that validation cannot refuse yet that quietly ruins a
design: attainment written in percent (101.6 for 101.6 %), a metric that never moves,
a target incentive in the wrong unit. They are printed as warnings (by every command
that loads a case), never errors: the data may be right.
"""

from __future__ import annotations

import numpy as np

from compplan.models.case import ATTAINMENT, REPS, Case

#: A median attainment above this looks like percent (1.0 = 100 % of quota).
PERCENT_MEDIAN = 5.0
#: A target incentive this many times above or below its segment's median looks off.
TI_FACTOR = 100.0
#: Reps named per warning; the rest are counted.
SHOWN = 3


def plausibility_warnings(case: Case) -> list[str]:
    """Every plausibility warning of a case, in words.

    Parameters
    ----------
    case : Case
        A loaded case.

    Returns
    -------
    list of str
        Per metric column: attainment that looks like percent (median above
        ``PERCENT_MEDIAN``), a metric with no spread and no ``step``; per segment: target
        incentives ``TI_FACTOR`` times off the segment's median.

    Examples
    --------
    >>> from compplan.models.case import load_case
    >>> plausibility_warnings(load_case("cases/enterprise_first"))
    []
    """
    return [*_attainment_warnings(case), *_target_warnings(case)]


def _present_values(case: Case, j: int) -> np.ndarray:
    """Attainment of metric ``j`` over the rep-periods present (all without allow_absent)."""
    x = case.attainment[:, j, :]
    return x[case.present] if case.present is not None else x.ravel()


def _attainment_warnings(case: Case) -> list[str]:
    notes = []
    for j, metric in enumerate(case.metric_ids):
        values = _present_values(case, j)
        median = float(np.median(values))
        where = f"{ATTAINMENT}.csv, column '{metric}'"
        if median > PERCENT_MEDIAN:
            notes.append(f"{where}: median attainment {median:.4g} looks like percent; "
                         "attainment is a ratio of quota (1.0 = 100 %): divide the column "
                         "by 100")
        # With a step of its own the metric still has a typical improvement: no warning.
        if float(values.max() - values.min()) == 0.0 and case.metric(metric).step is None:
            notes.append(f"{where}: every rep and period holds {float(values[0]):.4g}, so the "
                         "metric has no spread: its step (the spread, as "
                         f"[metrics.{metric}] step is not set) is 0 and paying for it buys "
                         "no alignment; check the column or set a step")
    return notes


def _target_warnings(case: Case) -> list[str]:
    ti = case.target_incentive
    column = _segment_column(case)
    labels = (case.reps[column].to_numpy(dtype=str) if column is not None
              else np.full(len(ti), ""))
    notes = []
    for label in dict.fromkeys(labels):
        inside = labels == label
        median = float(np.median(ti[inside]))
        off = np.flatnonzero(inside & ((ti > TI_FACTOR * median) | (ti * TI_FACTOR < median)))
        if not off.size:
            continue
        group = f"segment '{label}' ({column})" if column is not None else "all reps"
        shown = ", ".join(f"'{case.reps.index[i]}' {_money(ti[i])}" for i in off[:SHOWN])
        more = f" and {off.size - SHOWN} more" if off.size > SHOWN else ""
        notes.append(f"{REPS}.csv, column 'target_incentive': {shown}{more} "
                     f"{'is' if off.size == 1 else 'are'} over {TI_FACTOR:g}x off the median "
                     f"of {group}, {_money(median)} {case.spec.case.currency}; is it in "
                     "another unit (cents, thousands, per period instead of per year)?")
    return notes


def _money(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _segment_column(case: Case) -> str | None:
    """``[fairness] group_by``, else the first grouping column of reps.csv, else None."""
    if case.spec.fairness.group_by is not None:
        return case.spec.fairness.group_by
    grouping = [c for c in case.reps.columns if c != "target_incentive"]
    return grouping[0] if grouping else None
