"""Attainment from a ledger of transactions and a quota table (MODEL.md section 11).

The transactions are read into an embedded DuckDB engine (:mod:`compplan.models.sources`),
then the engine's access to files and the network is switched off and its configuration
locked before any expression of ``case.toml`` runs. Each metric is one GROUP BY over
rep and period; each group's values are sorted (ascending, so rows that tie add the same
whatever order they tie in) and added by one fixed method, so the sums do not depend on the
engine's parallelism or on the order the rows came in: the same rows give the same
attainment, to the last bit, from a file or from a database.
"""

from __future__ import annotations

import calendar as _calendar
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compplan.errors import CaseError
from compplan.models.sources import PART, ROW, TableSource, connect, engine_message
from compplan.models.tables import numeric_column, read_table, row_unit
from compplan.models.text import shown

CASE_FILE = "case.toml"
#: Attainment above this is an error (MODEL.md section 1).
MAX_ATTAINMENT = 1e6
_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|"
                      r"UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class MetricFigures:
    """What one metric's expression matched, per period (for ``validate``)."""

    matched: tuple[int, ...]          # transactions matched, of reps on the plan, per period
    matched_off_plan: int             # matched, dated in a period, rep without quota there
    matched_unknown_rep: int          # matched, dated in a period, rep not in reps.csv


@dataclass(frozen=True)
class LedgerReport:
    """Where the transactions went: the figures ``compplan validate`` shows."""

    source: str
    rows: int
    periods: tuple[str, ...]
    metrics: dict[str, MetricFigures]
    reps_with_quota: tuple[int, ...]             # per period
    reps_without_quota: tuple[tuple[str, ...], ...]  # per period, rep ids
    unknown_rep_rows: int
    unknown_reps: tuple[str, ...]                # a few of them, sorted
    off_plan_rows: int                           # rep known, dated in a period without quota
    outside_rows: int                            # dated outside every period
    outside_range: tuple[str, str] | None        # earliest and latest such date

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "source": self.source, "transactions": self.rows, "periods": list(self.periods),
            "metrics": {m: {"matched": list(f.matched), "matched_off_plan": f.matched_off_plan,
                            "matched_unknown_rep": f.matched_unknown_rep}
                        for m, f in self.metrics.items()},
            "reps_with_quota": list(self.reps_with_quota),
            "reps_without_quota": [list(r) for r in self.reps_without_quota],
            "transactions_unknown_rep": self.unknown_rep_rows,
            "unknown_reps": list(self.unknown_reps),
            "transactions_off_plan": self.off_plan_rows,
            "transactions_outside_periods": self.outside_rows,
            "outside_range": None if self.outside_range is None else list(self.outside_range),
        }


@dataclass(frozen=True)
class Ledger:
    """Attainment computed from transactions, with each rep-period's own quotas."""

    attainment: np.ndarray          # (reps, metrics, periods)
    periods: tuple[str, ...]
    present: np.ndarray | None      # (reps, periods) or None when every rep has every period
    period_quotas: np.ndarray       # (reps, metrics, periods), NaN off the plan
    report: LedgerReport
    period_bounds: tuple[tuple[date, date], ...] = field(default=())


@dataclass(frozen=True)
class LedgerInputs:
    """The tables a ledger needs besides ``case.toml``: where they come from."""

    transactions: TableSource
    quotas: pd.DataFrame | Path     # a file, or text cells indexed by line (read_table's)
    quotas_name: str
    calendar: pd.DataFrame | None = None
    calendar_name: str = "calendar.csv"


def read_inputs(folder: Path, source_spec: Any, transactions: TableSource) -> LedgerInputs:
    """Read the quota table and the calendar named in ``[source]`` (inside the case folder)."""
    from compplan.models.tables import inside_folder

    def inside(key: str, rel: str) -> Path:
        path = folder / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise CaseError(CASE_FILE, f"'{rel}' is outside the case folder: give a file in it "
                                       "(only [source] transactions may be elsewhere)",
                            field=f"[source] {key}")
        if not path.is_file():
            raise CaseError(CASE_FILE, f"the file '{rel}' does not exist in the case folder "
                                       f"{folder}", field=f"[source] {key}")
        inside_folder(folder, path)
        return path

    def table(key: str, rel: str, required: list[str]) -> tuple[pd.DataFrame, str]:
        path = inside(key, rel)
        return read_table(path, required, required), path.name

    quotas = inside("quotas", source_spec.quotas)
    qname = quotas.name
    cal, cname = (None, "")
    if source_spec.calendar is not None:
        cal, cname = table("calendar", source_spec.calendar, ["period", "start", "end"])
    return LedgerInputs(transactions, quotas, qname, cal, cname or "calendar.csv")


