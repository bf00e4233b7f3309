"""The schema of ``case.toml`` and ``current_plan.toml`` (MODEL.md section 1).

Every table forbids unknown keys, so a typo such as ``treshold`` is an error
rather than a silently ignored setting, and every number must be finite (TOML's
``inf`` and ``nan`` are rejected).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from compplan.models.limits import (
    MAX_PRIORITY,
    AttainmentValue,
    Money,
    RateValue,
    ShareValue,
    WeightValue,
    limit_text,
    number_text,
)
from compplan.models.text import shown

MAX_METRICS = 3  # metrics in a plan (MODEL.md section 1)
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
PositiveMoney = Annotated[Money, Field(gt=0.0)]


def _one_line(text: str) -> str:
    # A name with a line break would start a heading of its own in plan.md.
    if any(not c.isprintable() and c != " " for c in text):
        raise ValueError("must be one line of text (no line breaks, tabs or control "
                         f"characters), got {text[:60]!r}")
    return text


OneLine = Annotated[str, AfterValidator(_one_line)]


def check_goals(goals: dict[str, float]) -> dict[str, float]:
    """At least one goal, none negative, at least one priority > 0 (MODEL.md section 1).

    The rule of a case's ``[goals]`` and of an organisation's (``org.toml``).
    """
    if not goals:
        raise ValueError("at least one goal is required")
    for name in goals:
        # As names and labels: a goal's name reaches the terminal, audit lines and
        # documents (an escape sequence, a line break splitting an audit line).
        if not name.strip() or any(not c.isprintable() for c in name):
            raise ValueError(f"goal name {shown(name)} must be one line of visible text (no "
                             "line breaks, tabs, control or invisible characters)")
    for name, value in goals.items():
        if value < 0.0:
            raise ValueError(f"goal '{name}' has priority {value}; priorities are >= 0")
        if value > MAX_PRIORITY:  # the sum of the priorities must not overflow
            raise ValueError(f"goal '{name}' has priority {number_text(value)}; priorities are "
                             f"at most {limit_text(MAX_PRIORITY)} (the largest goal priority "
                             "compplan computes with, MODEL.md section 1)")
    if not any(v > 0 for v in goals.values()):
        raise ValueError("at least one goal needs a priority > 0")
    return goals


class _Strict(BaseModel):
    # TOML reads inf and nan as floats; no setting means anything with them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CaseInfo(_Strict):
    """The ``[case]`` table."""

    name: OneLine = "Unnamed case"
    currency: OneLine = "USD"
    # A metric whose quota (quotas.csv) is revenue in currency: gives cost of sales.
    revenue_metric: str | None = None
    # Money is annual when set: target incentive and budget caps per year (MODEL.md s. 5).
    periods_per_year: int | None = Field(default=None, ge=1, le=366)

    @field_validator("periods_per_year", mode="before")
    @classmethod
    def _whole_periods(cls, value: object) -> object:
        # TOML true is a Python bool, an int subclass: refuse it (and 12.5, 12.0) by name.
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            shown = str(value).lower() if isinstance(value, bool) else repr(value)
            raise ValueError("must be a whole number of periods in a year (12 for monthly "
                             f"periods, 4 for quarterly), got {shown}")
        return value


class MetricSpec(_Strict):
    """One ``[metrics.ID]`` table: a candidate metric."""

    label: OneLine | None = None
    threshold: float = Field(ge=0.0, lt=1.0)
    cap: AttainmentValue = Field(gt=1.0)
    alignment: dict[str, Annotated[float, Field(ge=-1.0, le=1.0)]]
    responsiveness: Annotated[RateValue, Field(gt=0.0)] = 1.0
    step: Annotated[AttainmentValue, Field(gt=0.0)] | None = None
    min_weight: Fraction | None = None
    max_weight: Fraction | None = None
    required: bool = False
    forbidden: bool = False
    # Response (MODEL.md section 10): this metric's elasticity, and what a unit is worth.
    elasticity: float | None = Field(default=None, ge=0.0, le=1e6)
    value: float | None = Field(default=None, ge=0.0, le=1e15)
    # A metric over transactions (MODEL.md section 11): needs [source].
    sum: str | None = Field(default=None, min_length=1, max_length=10_000)
    count: bool | None = None
    where: str | None = Field(default=None, min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> MetricSpec:
        if self.required and self.forbidden:
            raise ValueError("a metric cannot be both required and forbidden")
        if (self.min_weight is not None and self.max_weight is not None
                and self.min_weight > self.max_weight):
            raise ValueError(
                f"min_weight {self.min_weight} is above max_weight {self.max_weight}")
        return self


class DesignSpec(_Strict):
    """The ``[design]`` table: rules every plan follows."""

    max_metrics: int = Field(default=MAX_METRICS, ge=1, le=MAX_METRICS)
    min_weight: Fraction = 0.0
    max_weight: Fraction = 1.0
    accelerator_min: RateValue = Field(default=1.0, ge=0.0)
    accelerator_max: RateValue = Field(default=3.0, ge=0.0)
    max_payout_multiple: Annotated[ShareValue, Field(gt=0.0)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DesignSpec:
        if self.min_weight > self.max_weight:
            raise ValueError(
                f"min_weight {self.min_weight} is above max_weight {self.max_weight}")
        if self.accelerator_min > self.accelerator_max:
            raise ValueError(f"accelerator_min {self.accelerator_min} is above "
                             f"accelerator_max {self.accelerator_max}")
        return self


class BudgetSpec(_Strict):
    """The ``[budget]`` table: finance's caps."""

    expected_cap: PositiveMoney | None = None
    cvar_level: float | None = Field(default=None, gt=0.0, lt=1.0)
    cvar_cap: PositiveMoney | None = None

    @model_validator(mode="after")
    def _paired(self) -> BudgetSpec:
        if self.cvar_cap is not None and self.cvar_level is None:
            raise ValueError("cvar_cap needs cvar_level (the tail level beta, 0 < beta < 1)")
        return self


