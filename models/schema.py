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

MAX_METRICS = 3  # metrics in a plan (MODEL.md section 1)
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]


def _one_line(text: str) -> str:
    # A name with a line break would start a heading of its own in plan.md.
    if any(not c.isprintable() and c != " " for c in text):
        raise ValueError("must be one line of text (no line breaks, tabs or control "
                         f"characters), got {text[:60]!r}")
    return text


OneLine = Annotated[str, AfterValidator(_one_line)]


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


class MetricSpec(_Strict):
    """One ``[metrics.ID]`` table: a candidate metric."""

    label: OneLine | None = None
    threshold: float = Field(ge=0.0, lt=1.0)
    cap: float = Field(gt=1.0)
    alignment: dict[str, Annotated[float, Field(ge=-1.0, le=1.0)]]
    responsiveness: Positive = 1.0
    step: Positive | None = None
    min_weight: Fraction | None = None
    max_weight: Fraction | None = None
    required: bool = False
    forbidden: bool = False

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
    accelerator_min: float = Field(default=1.0, ge=0.0)
    accelerator_max: float = Field(default=3.0, ge=0.0)
    max_payout_multiple: Positive | None = None

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

    expected_cap: Positive | None = None
    cvar_level: float | None = Field(default=None, gt=0.0, lt=1.0)
    cvar_cap: Positive | None = None

    @model_validator(mode="after")
    def _paired(self) -> BudgetSpec:
        if self.cvar_cap is not None and self.cvar_level is None:
            raise ValueError("cvar_cap needs cvar_level (the tail level beta, 0 < beta < 1)")
        return self


class FairnessSpec(_Strict):
    """The ``[fairness]`` table: HR's guardrails."""

    group_by: str | None = None
    parity_tolerance: float | None = Field(default=None, ge=0.0)
    top_share: float | None = Field(default=None, gt=0.0, le=1.0)
    top_ratio: float | None = Field(default=None, gt=0.0)
    bottom_share: float | None = Field(default=None, gt=0.0, le=1.0)
    bottom_floor: float | None = Field(default=None, ge=0.0)

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


class CaseSpec(_Strict):
    """The whole of ``case.toml``."""

    case: CaseInfo = CaseInfo()
    goals: dict[str, float]
    metrics: dict[str, MetricSpec]
    design: DesignSpec = DesignSpec()
    budget: BudgetSpec = BudgetSpec()
    fairness: FairnessSpec = FairnessSpec()
    scenarios: ScenarioSpec = ScenarioSpec()

    @field_validator("goals")
    @classmethod
    def _goals(cls, goals: dict[str, float]) -> dict[str, float]:
        if not goals:
            raise ValueError("at least one goal is required")
        for name, value in goals.items():
            if value < 0.0:
                raise ValueError(f"goal '{name}' has priority {value}; priorities are >= 0")
        if not any(v > 0 for v in goals.values()):
            raise ValueError("at least one goal needs a priority > 0")
        return goals

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
        required = [m for m, s in self.metrics.items() if s.required]
        if len(required) > self.design.max_metrics:
            raise ValueError(f"{len(required)} metrics are required ({', '.join(required)}) "
                             f"but [design] max_metrics is {self.design.max_metrics}")
        return self


    def warnings(self) -> list[str]:
        """Settings that are allowed but probably not meant, in words."""
        notes = []
        for mid, metric in self.metrics.items():
            for goal in sorted(set(metric.alignment) - set(self.goals)):
                # The conformance cases name goals outside [goals]: they count with
                # priority 0, so this is a warning and not an error.
                notes.append(f"case.toml: [metrics.{mid}] alignment names goal '{goal}', "
                             f"which is not in [goals] (goals: {', '.join(self.goals)}); "
                             "it counts with priority 0")
        return notes


class PlanMetricSpec(_Strict):
    """One metric of a plan given as input (``current_plan.toml``)."""

    id: str
    label: OneLine | None = None
    weight: float = Field(gt=0.0, le=1.0)
    threshold: float | None = Field(default=None, ge=0.0, lt=1.0)
    cap: float | None = Field(default=None, gt=1.0)
    base_rate: float | None = Field(default=None, ge=0.0)
    accelerator_rate: float | None = Field(default=None, ge=0.0)
    accelerator_multiple: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _one_accelerator(self) -> PlanMetricSpec:
        if self.accelerator_rate is None and self.accelerator_multiple is None:
            raise ValueError("give accelerator_rate or accelerator_multiple")
        return self

    def rate(self, threshold: float) -> float:
        """The accelerator rate, from either key; with both they must agree (1e-6).

        Raises
        ------
        ValueError
            Both keys are given and disagree: which one was meant is unknown.
        """
        slope = 1.0 / (1.0 - threshold)
        implied = (None if self.accelerator_multiple is None
                   else self.accelerator_multiple * self.weight * slope)
        if self.accelerator_rate is None:
            return implied or 0.0
        if implied is not None and abs(implied - self.accelerator_rate) > 1e-6 * max(
                1.0, abs(implied)):
            raise ValueError(
                f"accelerator_rate {self.accelerator_rate:g} and accelerator_multiple "
                f"{self.accelerator_multiple:g} disagree (with weight {self.weight:g} and "
                f"threshold {threshold:g} the multiple means a rate of {implied:.6g}); "
                "give one of them")
        return self.accelerator_rate


class PlanSpec(_Strict):
    """A plan given as input: ``[[metrics]]`` tables, as in a plan's ``metrics``."""

    metrics: list[PlanMetricSpec]

    @field_validator("metrics")
    @classmethod
    def _count(cls, metrics: list[PlanMetricSpec]) -> list[PlanMetricSpec]:
        if not metrics:
            raise ValueError("a plan needs at least 1 metric, got none")
        if len(metrics) > MAX_METRICS:
            raise ValueError(f"a plan has at most {MAX_METRICS} metrics, got {len(metrics)}")
        return metrics

    @model_validator(mode="after")
    def _weights(self) -> PlanSpec:
        ids = [m.id for m in self.metrics]
        if len(set(ids)) != len(ids):
            raise ValueError("a metric appears twice")
        total = sum(m.weight for m in self.metrics)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"weights sum to {total:g}; they must sum to 1")
        return self