def build_ledger(spec: Any, reps: pd.DataFrame, inputs: LedgerInputs) -> Ledger:
    """Attainment per rep, metric and period from the ledger (MODEL.md section 11).

    Parameters
    ----------
    spec : CaseSpec
        The case; ``spec.source`` is set and every metric has ``sum`` or ``count``.
    reps : pandas.DataFrame
        The roster, indexed by ``rep_id``.
    inputs : LedgerInputs
        The transactions, the quota table and the calendar.

    Returns
    -------
    Ledger
        Attainment, presence, quotas per period and the ``validate`` report.

    Raises
    ------
    CaseError
        Naming the file, row and field, or the metric and key, of the first problem.
    """
    src = spec.source
    metric_ids = tuple(spec.metrics)
    rep_index = pd.Index(reps.index)
    quota_table, periods, bounds = _quotas_and_periods(src, inputs, metric_ids, rep_index)
    n_reps, n_metrics, n_periods = len(rep_index), len(metric_ids), len(periods)
    q = np.full((n_reps, n_metrics, n_periods), np.nan)
    p_code = _period_codes(quota_table["period"], periods)
    q[quota_table["rep"].to_numpy(), quota_table["m"].to_numpy(), p_code] = (
        quota_table["quota"].to_numpy())
    has = ~np.isnan(q)
    some, every = has.any(axis=1), has.all(axis=1)
    partial = np.argwhere(some & ~every)
    if partial.size:
        r, s = partial[0]
        missing = [metric_ids[j] for j in range(n_metrics) if not has[r, j, s]]
        raise CaseError(inputs.quotas_name, f"rep {shown(rep_index[r])} has a quota for period "
                                            f"{shown(periods[s])} for some metrics but not for "
                                            f"'{missing[0]}' (a rep on the plan in a period "
                                            "needs a quota for every metric; no row at all "
                                            "means off the plan)")
    present = _presence(inputs.quotas_name, some, rep_index, periods,
                        spec.scenarios.allow_absent)
    del quota_table, has, some, every  # memory for the engine
    con = connect()
    try:
        return _compute(con, spec, inputs, rep_index, periods, bounds, q, present)
    finally:
        con.close()


def _quotas_and_periods(src: Any, inputs: LedgerInputs, metric_ids: tuple[str, ...],
                        rep_index: pd.Index
                        ) -> tuple[pd.DataFrame, tuple[str, ...], list[tuple[date, date]]]:
    """The quota table (rep and metric codes, period, quota) and the case's periods.

    A quota file is read by DuckDB, typed; at the first sign of a problem it is read again
    cell by cell as text, so the message names the line and quotes the cell as written.
    """
    if isinstance(inputs.quotas, Path):
        fast = _quota_table_fast(inputs.quotas, metric_ids, rep_index)
        if fast is not None:
            try:
                return (fast, *_periods(src, inputs, fast))
            except CaseError:
                pass  # read as text below: the message names the line
        from dataclasses import replace

        text = read_table(inputs.quotas, ["rep_id", "metric", "period"],
                          ["rep_id", "metric", "period"])
        inputs = replace(inputs, quotas=text)
    table = _quota_table(inputs, metric_ids, rep_index)
    return (table, *_periods(src, inputs, table))


_PLAIN_NUMBER = r"[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?"


def _period_codes(values: pd.Series, periods: tuple[str, ...]) -> np.ndarray:
    """Each quota row's period as its index in ``periods``."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        by_label = pd.Index(periods).get_indexer(pd.Index(values.cat.categories))
        return np.asarray(by_label[values.cat.codes.to_numpy()], dtype=np.int64)
    return np.asarray(pd.Index(periods).get_indexer(pd.Index(values)), dtype=np.int64)


def _period_labels(values: pd.Series) -> list[str]:
    """The distinct periods of the quota rows, in order of first appearance."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return [str(p) for p in values.cat.categories]
    return [str(p) for p in pd.unique(values.to_numpy())]