class FairnessSpec(_Strict):
    """The ``[fairness]`` table: HR's guardrails."""

    group_by: str | None = None
    parity_tolerance: ShareValue | None = Field(default=None, ge=0.0)
    top_share: float | None = Field(default=None, gt=0.0, le=1.0)
    top_ratio: RateValue | None = Field(default=None, gt=0.0)
    bottom_share: float | None = Field(default=None, gt=0.0, le=1.0)
    bottom_floor: ShareValue | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _paired(self) -> FairnessSpec:
        pairs = [("parity_tolerance", "group_by"), ("top_share", "top_ratio"),
                 ("bottom_share", "bottom_floor")]
        for key, needed in pairs:
            if getattr(self, key) is not None and getattr(self, needed) is None:
                raise ValueError(f"{key} needs {needed}")
        for key, needed in [("top_ratio", "top_share"), ("bottom_floor", "bottom_share")]:
            if getattr(self, key) is not None and getattr(self, needed) is None:
                raise ValueError(f"{key} needs {needed}")
        return self


class ScenarioSpec(_Strict):
    """The ``[scenarios]`` table."""

    mode: Literal["historical", "montecarlo"] = "historical"
    count: int | None = Field(default=None, ge=1, le=100_000)
    seed: int | None = Field(default=None, ge=0)
    # A missing rep-period row means the rep was off the plan then (MODEL.md s. 5).
    allow_absent: bool = False

    @model_validator(mode="after")
    def _montecarlo_only(self) -> ScenarioSpec:
        if self.mode == "historical" and (self.count is not None or self.seed is not None):
            raise ValueError("count and seed apply only to mode = \"montecarlo\"")
        return self


class ResponseSpec(_Strict):
    """The ``[response]`` table: how reps respond to a plan (MODEL.md section 10)."""

    baseline: str
    elasticity: float = Field(default=0.0, ge=0.0, le=1e6)
    max_change: float = Field(default=0.5, gt=0.0, le=1.0)
