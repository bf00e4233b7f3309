"""A case: the strategy, the candidate metrics, the reps and their history, loaded and checked."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from compplan.errors import CaseError, UsageError
from compplan.models.errors_format import case_error_from_pydantic
from compplan.models.fastcsv import read_attainment_fast
from compplan.models.limits import MAX_ATTAINMENT, MAX_MONEY
from compplan.models.pages import plain_pages
from compplan.models.schema import (
    PLAN_TOLERANCE,
    CaseSpec,
    MetricSpec,
    PlanMetricSpec,
    PlanSpec,
)
from compplan.models.tables import (
    check_file,
    check_memory,
    check_utf16,
    find_table,
    first_duplicate,
    header_row,
    inside_folder,
    numeric_column,
    read_header,
    read_table,
    row_unit,
)
from compplan.models.text import shown

CASE_FILE = "case.toml"
# Tables may be CSV or Parquet: STEM.csv or STEM.parquet.
REPS = "reps"
ATTAINMENT = "attainment"
QUOTAS = "quotas"
CURRENT_PLAN_FILE = "current_plan.toml"
#: The plan reference that names the case's current plan, and how documents call it.
CURRENT_PLAN = "current"
CURRENT_PLAN_NAME = "the current plan"


@dataclass(frozen=True)
class Case:
    """A loaded, validated case.

    Attributes
    ----------
    path : Path or None
        The case folder; None for a case built from DataFrames (:meth:`from_frames`).
    spec : CaseSpec
        The contents of ``case.toml``.
    reps : pandas.DataFrame
        One row per rep, indexed by ``rep_id``, with ``target_incentive`` and the
        grouping columns, in file order.
    metric_ids : tuple of str
        Candidate metrics, in ``case.toml`` order.
    periods : tuple of str
        Periods of ``attainment.csv``, sorted.
    attainment : numpy.ndarray
        ``x[r, m, t]``, shape (reps, metrics, periods).
    quotas : numpy.ndarray or None
        Quota per rep and metric in the metric's unit (NaN where not given).
    current_plan : PlanSpec or None
        The plan in force today.
    present : numpy.ndarray or None
        ``O[r, t]`` of MODEL.md section 5, shape (reps, periods), bool: the rep has a
        row for the period (``[scenarios] allow_absent``). None when every rep has
        every period. ``attainment`` is 0 where a rep is absent, so sums over it need
        no mask; means, spreads and curves that pay at 0 do.
    """

    path: Path | None
    spec: CaseSpec
    reps: pd.DataFrame
    metric_ids: tuple[str, ...]
    periods: tuple[str, ...]
    attainment: np.ndarray
    quotas: np.ndarray | None
    current_plan: PlanSpec | None
    present: np.ndarray | None = None
    #: The ``[response]`` baseline plan (MODEL.md section 10), as written; None without one.
    baseline: PlanSpec | None = None
    #: A case from transactions (MODEL.md section 11): quota per rep, metric and period
    #: (NaN off the plan), and where the transactions went (``validate`` shows it).
    period_quotas: np.ndarray | None = None
    ledger: Any = None

    @classmethod
    def from_frames(cls, spec: dict[str, Any] | str, reps: pd.DataFrame,
                    attainment: pd.DataFrame | None = None, *,
                    transactions: pd.DataFrame | None = None,
                    quota_plan: pd.DataFrame | None = None,
                    calendar: pd.DataFrame | None = None,
                    quotas: pd.DataFrame | None = None,
                    current_plan: dict[str, Any] | None = None) -> Case:
        """A case from DataFrames, checked exactly as a case folder is (no folder needed).

        Parameters
        ----------
        spec : dict or str
            The contents of ``case.toml``: parsed (a dict) or as TOML text.
        reps : pandas.DataFrame
            The roster, as ``reps.csv`` (``rep_id``, ``target_incentive``, groupings).
        attainment : pandas.DataFrame, optional
            As ``attainment.csv``; or, for a case with ``[source]`` (MODEL.md section 11):
        transactions : pandas.DataFrame, optional
            The ledger (replaces ``[source] transactions``, which may then be left out).
        quota_plan : pandas.DataFrame, optional
            ``rep_id, metric, period, quota`` (replaces ``[source] quotas``).
        calendar : pandas.DataFrame, optional
            ``period, start, end`` (replaces ``[source] calendar``).
        quotas : pandas.DataFrame, optional
            As ``quotas.csv`` (section 1).
        current_plan : dict, optional
            As ``current_plan.toml``, parsed.

        Returns
        -------
        Case
            The validated case, with ``path`` None. Errors name the table as its file
            would be named (``reps.csv``, line = row + 2 counting the header).

        Raises
        ------
        CaseError
            As :func:`load_case`.
        """
        from compplan.models.frames import case_from_frames

        return case_from_frames(spec, reps, attainment, transactions=transactions,
                                quota_plan=quota_plan, calendar=calendar, quotas=quotas,
                                current_plan=current_plan)

    @property
    def name(self) -> str:
        """The case's display name."""
        return self.spec.case.name

    @property
    def target_incentive(self) -> np.ndarray:
        """Target incentive per rep, float64."""
        return self.reps["target_incentive"].to_numpy(dtype=np.float64)

    def metric(self, metric_id: str) -> MetricSpec:
        """The spec of one candidate metric."""
        return self.spec.metrics[metric_id]

    def weight_bounds(self, metric_id: str) -> tuple[float, float]:
        """A metric's least and greatest weight when chosen (its own, else [design])."""
        spec, design = self.metric(metric_id), self.spec.design
        low = design.min_weight if spec.min_weight is None else spec.min_weight
        high = design.max_weight if spec.max_weight is None else spec.max_weight
        return low, high

    def with_overrides(self, *, budget: float | None = None,
                       max_metrics: int | None = None) -> Case:
        """A copy with the expected-cost cap or the metric count replaced.

        Parameters
        ----------
        budget : float, optional
            New ``[budget] expected_cap``; must be > 0.
        max_metrics : int, optional
            New ``[design] max_metrics``; 1 to 3.

        Returns
        -------
        Case
            The same case with the overrides applied and re-validated.
        """
        data = self.spec.model_dump()
        if budget is not None:
            data["budget"]["expected_cap"] = budget
        if max_metrics is not None:
            data["design"]["max_metrics"] = max_metrics
        try:
            spec = CaseSpec.model_validate(data, strict=True)  # "7e6" and True: refused
        except ValidationError as exc:
            err = case_error_from_pydantic("command line", exc, CaseSpec, {"metrics"})
            where = f"{err.field}: " if err.field is not None else ""
            raise UsageError(f"override rejected: {where}{err.detail}") from None
        return replace(self, spec=spec)