def _quota_table_fast(path: Path, metric_ids: tuple[str, ...],
                      rep_index: pd.Index) -> pd.DataFrame | None:
    """The quota table read by Arrow, typed; None if anything is out of the ordinary."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    names = ("rep_id", "metric", "period", "quota")
    try:
        if path.suffix.lower() == ".parquet":
            table = pq.read_table(path)
        else:
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in names}, strings_can_be_null=True))
        if not all(c in table.column_names for c in names) or table.num_rows == 0:
            return None
        text = {c: pc.cast(table.column(c), pa.string()) for c in names[:3]}
        rep = pc.index_in(text["rep_id"], value_set=pa.array(rep_index.astype(str).tolist()))
        metric = pc.index_in(text["metric"], value_set=pa.array(list(metric_ids)))
        labels = sorted(str(v) for v in pc.unique(text["period"]).to_pylist()
                        if v is not None)
        period = pc.index_in(text["period"], value_set=pa.array(labels, pa.string()))
        quota = table.column("quota")
        if pa.types.is_string(quota.type) or pa.types.is_large_string(quota.type):
            plain = pc.match_substring_regex(quota, f"^{_PLAIN_NUMBER}$")
            if pc.any(pc.invert(pc.fill_null(plain, False))).as_py():
                return None
            quota = pc.cast(quota, pa.float64())
        elif pa.types.is_integer(quota.type) or pa.types.is_floating(quota.type):
            quota = pc.cast(quota, pa.float64())
        else:
            return None
        columns = [rep, metric, period, quota]
        del table, text
        if any(c.null_count for c in columns):
            return None
        codes = [np.asarray(c.to_numpy(), dtype=np.int32) for c in columns[:3]]
        values = np.asarray(quota.to_numpy(), dtype=np.float64)
        del columns, rep, metric, period, quota
    except (pa.ArrowException, OSError, ValueError):
        return None
    if any(label != label.strip() or not label for label in labels):
        return None
    if not (np.isfinite(values).all() and (values > 0).all()):
        return None
    cell = np.sort((codes[0].astype(np.int64) * len(metric_ids) + codes[1]) * len(labels)
                   + codes[2])
    if (cell[1:] == cell[:-1]).any():
        return None
    return pd.DataFrame({"rep": codes[0], "m": codes[1],
                         "period": pd.Categorical.from_codes(codes[2],
                                                             categories=pd.Index(labels)),
                         "quota": values})


def _quota_table(inputs: LedgerInputs, metric_ids: tuple[str, ...],
                 rep_index: pd.Index) -> pd.DataFrame:
    frame, name = inputs.quotas, inputs.quotas_name
    assert isinstance(frame, pd.DataFrame)
    unit = row_unit(name)
    for col in ("rep_id", "metric", "period", "quota"):
        if col not in frame.columns:
            raise CaseError(name, f"required column '{col}' is missing (columns found: "
                                  f"{', '.join(map(str, frame.columns))}; a quota table has "
                                  "rep_id, metric, period, quota)")
    if frame.empty:
        raise CaseError(name, "has a header but no data rows")
    rep = rep_index.get_indexer(pd.Index(frame["rep_id"]))
    if (rep < 0).any():
        i = int(np.argmax(rep < 0))
        raise CaseError(name, f"rep {shown(frame['rep_id'].iloc[i])} is not in reps.csv",
                        row=int(frame.index[i]), unit=unit, field="rep_id")
    m = pd.Index(metric_ids).get_indexer(pd.Index(frame["metric"]))
    if (m < 0).any():
        i = int(np.argmax(m < 0))
        raise CaseError(name, f"{shown(frame['metric'].iloc[i])} is not a metric of the case "
                              f"(metrics: {', '.join(metric_ids)})",
                        row=int(frame.index[i]), unit=unit, field="metric")
    quota = numeric_column(frame, name, "quota", minimum=0.0, strict=True,
                           allowed="a number > 0 (the quota in the metric's unit)")
    out = pd.DataFrame({"rep": rep, "m": m, "period": frame["period"].astype(str).to_numpy(),
                        "quota": np.asarray(quota, dtype=np.float64)}, index=frame.index)
    dup = out.duplicated(["rep", "m", "period"])
    if dup.any():
        line = int(out.index[int(np.argmax(dup.to_numpy()))])
        raise CaseError(name, f"rep {shown(frame.loc[line, 'rep_id'])} has two quotas for "
                              f"metric {shown(frame.loc[line, 'metric'])} in period "
                              f"{shown(frame.loc[line, 'period'])}", row=line, unit=unit,
                        field="period")
    return out


def _periods(src: Any, inputs: LedgerInputs,
             quotas: pd.DataFrame) -> tuple[tuple[str, ...], list[tuple[date, date]]]:
    """The case's periods (those of the quota table) and their first and last days."""
    name, unit = inputs.quotas_name, row_unit(inputs.quotas_name)
    labels = _period_labels(quotas["period"])
    if inputs.calendar is None:
        bounds = {}
        for label in labels:
            got = _label_bounds(label, src.period)
            if got is None:
                line = int(quotas.index[int(np.argmax((quotas["period"] == label).to_numpy()))])
                form = "YYYY-MM, e.g. 2027-01" if src.period == "month" else "YYYY-Qn, e.g. 2027-Q1"
                raise CaseError(name, f"period {shown(label)} is not a {src.period} label "
                                      f"({form}; [source] period = \"{src.period}\")",
                                row=line, unit=unit, field="period")
            bounds[label] = got
        ordered = sorted(labels, key=lambda lab: bounds[lab][0])
        return tuple(ordered), [bounds[lab] for lab in ordered]
    cal, cname = inputs.calendar, inputs.calendar_name
    cunit = row_unit(cname)
    starts, ends = (_dates(cal, cname, col) for col in ("start", "end"))
    periods = cal["period"].astype(str).tolist()
    seen: dict[str, int] = {}
    for line, label, start, end in zip(cal.index, periods, starts, ends, strict=True):
        if label in seen:
            raise CaseError(cname, f"period {shown(label)} appears twice (also on {cunit} "
                                   f"{seen[label]})", row=int(line), unit=cunit, field="period")
        seen[label] = int(line)
        if end < start:
            raise CaseError(cname, f"period {shown(label)} ends ({end}) before it starts "
                                   f"({start})", row=int(line), unit=cunit, field="end")
    order = sorted(range(len(periods)), key=lambda i: starts[i])
    for a, b in itertools.pairwise(order):
        if starts[b] <= ends[a]:
            raise CaseError(cname, f"period {shown(periods[b])} starts on {starts[b]}, inside "
                                   f"period {shown(periods[a])} ({starts[a]} to {ends[a]}): "
                                   "periods may not overlap", row=int(cal.index[b]),
                            unit=cunit, field="start")
    for label in labels:
        if label not in seen:
            line = int(quotas.index[int(np.argmax((quotas["period"] == label).to_numpy()))])
            raise CaseError(name, f"period {shown(label)} is not a period of {cname} "
                                  f"(periods: {', '.join(periods)})", row=line, unit=unit,
                            field="period")
    missing = [p for p in periods if p not in set(labels)]
    if missing:
        raise CaseError(cname, f"period {shown(missing[0])} has no quota row in {name} (the "
                               "case's periods are those of the quota table and must be the "
                               "calendar's)", row=seen[missing[0]], unit=cunit, field="period")
    return (tuple(periods[i] for i in order), [(starts[i], ends[i]) for i in order])