class DatabaseSpec(_Strict):
    """``[source] transactions = { url, query }`` or ``{ url, table }`` (MODEL.md section 11)."""

    url: str = Field(min_length=1)
    query: str | None = Field(default=None, min_length=1)
    table: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_of(self) -> DatabaseSpec:
        if (self.query is None) == (self.table is None):
            raise ValueError("give exactly one of query (a SELECT the database runs) and "
                             "table (a whole table)")
        return self


class SourceSpec(_Strict):
    """The ``[source]`` table: metrics computed from a ledger of transactions (section 11)."""

    transactions: str | DatabaseSpec
    rep: str = Field(min_length=1)
    date: str = Field(min_length=1)
    period: Literal["month", "quarter"] | None = None
    calendar: str | None = Field(default=None, min_length=1)
    quotas: str = Field(min_length=1)
    credit: str | None = Field(default=None, min_length=1)
    password_env: str | None = Field(default=None, min_length=1)

    @field_validator("transactions", mode="before")
    @classmethod
    def _transactions(cls, value: object) -> object:
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"url", "query", "table"})
            if unknown:
                raise ValueError(f"unknown key '{unknown[0]}' in the database source (allowed: "
                                 "url, and query or table)")
            if not isinstance(value.get("url"), str):
                raise ValueError("a database source needs url = \"dialect://user@host/db\" "
                                 "(text)")
            if ("query" in value) == ("table" in value):
                raise ValueError("a database source needs exactly one of query (a SELECT the "
                                 "database runs) and table (a whole table)")
            for key in ("query", "table"):
                if key in value and not isinstance(value[key], str):
                    raise ValueError(f"the database source's {key} must be text")
            return DatabaseSpec.model_validate(value)
        if not isinstance(value, str):
            raise ValueError("must be a CSV or Parquet file, a glob of them, or "
                             "{ url, query } (a database)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourceSpec:
        if (self.period is None) == (self.calendar is None):
            raise ValueError("give exactly one of period (\"month\" or \"quarter\") and "
                             "calendar (a CSV file with columns period, start, end)")
        if isinstance(self.transactions, str) and not self.transactions.strip():
            raise ValueError("transactions is empty: give a CSV or Parquet file, a glob of "
                             "them, or { url, query }")
        if self.quotas.replace("\\", "/").rsplit("/", 1)[-1].lower() in (
                "quotas.csv", "quotas.parquet"):
            raise ValueError("quotas may not be quotas.csv, which keeps its section 1 meaning "
                             "(one quota per rep and metric); name the per-period quota table "
                             "otherwise, e.g. quota_plan.csv")
        if self.password_env is not None and isinstance(self.transactions, str):
            raise ValueError("password_env applies only to a database source "
                             "(transactions = { url, query })")
        return self


class CaseSpec(_Strict):
    """The whole of ``case.toml``."""

    case: CaseInfo = CaseInfo()
    goals: dict[str, float]
    metrics: dict[str, MetricSpec]
    design: DesignSpec = DesignSpec()
    budget: BudgetSpec = BudgetSpec()
    fairness: FairnessSpec = FairnessSpec()
    scenarios: ScenarioSpec = ScenarioSpec()
    response: ResponseSpec | None = None
    source: SourceSpec | None = None

    @field_validator("goals")
    @classmethod
    def _goals(cls, goals: dict[str, float]) -> dict[str, float]:
        return check_goals(goals)

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, metrics: dict[str, MetricSpec]) -> dict[str, MetricSpec]:
        if not metrics:
            raise ValueError("at least one metric is required")
        for reserved in ("rep_id", "period"):
            if reserved in metrics:
                raise ValueError(f"'{reserved}' is a column of attainment.csv, "
                                 "not a metric id")
        return metrics

    @model_validator(mode="after")
    def _cross_checks(self) -> CaseSpec:
        for mid, metric in self.metrics.items():
            low = self.design.min_weight if metric.min_weight is None else metric.min_weight
            high = self.design.max_weight if metric.max_weight is None else metric.max_weight
            if low > high:
                raise ValueError(f"[metrics.{mid}] min_weight {low} is above max_weight {high} "
                                 "(after [design] defaults)")
        revenue = self.case.revenue_metric
        if revenue is not None and revenue not in self.metrics:
            raise ValueError(f"[case] revenue_metric '{revenue}' is not a metric of the case "
                             f"(metrics: {', '.join(self.metrics)})")
        if self.response is None:
            for mid, metric in self.metrics.items():
                for key in ("elasticity", "value"):
                    if getattr(metric, key) is not None:
                        raise ValueError(f"[metrics.{mid}] {key} needs a [response] table "
                                         "(with baseline = the plan reps worked under when "
                                         "the history was recorded)")
        _check_ledger_keys(self)
        required = [m for m, s in self.metrics.items() if s.required]
        if len(required) > self.design.max_metrics:
            raise ValueError(f"{len(required)} metrics are required ({', '.join(required)}) "
                             f"but [design] max_metrics is {self.design.max_metrics}")
        return self


    def warnings(self) -> list[str]:
        """Settings that are allowed but probably not meant, in words (none today)."""
        return []

    def unknown_goals(self) -> list[tuple[str, str]]:
        """``(metric, goal)`` for every goal an alignment names but ``[goals]`` does not.

        MODEL.md section 1: a goal named in an alignment must be listed in ``[goals]``
        (a priority of 0 is allowed), so a misspelt goal is an error; the loader
        raises it naming the file, the metric's table and the goal.
        """
        return [(mid, goal) for mid, metric in self.metrics.items()
                for goal in sorted(set(metric.alignment) - set(self.goals))]