def load_case(path: str | Path, *, goals: dict[str, float] | None = None) -> Case:
    """Load and validate a case folder (MODEL.md section 1).

    Parameters
    ----------
    path : str or Path
        The case folder holding ``case.toml``, ``reps.csv`` and ``attainment.csv``.
    goals : dict of str to float, optional
        Goals given from outside (an organisation's ``[goals]``, MODEL.md section 7):
        ``case.toml`` must then have no ``[goals]`` table of its own.

    Returns
    -------
    Case
        The validated case.

    Raises
    ------
    CaseError
        Naming the file, the line and the field of the first problem found.
    """
    folder = Path(path)
    try:
        # Every array of a case's reading is written once and read in order: no huge
        # pages, whose compaction cost more than the reading (models/pages.py).
        with plain_pages():
            return _load_case(folder, goals)
    except RecursionError:
        raise CaseError(str(folder), "holds data nested too deeply to read") from None
    except OSError as exc:
        # Permission denied and the like, on any file of the case: named, not a traceback.
        name = Path(exc.filename).name if exc.filename else str(folder)
        raise CaseError(name, f"cannot be read: {exc.strerror or exc}") from None


def _load_case(folder: Path, goals: dict[str, float] | None) -> Case:
    if not folder.is_dir():
        raise CaseError(str(folder), "is not a case folder (a folder holding case.toml, "
                                     "reps.csv and attainment.csv)")
    check_file(folder / CASE_FILE)
    check_file(folder / CURRENT_PLAN_FILE)
    if not (folder / CASE_FILE).is_file():
        raise CaseError(CASE_FILE, f"is missing from the case folder {folder}")
    inside_folder(folder, folder / CASE_FILE)
    tables = {stem: find_table(folder, stem) for stem in (REPS, ATTAINMENT, QUOTAS)}
    spec = read_case_spec(folder / CASE_FILE, goals=goals)
    for stem in (REPS,) if spec.source is not None else (REPS, ATTAINMENT):
        if tables[stem] is None:
            raise CaseError(f"{stem}.csv", f"is missing from the case folder {folder} "
                                           f"(or give {stem}.parquet)")
    if spec.source is not None and tables[ATTAINMENT] is not None:
        raise CaseError(CASE_FILE, f"has a [source] table, but the case folder also holds "
                                   f"{_required(tables[ATTAINMENT]).name}: attainment comes "
                                   "from one of them; remove the file or the [source] table",
                        field="[source]")
    if spec.source is None:
        check_memory(_required(tables[ATTAINMENT]))
    if (folder / CURRENT_PLAN_FILE).is_file():
        inside_folder(folder, folder / CURRENT_PLAN_FILE)
    reps = read_reps(_required(tables[REPS]), spec)
    metric_ids = tuple(spec.metrics)
    if spec.source is not None:
        from compplan.models.ledger import build_ledger, read_inputs
        from compplan.models.sources import transactions_source

        inputs = read_inputs(folder, spec.source,
                             transactions_source(spec.source, folder))
        return case_from_ledger(folder, spec, reps, build_ledger(spec, reps, inputs),
                                tables[QUOTAS])
    attainment, periods, present = read_attainment(
        _required(tables[ATTAINMENT]), reps, metric_ids,
        allow_absent=spec.scenarios.allow_absent)
    if not attainment.any():
        raise CaseError(_required(tables[ATTAINMENT]).name,
                        "every attainment value is 0: no plan can pay for any result; check "
                        "that the file holds attainment as a ratio of quota (1.0 = 100 %)")
    quotas_path = tables[QUOTAS]
    quotas = None if quotas_path is None else read_quotas(quotas_path, reps, metric_ids)
    _check_revenue(spec, quotas, metric_ids)
    current = read_current_plan(folder / CURRENT_PLAN_FILE, spec)
    baseline = read_response(folder, spec, quotas)
    return Case(folder, spec, reps, metric_ids, periods, attainment, quotas, current, present,
                baseline)