def _dates(frame: pd.DataFrame, name: str, col: str) -> list[date]:
    parsed = pd.to_datetime(frame[col], format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        line = int(frame.index[int(np.argmax(bad))])
        raise CaseError(name, f"{shown(frame.loc[line, col])} is not a date (YYYY-MM-DD)",
                        row=line, unit=row_unit(name), field=col)
    return [d.date() for d in parsed]


def _label_bounds(label: str, kind: str) -> tuple[date, date] | None:
    if kind == "month":
        hit = _MONTH.match(label)
        if not hit:
            return None
        y, mo = int(hit[1]), int(hit[2])
        return date(y, mo, 1), date(y, mo, _calendar.monthrange(y, mo)[1])
    hit = _QUARTER.match(label)
    if not hit:
        return None
    y, qn = int(hit[1]), int(hit[2])
    last = 3 * qn
    return date(y, last - 2, 1), date(y, last, _calendar.monthrange(y, last)[1])


def _presence(name: str, some: np.ndarray, rep_index: pd.Index, periods: tuple[str, ...],
              allow_absent: bool) -> np.ndarray | None:
    if some.all():
        return None
    if not allow_absent:
        r, s = np.argwhere(~some)[0]
        raise CaseError(name, f"rep {shown(rep_index[r])} has no quota for period "
                              f"{shown(periods[s])} (every rep of reps.csv needs a quota row "
                              "per metric and period; if reps joined or left, set [scenarios] "
                              "allow_absent = true in case.toml: no quota row then means off "
                              "the plan that period)")
    idle = np.flatnonzero(~some.any(axis=1))
    if idle.size:
        raise CaseError(name, f"rep {shown(rep_index[idle[0]])} of reps.csv has no quota in any "
                              "period (with allow_absent a rep may miss periods, but needs at "
                              "least one)")
    return some.copy()


def _fail(metric: str, key: str, message: str) -> CaseError:
    return CaseError(CASE_FILE, message, field=f"[metrics.{metric}] {key}")


def check_expression(con: Any, text: str, metric: str, key: str) -> None:
    """Only one expression, without a subquery, passes (MODEL.md section 11)."""
    if ";" in _outside_quotes(text):
        raise _fail(metric, key, f"{text!r} is not one expression (';' ends a statement; only "
                                 "an expression over the transactions' columns is allowed)")
    try:
        raw = con.execute("SELECT json_serialize_sql(?::VARCHAR)",
                          [f"SELECT ({text}) AS __value"]).fetchone()[0]
    except Exception as exc:  # pragma: no cover - the parser reports errors in its JSON
        raise _fail(metric, key, f"{text!r} cannot be read: {engine_message(exc)}") from None
    tree = json.loads(raw)
    if tree.get("error"):
        raise _fail(metric, key, f"{text!r} is not valid SQL: "
                                 f"{tree.get('error_message', 'syntax error')}")
    statements = tree.get("statements", [])
    node = statements[0].get("node", {}) if len(statements) == 1 else {}
    if (len(statements) != 1 or node.get("type") != "SELECT_NODE"
            or node.get("from_table", {}).get("type") != "EMPTY"
            or node.get("where_clause") is not None or len(node.get("select_list", [])) != 1
            or node.get("group_expressions") or node.get("modifiers")
            or node.get("having") is not None or node.get("cte_map", {}).get("map")):
        raise _fail(metric, key, f"{text!r} is not one expression (only an expression over "
                                 "the transactions' columns is allowed)")
    if '"SUBQUERY"' in raw:
        raise _fail(metric, key, f"{text!r} holds a subquery (only an expression over the "
                                 "transactions' columns is allowed)")


def _outside_quotes(text: str) -> str:
    return re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "", text)


def _type_of(con: Any, text: str, metric: str, key: str, columns: list[str]) -> str:
    try:
        rows = con.execute(f"DESCRIBE SELECT ({text}) AS __value FROM txn").fetchall()
    except Exception as exc:
        raise _fail(metric, key, _explain(exc, text, columns)) from None
    return str(rows[0][1])


def _explain(exc: BaseException, text: str, columns: list[str]) -> str:
    message = engine_message(exc)
    hit = re.search(r'Referenced column "?([^"]+?)"? not found', message)
    if hit:
        return (f"unknown column '{hit[1]}' in {text!r} (the transactions' columns: "
                f"{', '.join(columns)})")
    return f"{text!r} cannot be computed: {message}"


def _column_check(con: Any, inputs: LedgerInputs, src: Any) -> list[str]:
    columns = [str(r[0]) for r in con.execute("DESCRIBE txn").fetchall()
               if r[0] not in (PART, ROW)]
    for key in ("rep", "date", "credit"):
        col = getattr(src, key)
        if col is not None and col not in columns:
            raise CaseError(CASE_FILE, f"column '{col}' is not in the transactions "
                                       f"({inputs.transactions.label}; columns: "
                                       f"{', '.join(columns)})", field=f"[source] {key}")
    return columns