def _check_ledger_keys(spec: CaseSpec) -> None:
    """With [source], each metric has exactly one of sum and count; without it, none."""
    for mid, metric in spec.metrics.items():
        if spec.source is None:
            for key in ("sum", "count", "where"):
                if getattr(metric, key) is not None:
                    raise ValueError(f"[metrics.{mid}] {key} needs a [source] table (metrics "
                                     "over transactions, MODEL.md section 11); without it "
                                     "attainment comes from attainment.csv")
        elif metric.count is False:
            raise ValueError(f"[metrics.{mid}] count = false counts nothing: give count = true "
                             "(the number of transactions) or a sum")
        elif (metric.sum is None) == (metric.count is None):
            raise ValueError(f"[metrics.{mid}] needs exactly one of sum (an expression over "
                             "the transactions' columns) and count = true, since the case "
                             "has a [source]")


#: A curve's points and a plan's accelerator and base rate must agree within this.
PLAN_TOLERANCE = 1e-9
#: Keys of the canonical form, which a ``curve`` replaces.
CANONICAL_KEYS = ("weight", "threshold", "cap", "base_rate", "accelerator_rate",
                  "accelerator_multiple")


#: A gate's highest level (1,000 % of quota): above it, a percentage typed as a ratio.
MAX_GATE_AT = 10.0


class GateSpec(_Strict):
    """``gate = { metric, at }``: the metric pays only where ``x[gate.metric] >= at``."""

    metric: str
    at: AttainmentValue = Field(ge=0.0)

    @field_validator("at")
    @classmethod
    def _ratio(cls, at: float) -> float:
        # A level typed as a percent (at = 50) is a gate no rep ever passes: the metric
        # would silently never pay. Refused, as a curve's percent is (issue 19).
        if at > MAX_GATE_AT:
            raise ValueError(f"a gate's level is a ratio of quota (0.5 = 50 %) of at most "
                             f"{MAX_GATE_AT:g}; {at:g} looks like a percentage")
        return at