def read_response(folder: Path | None, spec: CaseSpec, quotas: np.ndarray | None,
                  period_quotas: np.ndarray | None = None) -> PlanSpec | None:
    """Check ``[response]`` against the folder and read its baseline (MODEL.md section 10).

    The baseline is a plan file of the case folder in any form of section 9 (a TOML
    plan or a ``plan.json``); a metric's ``value`` needs its quota in ``quotas.csv``.

    Raises
    ------
    CaseError
        Naming ``case.toml`` and the key, or the baseline file and its entry.
    """
    if spec.response is None:
        return None
    for mid, metric in spec.metrics.items():
        if metric.value is None:
            continue
        if quotas is None and period_quotas is not None:
            continue  # a case from transactions: each period's own quota (section 11)
        if quotas is None:
            raise CaseError(CASE_FILE, "a value per unit needs quotas.csv (the quota in the "
                                       "metric's unit), but the case has no quotas.csv",
                            field=f"[metrics.{mid}] value")
        if np.isnan(quotas[:, tuple(spec.metrics).index(mid)]).any():
            raise CaseError("quotas.csv", f"has no column '{mid}', which [metrics.{mid}] value "
                                          "in case.toml needs (the quota in the metric's unit)")
    name = spec.response.baseline
    if folder is None:
        raise CaseError(CASE_FILE, f"the baseline plan '{name}' is a file of the case folder, "
                                   "and this case was built from DataFrames: write its tables "
                                   "to a folder with the baseline plan and load that",
                        field="[response] baseline")
    path = folder / name
    if name and not path.is_file():
        inside_folder(folder, path)
    if not name or not path.is_file():
        raise CaseError(CASE_FILE, f"the baseline plan '{name}' is not a file of the case folder "
                                   f"{folder} (give the plan reps worked under when the history "
                                   "was recorded, e.g. \"current_plan.toml\")",
                        field="[response] baseline")
    check_file(path)
    inside_folder(folder, path)
    try:
        if path.suffix == ".json":
            from compplan.models.plan import read_plan_json

            _doc, plan = read_plan_json(path)
            check_plan(path.name, plan, spec, table="metrics")
        else:
            plan = validate_model(path, PlanSpec, read_toml(path))
            check_plan(path.name, plan, spec)
    except CaseError as exc:
        raise CaseError(exc.file, f"{exc.detail} (the [response] baseline of case.toml)",
                        row=exc.row, field=exc.field) from None
    return plan