def _row_error(con: Any, inputs: LedgerInputs, condition: str, column: str,
               message: str) -> None:
    """Raise ``message`` naming the first row (in source order) where ``condition`` holds."""
    hit = con.execute(f"SELECT {PART}, {ROW}, CAST({_q(column)} AS VARCHAR) FROM txn "
                      f"WHERE {condition} ORDER BY {PART}, {ROW} LIMIT 1").fetchone()
    if hit is None:
        return
    file, row, unit = inputs.transactions.where(int(hit[0]), int(hit[1]))
    value = shown(hit[2]) if hit[2] is not None else "empty"
    raise CaseError(file, message.replace("{value}", value), row=row, unit=unit, field=column)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _compute(con: Any, spec: Any, inputs: LedgerInputs, rep_index: pd.Index,
             periods: tuple[str, ...], bounds: list[tuple[date, date]], q: np.ndarray,
             present: np.ndarray | None) -> Ledger:
    src = spec.source
    inputs.transactions.load(con, "txn")
    columns = _column_check(con, inputs, src)
    if con.execute("SELECT count(*) FROM txn").fetchone()[0] == 0:
        raise CaseError(inputs.transactions.label, "holds no transactions (a header, then one "
                                                   "row per transaction)")
    rep, dt = _q(src.rep), _q(src.date)
    types = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE txn").fetchall()}
    _row_error(con, inputs, f"{rep} IS NULL", src.rep,
               "the rep is empty (every transaction names its rep)")
    date_type = types[src.date]
    if date_type.startswith("TIMESTAMP") or date_type == "DATE":
        date_expr = f"CAST({dt} AS DATE)"
    elif date_type == "VARCHAR":
        date_expr = f"TRY_CAST({dt} AS DATE)"
    else:
        raise CaseError(CASE_FILE, f"column '{src.date}' holds {date_type}, not dates "
                                   "(a date or a timestamp, or text as YYYY-MM-DD)",
                        field="[source] date")
    _row_error(con, inputs, f"{dt} IS NULL", src.date,
               "the date is empty (every transaction is dated)")
    _row_error(con, inputs, f"{date_expr} IS NULL", src.date,
               "{value} is not a date (YYYY-MM-DD)")
    credit = "1.0"
    if src.credit is not None:
        ctype = types[src.credit]
        if not _NUMERIC.match(ctype):
            raise CaseError(CASE_FILE, f"column '{src.credit}' holds {ctype}, not numbers "
                                       "(a share in [0, 1])", field="[source] credit")
        cr = _q(src.credit)
        _row_error(con, inputs, f"{cr} IS NULL OR NOT isfinite(CAST({cr} AS DOUBLE)) OR "
                                f"{cr} < 0 OR {cr} > 1", src.credit,
                   "credit {value} is not a share in [0, 1]")
        credit = f"CAST({cr} AS DOUBLE)"
    # Helper tables' columns are named apart from any column of the transactions.
    con.register("__reps", pd.DataFrame({"__rep_id": rep_index.astype(str),
                                         "__r": np.arange(len(rep_index), dtype=np.int64)}))
    # Every day of every period, so a transaction finds its period by an equi-join.
    days = [(first + pd.Timedelta(days=k), si) for si, (first, last) in enumerate(bounds)
            for k in range((last - first).days + 1)]
    con.register("__periods", pd.DataFrame({
        "__day": pd.to_datetime([d for d, _ in days]),
        "__s": np.array([si for _, si in days], dtype=np.int64)}))
    on_plan = np.zeros((len(rep_index), len(periods)), dtype=bool)
    on_plan[:] = True if present is None else present
    cells = np.argwhere(on_plan)
    con.register("__plan", pd.DataFrame({"__pr": cells[:, 0].astype(np.int64),
                                         "__ps": cells[:, 1].astype(np.int64)}))
    qualified = date_expr.replace(dt, f"t.{dt}")
    credit_t = credit.replace(_q(src.credit), f"t.{_q(src.credit)}") if src.credit else credit
    con.execute(f"""CREATE TEMP TABLE tx AS
        SELECT t.*, {qualified} AS __date, {credit_t} AS __credit, r.__r AS __ri,
               p.__s AS __si, (pl.__pr IS NOT NULL) AS __on_plan
        FROM txn t
        LEFT JOIN __reps r ON CAST(t.{rep} AS VARCHAR) = r.__rep_id
        LEFT JOIN __periods p ON {qualified} = CAST(p.__day AS DATE)
        LEFT JOIN __plan pl ON pl.__pr = r.__r AND pl.__ps = p.__s""")
    for name in ("__reps", "__periods", "__plan"):
        con.unregister(name)
    con.execute("DROP TABLE txn")
    con.execute("ALTER TABLE tx RENAME TO txn")
    # From here on only the case's expressions run: no files, no network, no SET.
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    totals = con.execute("""SELECT count(*),
        count(*) FILTER (WHERE __si IS NOT NULL AND __ri IS NULL),
        count(*) FILTER (WHERE __si IS NOT NULL AND __ri IS NOT NULL AND NOT __on_plan),
        count(*) FILTER (WHERE __si IS NULL),
        CAST(min(__date) FILTER (WHERE __si IS NULL) AS VARCHAR),
        CAST(max(__date) FILTER (WHERE __si IS NULL) AS VARCHAR)
        FROM txn""").fetchone()
    unknown = [str(r[0]) for r in con.execute(
        f"SELECT DISTINCT CAST({rep} AS VARCHAR) AS r FROM txn WHERE __si IS NOT NULL AND "
        "__ri IS NULL ORDER BY r LIMIT 10").fetchall()]
    metric_ids = tuple(spec.metrics)
    x = np.zeros(q.shape, dtype=np.float64)
    figures: dict[str, MetricFigures] = {}
    plans: list[tuple[str, str, str, bool]] = []
    for mid in metric_ids:
        metric = spec.metrics[mid]
        where = "TRUE"
        if metric.where is not None:
            check_expression(con, metric.where, mid, "where")
            kind = _type_of(con, metric.where, mid, "where", columns)
            if kind != "BOOLEAN":
                raise _fail(mid, "where", f"{metric.where!r} is {kind}, not a condition "
                                          "(true or false for each transaction)")
            where = f"({metric.where})"
        if metric.sum is not None:
            check_expression(con, metric.sum, mid, "sum")
            kind = _type_of(con, metric.sum, mid, "sum", columns)
            if not _NUMERIC.match(kind):
                if kind == "VARCHAR" and metric.sum in columns:  # a cell that is not a number
                    col = _q(metric.sum)
                    _row_error(con, inputs, f"{col} IS NOT NULL AND TRY_CAST({col} AS DOUBLE) "
                                            "IS NULL", metric.sum,
                               "{value} is not a number ([metrics." + mid + "] sum = "
                               f"'{metric.sum}')")
                raise _fail(mid, "sum", f"{metric.sum!r} is {kind}, not a number (a sum needs "
                                        "a numeric expression)")
            value = f"CAST(({metric.sum}) AS DOUBLE) * __credit"
        else:
            value = "__credit"
        plans.append((mid, where, value, metric.sum is not None))
    combined = _all_metrics(con, plans, x, q, len(periods),
                            off_plan=bool(totals[1] or totals[2]))
    if combined is not None:
        figures = combined
    else:  # a problem: metric by metric, the first one's message
        for j, (mid, where, value, is_sum) in enumerate(plans):
            figures[mid] = _metric(con, inputs, mid, where, value, x, q, j, is_sum,
                                   len(periods))
    _check_attainment(x, q, rep_index, metric_ids, periods)
    n_on = (np.ones((len(rep_index), len(periods)), bool) if present is None else present)
    report = LedgerReport(
        source=inputs.transactions.label, rows=int(totals[0]), periods=periods,
        metrics=figures, reps_with_quota=tuple(int(v) for v in n_on.sum(axis=0)),
        reps_without_quota=tuple(tuple(str(r) for r in rep_index[~n_on[:, s]])
                                 for s in range(len(periods))),
        unknown_rep_rows=int(totals[1]), unknown_reps=tuple(unknown),
        off_plan_rows=int(totals[2]), outside_rows=int(totals[3]),
        outside_range=None if totals[3] == 0 else (str(totals[4]), str(totals[5])))
    return Ledger(x, periods, present, q, report, tuple(bounds))