class PlanMetricSpec(_Strict):
    """One metric of a plan given as input (MODEL.md section 9).

    Either the canonical form (``weight`` and ``accelerator_rate`` or
    ``accelerator_multiple``, optionally the plan's own ``threshold`` and ``cap``) or
    a ``curve`` of ``[attainment, share of target incentive]`` points; either may carry
    a ``gate``. Every key is honoured or refused: ``base_rate`` and a second form of the
    accelerator must agree with the rest (checked against the case's threshold in
    :func:`compplan.models.case.check_plan`).
    """

    id: str
    label: OneLine | None = None
    weight: WeightValue | None = Field(default=None, gt=0.0)
    threshold: float | None = Field(default=None, ge=0.0, lt=1.0)
    cap: AttainmentValue | None = Field(default=None, gt=1.0)
    base_rate: RateValue | None = Field(default=None, ge=0.0)
    accelerator_rate: RateValue | None = Field(default=None, ge=0.0)
    accelerator_multiple: RateValue | None = Field(default=None, ge=0.0)
    curve: list[list[float]] | None = None
    gate: GateSpec | None = None

    @model_validator(mode="after")
    def _one_form(self) -> PlanMetricSpec:
        if self.curve is not None:
            given = [k for k in CANONICAL_KEYS if getattr(self, k) is not None]
            if given:
                raise ValueError(f"metric '{self.id}' has a curve and {', '.join(given)}: "
                                 "a curve says all the metric pays; give one or the other")
            _check_curve(self.id, self.curve)
            return self
        if self.weight is None:
            raise ValueError(f"metric '{self.id}' needs weight (with accelerator_rate or "
                             "accelerator_multiple) or a curve")
        if self.accelerator_rate is None and self.accelerator_multiple is None:
            raise ValueError("give accelerator_rate or accelerator_multiple")
        return self

    @property
    def points(self) -> tuple[tuple[float, float], ...] | None:
        """The curve as ``(attainment, share)`` pairs, or None for the canonical form."""
        if self.curve is None:
            return None
        return tuple((float(a), float(p)) for a, p in self.curve)


#: A written curve's most points, and its largest attainment or share (100 = 10,000 %).
MAX_CURVE_POINTS = 1000
MAX_CURVE_RATIO = 100.0


def _check_curve(metric: str, curve: list[list[float]]) -> None:
    """Points are pairs, attainment >= 0 and non-decreasing, payout >= 0 and non-decreasing."""
    if not curve:
        raise ValueError(f"metric '{metric}': curve needs at least one point "
                         "[attainment, share of target incentive]")
    if len(curve) > MAX_CURVE_POINTS:
        raise ValueError(f"metric '{metric}': curve has {len(curve):,} points; a curve has at "
                         f"most {MAX_CURVE_POINTS:,} (a payout table, not a sampled function)")
    previous: list[float] | None = None
    for i, point in enumerate(curve, start=1):
        where = f"metric '{metric}', curve point #{i} {point}"
        if len(point) != 2:
            raise ValueError(f"{where}: a point is [attainment, share of target incentive], "
                             f"got {len(point)} numbers")
        attainment, share = point
        if attainment < 0.0 or share < 0.0:
            raise ValueError(f"{where}: attainment and share must be >= 0")
        if attainment > MAX_CURVE_RATIO or share > MAX_CURVE_RATIO:
            raise ValueError(f"{where}: attainment and share are ratios (1.5 = 150 %) of at "
                             f"most {MAX_CURVE_RATIO:g}; {max(attainment, share):g} looks like a "
                             "percentage or an amount")
        if previous is not None and attainment < previous[0]:
            raise ValueError(f"{where}: attainment {attainment:g} is below the previous "
                             f"point's {previous[0]:g} (attainments never decrease)")
        if previous is not None and share < previous[1]:
            raise ValueError(f"{where}: share {share:g} is below the previous point's "
                             f"{previous[1]:g} (pay never falls as attainment rises)")
        previous = point


class PlanSpec(_Strict):
    """A plan given as input: ``[[metrics]]`` tables, as in a plan's ``metrics``.

    Any number of metrics: the design rules a written plan breaks (more than
    ``max_metrics``, weights not summing to 1, ...) are reported by ``evaluate``, not
    refused here (MODEL.md section 9).
    """

    metrics: list[PlanMetricSpec]

    @field_validator("metrics")
    @classmethod
    def _count(cls, metrics: list[PlanMetricSpec]) -> list[PlanMetricSpec]:
        if not metrics:
            raise ValueError("a plan needs at least 1 metric, got none")
        return metrics

    @model_validator(mode="after")
    def _unique(self) -> PlanSpec:
        ids = [m.id for m in self.metrics]
        twice = next((k for k in ids if ids.count(k) > 1), None)
        if twice is not None:
            raise ValueError(f"metric '{twice}' appears twice")
        return self