def case_from_ledger(folder: Path | None, spec: CaseSpec, reps: pd.DataFrame, ledger: Any,
                     quotas_path: Path | None, current: PlanSpec | None = None) -> Case:
    """The case whose attainment a ledger computed (MODEL.md section 11)."""
    metric_ids = tuple(spec.metrics)
    if not ledger.attainment.any():
        raise CaseError(CASE_FILE, "every attainment the ledger gives is 0: no plan can pay "
                                   "for any result; check the metrics' sum and where",
                        field="[source]")
    quotas = None if quotas_path is None else read_quotas(quotas_path, reps, metric_ids)
    if quotas is not None:  # else each period's own quota gives the revenue metric's
        _check_revenue(spec, quotas, metric_ids)
    if folder is not None:
        current = read_current_plan(folder / CURRENT_PLAN_FILE, spec)
    baseline = read_response(folder, spec, quotas, ledger.period_quotas)
    # attainment.csv's layout in memory (models/fastcsv.py: periods, then metrics, per rep):
    # sums over it then add in the same order, so the twin gives the same plan to the bit.
    attainment = np.ascontiguousarray(ledger.attainment.transpose(0, 2, 1)).transpose(0, 2, 1)
    return Case(folder, spec, reps, metric_ids, ledger.periods, attainment, quotas,
                current, ledger.present, baseline, ledger.period_quotas, ledger)


def _check_revenue(spec: CaseSpec, quotas: np.ndarray | None,
                   metric_ids: tuple[str, ...]) -> None:
    """A revenue metric needs its quota in currency, to express expected revenue."""
    metric = spec.case.revenue_metric
    if metric is None:
        return
    if quotas is None:
        raise CaseError(CASE_FILE, f"needs quotas.csv with a column '{metric}' (quota in "
                                   "currency) to express expected revenue, but the case has "
                                   "no quotas.csv", field="[case] revenue_metric")
    if np.isnan(quotas[:, metric_ids.index(metric)]).any():
        raise CaseError("quotas.csv", f"has no column '{metric}', the case's revenue metric "
                                      "([case] revenue_metric in case.toml)")