def _all_metrics(con: Any, plans: list[tuple[str, str, str, bool]], x: np.ndarray,
                 q: np.ndarray, n_periods: int, off_plan: bool) -> dict[str, MetricFigures] | None:
    """Every metric in one pass over the transactions; None at the first sign of trouble.

    Every matched value of a rep on the plan, sorted by rep, period, metric and value, then
    added in that order (:func:`_sorted_sums`). The checks of :func:`_metric` (a condition
    matching nothing, a value that is not a finite number) are read off the same values;
    on any problem the caller goes metric by metric for the message. ``off_plan``: some
    transactions in a period belong to a rep off the plan or not on the roster (then
    counted per metric, for ``validate``, in one more pass).
    """
    n_metrics = len(plans)
    parts = [f"SELECT (__ri * {n_periods} + __si) * {n_metrics} + {j} AS __key, {value} AS __v "
             f"FROM txn WHERE __si IS NOT NULL AND __ri IS NOT NULL AND __on_plan AND {where}"
             for j, (_, where, value, _) in enumerate(plans)]
    off = np.zeros((n_metrics, 2), dtype=np.int64)
    try:
        if off_plan:
            checks = [f"count(*) FILTER (WHERE __ri IS NOT NULL AND {where}), "
                      f"count(*) FILTER (WHERE __ri IS NULL AND {where}), "
                      f"count(*) FILTER (WHERE CASE WHEN {where} THEN ({value}) IS NULL OR "
                      f"NOT isfinite({value}) ELSE false END)"
                      for _, where, value, _ in plans]
            found = con.execute(f"SELECT {', '.join(checks)} FROM txn WHERE __si IS NOT NULL "
                                "AND NOT __on_plan").fetchone()
            counted = np.asarray(found, dtype=np.int64).reshape(n_metrics, 3)
            if counted[:, 2].any():
                return None  # a value that is not a number: named metric by metric
            off[:] = counted[:, :2]
        # One fixed order of addition per rep, metric and period (MODEL.md section 11:
        # exact to the last bit): the values sorted ascending, then added (_sorted_sums).
        result = con.execute(f"SELECT __key, __v FROM ({' UNION ALL '.join(parts)}) "
                             "ORDER BY __key, __v").fetchnumpy()
    except Exception:
        return None
    if np.ma.is_masked(result["__v"]):
        return None
    values = np.asarray(result["__v"], dtype=np.float64)
    if not np.isfinite(values).all():
        return None
    per_period = np.zeros((n_metrics, n_periods), dtype=np.int64)
    cell, totals, counts = _sorted_sums(np.asarray(result["__key"], dtype=np.int64), values)
    if not np.isfinite(totals).all():
        return None
    mi, cell = cell % n_metrics, cell // n_metrics
    ri, si = cell // n_periods, cell % n_periods
    x[ri, mi, si] = totals / q[ri, mi, si]
    np.add.at(per_period, (mi, si), counts)
    if (per_period.sum(axis=1) + off.sum(axis=1) == 0).any():
        return None  # a condition that matches nothing: named metric by metric
    return {mid: MetricFigures(tuple(int(v) for v in per_period[j]), int(off[j, 0]),
                               int(off[j, 1]))
            for j, (mid, _, _, _) in enumerate(plans)}


