"""A fast path for the largest file of a case, ``attainment.csv``, with pyarrow.

pyarrow reads the CSV on all cores. The fast path only accepts a file that passes
every check of the careful reader; on the first doubt it returns ``None`` and the
careful pandas reader (``models.case``) reads the file again and names the line and
the field at fault. So the two paths accept exactly the same files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pacsv

from compplan.models.limits import MAX_ATTAINMENT

#: Rows copied from the columns into ``x`` at a time (a block stays in the cache).
_BLOCK_ROWS = 8192


def _codes(column: pa.ChunkedArray, sort: bool = True) -> tuple[np.ndarray, list[str]] | None:
    """Distinct values (sorted, or in order of first appearance) and each row's code.

    None if a value has stray blanks.
    """
    encoded = column.combine_chunks().dictionary_encode()
    labels = encoded.dictionary.to_pylist()  # in order of first appearance
    if any(not v or v != v.strip() for v in labels):
        return None
    if not sort:
        return encoded.indices.to_numpy().astype(np.int64), labels
    order = np.argsort(np.array(labels, dtype=object), kind="stable")
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels))
    return rank[encoded.indices.to_numpy()], [labels[i] for i in order]


def read_attainment_fast(path: Path, rep_ids: pd.Index, metric_ids: tuple[str, ...], *,
                         allow_absent: bool = False, sort_periods: bool = True
                         ) -> tuple[np.ndarray, tuple[str, ...], np.ndarray | None] | None:
    """Read ``attainment.csv`` into ``x[rep, metric, period]``, or None on any doubt.

    Parameters
    ----------
    path : Path
        The CSV file (header already checked by the caller).
    rep_ids : pandas.Index
        Rep ids in ``reps.csv`` order.
    metric_ids : tuple of str
        Metric columns to read.
    allow_absent : bool
        Missing rep-period rows are allowed (``[scenarios] allow_absent``): attainment
        0 there. Without it a missing row is a doubt (the careful reader names it).
    sort_periods : bool
        Periods sorted (a case's history: scenarios), or in the order they first
        appear in the file (actuals: ``Jan, Feb, ...`` or ``M1 ... M10`` keep their order).

    Returns
    -------
    tuple or None
        The attainment array, the sorted periods and the rows per rep and period
        (None when every rep has every period; the caller checks the counts), when
        every check passes.
    """
    types = {"rep_id": pa.string(), "period": pa.string(), **dict.fromkeys(metric_ids,
                                                                           pa.float64())}
    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types=types, include_columns=list(types), strings_can_be_null=True))
    except (pa.ArrowInvalid, pa.ArrowKeyError, pa.ArrowTypeError, OSError):
        return None
    if table.num_rows == 0 or any(table[c].null_count for c in types):
        return None
    # The ids as one numpy array: pandas hands an Arrow column out a value per call.
    lookup = pc.index_in(table["rep_id"],
                         value_set=pa.array(rep_ids.to_numpy(dtype=object), pa.string()))
    if lookup.null_count:
        return None
    rep_code = lookup.to_numpy().astype(np.int64)
    periods = _codes(table["period"], sort_periods)
    if periods is None:
        return None
    period_code, labels = periods
    n_reps, n_periods = len(rep_ids), len(labels)
    cell = rep_code * n_periods + period_code
    counts = np.bincount(cell, minlength=n_reps * n_periods)
    holes = bool((counts == 0).any())
    if (counts > 1).any() or (holes and not allow_absent):
        return None
    # Rows are usually sorted by rep then period: then each column lands in order.
    in_order = not holes and bool((cell == np.arange(cell.size)).all())
    flat = (np.zeros if holes else np.empty)((n_reps * n_periods, len(metric_ids)),
                                             dtype=np.float64)
    # Batch by batch, each column a view of pyarrow's buffer (no nulls: no copy).
    start = 0
    for batch in table.select(list(metric_ids)).to_batches():
        columns = [column.to_numpy() for column in batch.columns]
        for values in columns:
            # min and max are NaN when a value is: then both tests fail, as for +-inf.
            if values.size and not (values.min() >= 0 and values.max() <= MAX_ATTAINMENT):
                return None
        # The columns go into rows a block at a time: one column written at a time would
        # walk the whole array once per metric (a cache miss per value).
        for first in range(0, batch.num_rows, _BLOCK_ROWS):
            last = min(first + _BLOCK_ROWS, batch.num_rows)
            block = np.stack([values[first:last] for values in columns], axis=1)
            if in_order:
                flat[start + first:start + last] = block
            else:
                flat[cell[start + first:start + last]] = block
        start += batch.num_rows
    # A view with the case's axis order (rep, metric, period); no copy.
    x = flat.reshape(n_reps, n_periods, len(metric_ids)).transpose(0, 2, 1)
    return x, tuple(labels), counts.reshape(n_reps, n_periods) if holes else None