def _required(path: Path | None) -> Path:
    assert path is not None  # checked by load_case
    return path


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file (a UTF-8 byte-order mark is fine), naming it in errors."""
    # utf-8-sig: a byte-order mark (as some Windows editors write) is dropped, as for CSV.
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CaseError(path.name, f"cannot be read: {exc.strerror or exc}") from None
    check_utf16(path.name, data[:4096])
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(path.name, f"is not valid TOML: {exc}") from None
    except RecursionError:
        raise CaseError(path.name, "is not valid TOML here: its tables or arrays are nested "
                                   "too deeply") from None
    except UnicodeDecodeError as exc:
        raise CaseError(path.name, f"is not UTF-8 text ({exc.reason})") from None


def validate_model(path: Path, model: type[BaseModel], data: dict[str, Any]) -> Any:
    """Validate parsed data against a schema, as a :class:`CaseError` naming ``path``."""
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise case_error_from_pydantic(path.name, exc, model, {"metrics"}) from None


def read_case_spec(path: Path, goals: dict[str, float] | None = None) -> CaseSpec:
    """Read and validate ``case.toml``; with ``goals``, it may not have its own ``[goals]``."""
    data = read_toml(path)
    if goals is not None:
        if "goals" in data:
            raise CaseError(path.name, "has its own [goals] table, but a role's goals are "
                                       "the organisation's (org.toml [goals]); remove it",
                            field="[goals]")
        data["goals"] = dict(goals)
    elif "goals" not in data:
        _role_hint(path)
    spec: CaseSpec = validate_model(path, CaseSpec, data)
    if goals is None:  # a role's goals are checked against org.toml by models/org.py
        check_goals(spec, path.name)
    return spec


def _role_hint(path: Path) -> None:
    """A case.toml without [goals] in a folder an organisation holds: say it is a role.

    A single-case command on a role's folder once said only "goals: is required".
    """
    folder = path.parent.resolve()
    for org in (folder.parent, folder.parent.parent):
        if (org / "org.toml").is_file():
            raise CaseError(path.name, f"has no [goals] table: {path.parent} looks like a "
                                       f"role of the organisation in {org} (its org.toml holds "
                                       "the goals); give the organisation folder instead",
                            field="[goals]")


def check_goals(spec: CaseSpec, file: str) -> None:
    """Every goal named in an alignment is listed in ``[goals]`` (MODEL.md section 1).

    Raises
    ------
    CaseError
        Naming the file, the ``[metrics.ID]`` table and the goal, with the known goals.
    """
    unknown = spec.unknown_goals()
    if not unknown:
        return
    metric, goal = unknown[0]
    more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
    raise CaseError(file, f"goal {shown(goal)} is not in [goals] (goals: "
                          f"{', '.join(spec.goals)}); "
                          "list it in [goals] (a priority of 0 is allowed) or correct its "
                          f"spelling{more}", field=f"[metrics.{metric}] alignment")


def read_current_plan(path: Path, spec: CaseSpec) -> PlanSpec | None:
    """Read ``current_plan.toml`` if present, checked by :func:`check_plan`."""
    if not path.is_file():
        return None
    plan: PlanSpec = validate_model(path, PlanSpec, read_toml(path))
    check_plan(path.name, plan, spec)
    return plan


def check_plan(file: str, plan: PlanSpec, spec: CaseSpec, table: str = "[[metrics]]") -> None:
    """Check a written plan against its case (MODEL.md section 9).

    Its metrics and gates must be candidates of the case (their attainment is in
    ``attainment.csv``); ``base_rate`` must equal ``weight / (1 - threshold)`` and, when
    both are given, ``accelerator_rate`` must equal ``accelerator_multiple x base rate``,
    within :data:`~compplan.models.schema.PLAN_TOLERANCE`: a key is honoured or refused,
    never ignored.

    Parameters
    ----------
    file : str
        The file named in errors.
    plan : PlanSpec
        The plan as parsed.
    spec : CaseSpec
        The case's ``case.toml``.
    table : str
        How an entry is named in errors (``[[metrics]]`` in TOML, ``metrics`` in JSON).

    Raises
    ------
    CaseError
        Naming the file, the entry and the key at fault.
    """
    known = ", ".join(spec.metrics)
    for i, item in enumerate(plan.metrics):
        where = f"{table} #{i + 1}"
        if item.id not in spec.metrics:
            raise CaseError(file, f"'{item.id}' is not a metric of the case (metrics: {known})",
                            field=f"{where} id")
        if item.gate is not None and item.gate.metric not in spec.metrics:
            raise CaseError(file, f"metric '{item.id}' is gated on '{item.gate.metric}', which "
                                  f"is not a metric of the case (metrics: {known})",
                            field=f"{where} gate.metric")
        if item.weight is not None:
            _check_rates(file, f"{where} ({item.id})", item, spec)


def _agree(a: float, b: float) -> bool:
    return abs(a - b) <= PLAN_TOLERANCE * max(1.0, abs(a), abs(b))


def _check_rates(file: str, where: str, item: PlanMetricSpec, spec: CaseSpec) -> None:
    assert item.weight is not None  # the canonical form
    theta = item.threshold if item.threshold is not None else spec.metrics[item.id].threshold
    base = item.weight / (1.0 - theta)
    if item.base_rate is not None and not _agree(item.base_rate, base):
        raise CaseError(file, f"base_rate {item.base_rate:.10g} is not weight / (1 - threshold) "
                              f"= {item.weight:g} / (1 - {theta:g}) = {base:.10g}; give the "
                              "weight and leave base_rate out, or make them agree",
                        field=f"{where} base_rate")
    rate, multiple = item.accelerator_rate, item.accelerator_multiple
    if rate is not None and multiple is not None and not _agree(rate, multiple * base):
        raise CaseError(file, f"accelerator_rate {rate:.10g} and accelerator_multiple "
                              f"{multiple:.10g} disagree (the multiple x base rate "
                              f"{base:.10g} is {multiple * base:.10g}); give one of them",
                        field=f"{where} accelerator_multiple")


def read_reps(path: Path, spec: CaseSpec) -> pd.DataFrame:
    """Read ``reps.csv``: unique rep ids, target incentives > 0, grouping columns present."""
    name = path.name
    columns = read_header(path)
    text = [c for c in columns if c != "target_incentive"]
    frame = read_table(path, ["rep_id", "target_incentive"], text)
    frame["target_incentive"] = numeric_column(
        frame, name, "target_incentive", allowed="a number > 0 (currency)", minimum=0.0,
        strict=True, maximum=MAX_MONEY, what="amount of money")
    dup = first_duplicate(frame["rep_id"])
    if dup is not None:
        raise CaseError(name, f"rep {shown(frame.loc[dup[0], 'rep_id'])} appears twice "
                              f"(first on line {dup[1]}); rep ids must be unique",
                        row=dup[0], unit=row_unit(name), field="rep_id")
    group_by = spec.fairness.group_by
    if group_by in ("rep_id", "target_incentive"):
        raise CaseError(CASE_FILE, f"'{group_by}' cannot group reps: name a grouping column of "
                                   "reps.csv (segment, region, ...)", field="[fairness] group_by")
    if group_by is not None and group_by not in frame.columns:
        grouping = [c for c in frame.columns if c not in ("rep_id", "target_incentive")]
        raise CaseError(CASE_FILE, f"'{group_by}' is not a column of reps.csv "
                                   f"(grouping columns: {', '.join(grouping) or 'none'})",
                        field="[fairness] group_by")
    if group_by is not None and frame[group_by].nunique() < 2:
        raise CaseError(CASE_FILE, f"'{group_by}' has the one value "
                                   f"{shown(frame[group_by].iloc[0])} for every rep in reps.csv: "
                                   "there are no groups to compare; group by another column or "
                                   "leave group_by out", field="[fairness] group_by")
    return frame.set_index("rep_id", drop=True)


def read_attainment(path: Path, reps: pd.DataFrame, metric_ids: tuple[str, ...], *,
                    allow_absent: bool = False
                    ) -> tuple[np.ndarray, tuple[str, ...], np.ndarray | None]:
    """Read ``attainment.csv`` into ``x[rep, metric, period]``.

    Every row must belong to a known rep, with at most one row per rep and period.
    Every rep needs one row per period, unless ``allow_absent`` (MODEL.md section 5):
    then a missing row means the rep was off the plan that period (attainment 0 and
    ``present`` False there), and every rep still needs at least one row.

    Returns
    -------
    tuple
        The attainment array, the sorted periods, and the presence mask ``O[r, t]``
        (None when every rep has every period).
    """
    name = path.name
    columns = read_header(path)
    missing = [m for m in metric_ids if m not in columns]
    if missing:
        raise CaseError(name, f"has no column for metric '{missing[0]}' (every metric of "
                              f"case.toml needs one; columns found: {', '.join(columns)})",
                        row=header_row(name))
    if path.suffix == ".csv":
        with plain_pages():  # the history is written once: no huge pages (models/pages.py)
            fast = read_attainment_fast(path, pd.Index(reps.index), metric_ids,
                                        allow_absent=allow_absent)
        if fast is not None:
            x, labels, counts = fast
            present = (None if counts is None else
                       _presence(name, counts, pd.Index(reps.index), labels, allow_absent))
            return x, labels, present
    frame = read_table(path, ["rep_id", "period"], ["rep_id", "period"])
    rep_index = pd.Index(reps.index)
    rep_code = rep_index.get_indexer(frame["rep_id"])
    if (rep_code < 0).any():
        i = int(np.argmax(rep_code < 0))
        raise CaseError(name, f"rep {shown(frame['rep_id'].iloc[i])} is not in reps.csv",
                        row=int(frame.index[i]), unit=row_unit(name), field="rep_id")
    period_code, periods = pd.factorize(frame["period"], sort=True)
    n_reps, n_periods = len(rep_index), len(periods)
    cell = rep_code.astype(np.int64) * n_periods + period_code
    counts = np.bincount(cell, minlength=n_reps * n_periods)
    if (counts > 1).any():
        seen = pd.Series(cell, index=frame.index).duplicated()
        line = int(seen.index[int(np.argmax(seen.to_numpy()))])
        raise CaseError(name, f"rep {shown(frame.loc[line, 'rep_id'])} has two rows for period "
                              f"{shown(frame.loc[line, 'period'])}", row=line, unit=row_unit(name),
                        field="period")
    present = _presence(name, counts.reshape(n_reps, n_periods), rep_index,
                        tuple(str(p) for p in periods), allow_absent)
    x = np.zeros((n_reps, len(metric_ids), n_periods), dtype=np.float64)
    for j, metric in enumerate(metric_ids):
        values = numeric_column(frame, name, metric, allowed="a finite number >= 0 "
                                "(attainment as a ratio of quota, 1.0 = 100 %)",
                                minimum=0.0, strict=False, maximum=MAX_ATTAINMENT,
                                what="attainment")
        x[rep_code, j, period_code] = values
    return x, tuple(str(p) for p in periods), present


def _presence(name: str, counts: np.ndarray, rep_index: pd.Index, periods: tuple[str, ...],
              allow_absent: bool) -> np.ndarray | None:
    """``O[r, t]`` from the rows per rep and period; None when nobody is missing a period."""
    if (counts > 0).all():
        return None
    if not allow_absent:
        hole = np.argwhere(counts == 0)[0]
        raise CaseError(name, f"rep {shown(rep_index[hole[0]])} has no row for period "
                              f"{shown(periods[hole[1]])} (every rep needs exactly one row per "
                              "period; if reps joined or left, set [scenarios] allow_absent "
                              "= true in case.toml: a missing row then means off the plan "
                              "that period)")
    idle = np.flatnonzero(counts.sum(axis=1) == 0)
    if idle.size:
        raise CaseError(name, f"rep {shown(rep_index[idle[0]])} of reps.csv has no row at all "
                              "(with allow_absent a rep may miss periods, but needs at least "
                              "one)")
    present: np.ndarray = counts > 0
    return present


def read_quotas(path: Path, reps: pd.DataFrame,
                metric_ids: tuple[str, ...]) -> np.ndarray:
    """Read ``quotas.csv``: quota > 0 per rep and metric (NaN where no column)."""
    name = path.name
    frame = read_table(path, ["rep_id"], ["rep_id"])
    unknown = [c for c in frame.columns if c != "rep_id" and c not in metric_ids]
    if unknown:
        raise CaseError(name, f"column '{unknown[0]}' is not a metric of the case "
                              f"(metrics: {', '.join(metric_ids)})", row=header_row(name))
    dup = first_duplicate(frame["rep_id"])
    if dup is not None:
        raise CaseError(name, f"rep {shown(frame.loc[dup[0], 'rep_id'])} appears twice",
                        row=dup[0], unit=row_unit(name), field="rep_id")
    code = pd.Index(reps.index).get_indexer(frame["rep_id"])
    if (code < 0).any():
        i = int(np.argmax(code < 0))
        raise CaseError(name, f"rep {shown(frame['rep_id'].iloc[i])} is not in reps.csv",
                        row=int(frame.index[i]), unit=row_unit(name), field="rep_id")
    if len(frame) != len(reps):
        present = set(frame["rep_id"])
        absent = next(r for r in reps.index if r not in present)
        raise CaseError(name, f"rep {shown(absent)} has no row (quotas.csv needs one row per rep)")
    quotas = np.full((len(reps), len(metric_ids)), np.nan)
    for j, metric in enumerate(metric_ids):
        if metric in frame.columns:
            quotas[code, j] = numeric_column(frame, name, metric, minimum=0.0, strict=True,
                                             allowed="a number > 0 (quota in the metric's unit)",
                                             maximum=MAX_MONEY, what="quota")
    return quotas