def _metric(con: Any, inputs: LedgerInputs, mid: str, where: str, value: str, x: np.ndarray,
            q: np.ndarray, j: int, is_sum: bool, n_periods: int) -> MetricFigures:
    key = "sum" if is_sum else "count"
    try:
        matched = con.execute(f"SELECT count(*) FROM txn WHERE __si IS NOT NULL AND {where}"
                              ).fetchone()[0]
    except Exception as exc:
        raise _fail(mid, "where", f"cannot be computed: {engine_message(exc)}") from None
    if matched == 0:
        raise _fail(mid, "where" if where != "TRUE" else key,
                    "matches no transaction in any period (check the condition and the "
                    "values it compares with)")
    try:
        null = con.execute(f"SELECT {PART}, {ROW} FROM txn WHERE __si IS NOT NULL AND {where} "
                           f"AND ({value}) IS NULL ORDER BY {PART}, {ROW} LIMIT 1").fetchone()
        if null is None:
            null = con.execute(
                f"SELECT {PART}, {ROW} FROM txn WHERE __si IS NOT NULL AND {where} AND NOT "
                f"isfinite({value}) ORDER BY {PART}, {ROW} LIMIT 1").fetchone()
    except Exception as exc:
        raise _fail(mid, key, f"cannot be computed: {engine_message(exc)}") from None
    if null is not None:
        file, row, unit = inputs.transactions.where(int(null[0]), int(null[1]))
        raise _fail(mid, key, f"gives no finite value for the transaction at {file}, {unit} "
                              f"{row} (an empty cell, or a division by 0?)")
    try:
        # The same sums as _all_metrics, to the last bit: sorted values, one fixed method.
        result = con.execute(f"""SELECT __ri * {n_periods} + __si AS __key, {value} AS __v
            FROM txn WHERE __si IS NOT NULL AND __ri IS NOT NULL AND __on_plan AND {where}
            ORDER BY __key, __v""").fetchnumpy()
        off = con.execute(f"""SELECT count(*) FILTER (WHERE __ri IS NOT NULL),
                count(*) FILTER (WHERE __ri IS NULL)
            FROM txn WHERE __si IS NOT NULL AND NOT __on_plan AND {where}""").fetchone()
    except Exception as exc:
        raise _fail(mid, key, f"cannot be summed: {engine_message(exc)}") from None
    per_period = np.zeros(n_periods, dtype=np.int64)
    cells, totals, counts = _sorted_sums(np.asarray(result["__key"], dtype=np.int64),
                                         np.asarray(result["__v"], dtype=np.float64))
    if not np.isfinite(totals).all():
        raise _fail(mid, key, "sums to more than a number can hold in some period")
    ri, si = cells // n_periods, cells % n_periods
    x[ri, j, si] = totals / q[ri, j, si]
    np.add.at(per_period, si, counts)
    return MetricFigures(tuple(int(v) for v in per_period), int(off[0]), int(off[1]))


def _sorted_sums(key: np.ndarray, values: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per run of equal keys (values sorted within): the key, the sum, the count."""
    if not key.size:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros(0), empty
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return key[starts], np.add.reduceat(values, starts), np.diff(np.r_[starts, key.size])


def _check_attainment(x: np.ndarray, q: np.ndarray, rep_index: pd.Index,
                      metric_ids: tuple[str, ...], periods: tuple[str, ...]) -> None:
    for bad, what, hint in (
            (x < 0, "below 0", "refunds and clawbacks net within the period; attainment is "
                               ">= 0"),
            (x > MAX_ATTAINMENT, f"above {MAX_ATTAINMENT:g}", "check the quota's unit against "
                                                              "the metric's")):
        if bad.any():
            r, j, s = np.argwhere(bad)[0]
            total = x[r, j, s] * q[r, j, s]
            raise CaseError(CASE_FILE, f"the attainment of rep {shown(rep_index[r])} on metric "
                                       f"'{metric_ids[j]}' in period {shown(periods[s])} is "
                                       f"{what}: {total:.10g} / quota {q[r, j, s]:.10g} = "
                                       f"{x[r, j, s]:.6g} ({hint})",
                            field=f"[metrics.{metric_ids[j]}]")


#: The roster rule of a case from transactions, as ``validate`` and the docs state it.
ROSTER_RULE = ("a rep-period without a quota row is off the plan (its transactions are counted "
               "here, never paid); a rep-period with a quota and no transactions is on the "
               "plan at attainment 0")


def report_lines(report: LedgerReport, n_reps: int) -> list[str]:
    """``validate``'s account of where the transactions went, one line each.

    Parameters
    ----------
    report : LedgerReport
        The figures of :func:`build_ledger`.
    n_reps : int
        The reps of ``reps.csv``.

    Returns
    -------
    list of str
        Per metric and period the transactions matched, the quota coverage, the reps
        without quota, the transactions of reps not in ``reps.csv`` or off the plan, those
        dated outside every period, and the roster rule.
    """
    periods = list(report.periods)
    label_width = max([len("reps with quota"), *(len(f"{m} matched") for m in report.metrics)])
    width = max([7, *(len(p) for p in periods), len(f"{n_reps}/{n_reps}")])

    def row(label: str, cells: list[str]) -> str:
        return f"  {label:<{label_width}}  " + "  ".join(f"{c:>{width}}" for c in cells)

    lines = [f"transactions from {report.source}: {report.rows:,}", row("period", periods)]
    for mid, figures in report.metrics.items():
        lines.append(row(f"{mid} matched", [f"{v:,}" for v in figures.matched]))
    lines.append(row("reps with quota", [f"{v}/{n_reps}" for v in report.reps_with_quota]))
    for period, missing in zip(periods, report.reps_without_quota, strict=True):
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            lines.append(f"  reps without quota in {period}: {', '.join(missing[:5])}{more}")
    if report.unknown_rep_rows:
        names = ", ".join(report.unknown_reps)
        lines.append(f"  {_n(report.unknown_rep_rows)} of a rep not in reps.csv ({names}): "
                     "counted, not paid")
    if report.off_plan_rows:
        lines.append(f"  {_n(report.off_plan_rows)} of a rep in a period without quota (off "
                     "the plan): counted, not paid")
    if report.outside_rows:
        first, last = report.outside_range or ("", "")
        lines.append(f"  {_n(report.outside_rows)} dated outside every period ({first} to "
                     f"{last}): counted, not paid")
    lines.append(f"  roster rule: {ROSTER_RULE}")
    return lines


def _n(count: int) -> str:
    return f"{count:,} transaction{'s' if count != 1 else ''}"


def split_at(case: Any, start: date) -> tuple[Any, Any]:
    """A case from transactions, split at the plan year's start (``pulse --from``).

    Parameters
    ----------
    case : Case
        A case whose attainment a ledger computed.
    start : date
        The plan year's first day.

    Returns
    -------
    tuple of (Case, Actuals)
        The case with the periods that end before ``start`` (its history), and the
        attainment of the periods that start on or after it (the year so far).

    Raises
    ------
    CaseError
        A period straddles ``start``, or either side has no period.
    """
    from dataclasses import replace

    from compplan.models.actuals import Actuals

    bounds = case.ledger.period_bounds
    where = "[source] quotas"
    for label, (first, last) in zip(case.periods, bounds, strict=True):
        if first < start <= last:
            raise CaseError(CASE_FILE, f"period {shown(label)} ({first} to {last}) straddles "
                                       f"the plan year's start {start} (--from): give the "
                                       "first day of a period", field=where)
    before = [i for i, (_, last) in enumerate(bounds) if last < start]
    after = [i for i, (first, _) in enumerate(bounds) if first >= start]
    if not before:
        raise CaseError(CASE_FILE, f"no period ends before {start} (--from): the case needs "
                                   "history before the plan year (periods: "
                                   f"{', '.join(case.periods)})", field=where)
    if not after:
        raise CaseError(CASE_FILE, f"no period starts on or after {start} (--from): the "
                                   "quota table has no period of the plan year yet (periods: "
                                   f"{', '.join(case.periods)})", field=where)
    present = case.present
    hist_present = None if present is None else present[:, before]
    if hist_present is not None:
        idle = np.flatnonzero(~hist_present.any(axis=1))
        if idle.size:
            raise CaseError(CASE_FILE, f"rep {shown(case.reps.index[idle[0]])} has no quota in "
                                       f"any period before {start} (--from): the history needs "
                                       "every rep of reps.csv in at least one period",
                            field=where)
        if hist_present.all():
            hist_present = None
    history = replace(case, periods=tuple(case.periods[i] for i in before),
                      attainment=np.ascontiguousarray(case.attainment[:, :, before]),
                      present=hist_present,
                      period_quotas=case.period_quotas[:, :, before],
                      ledger=replace(case.ledger, period_bounds=tuple(bounds[i]
                                                                      for i in before)))
    year_present = (np.ones((len(case.reps), len(after)), dtype=bool) if present is None
                    else present[:, after])
    actuals = Actuals(case.ledger.report.source, case.metric_ids,
                      tuple(case.periods[i] for i in after),
                      np.ascontiguousarray(case.attainment[:, :, after]), year_present)
    return history, actuals
