"""Generate the example cases shipped in ``cases/``.

Each case is a folder in the format of MODEL.md section 1 (``case.toml``,
``reps.csv``, ``attainment.csv``, ``quotas.csv``, ``current_plan.toml``) plus a
``README.md`` telling its business story. Everything is synthetic and made by
this script from a seeded ``numpy.random.Generator``, one seed per case, so a
single case can be regenerated alone.

How the data are made
---------------------
Reps
    Each rep is drawn into a segment (by the segment's share), a region and a
    role of that segment. Target incentive is drawn uniformly from the
    segment's range and rounded to a hundred.
Quotas (``quotas.csv``)
    Each metric has an annual quota per segment in its own unit (currency for
    bookings and revenue, counts for logos and deals, percentage points for
    rates, months for contract length). Reps vary around it (about +-20 % for
    currency and counts, +-3 % for rates) before rounding to the unit's grain.
Attainment (``attainment.csv``)
    Attainment is a ratio of the period's share of quota. For rep ``r``,
    period ``t`` and metric ``m`` it is lognormal::

        log x = log(mean_m * segment_mean_m) - variance correction
                + rep_effect[r, m]              # persistent skill, correlated across metrics
                + shock_m * shock[t]            # a shock common to all reps in a period
                + season_m * season[t]          # quarter-end push, strong Q4
                + trend_m * (t - mid-period)    # drift, e.g. licence down, cloud up
                + noise[r, t, m]                # period noise, correlated across metrics

    Rep effects and noise share one correlation matrix per case (for example,
    enterprise bookings go with multi-product deals; licence revenue works
    against cloud ARR). The common shock is what keeps the total payout risky
    however many reps there are. Lumpy metrics (new logos, migrations, upsell
    deals) are Poisson counts with mean ``period quota * x``, divided by the
    period quota, so many rep-periods are exactly zero. Attainment is rounded
    to 4 decimals.
Case settings (``case.toml``)
    The budget is set from the generated data: ``expected_cap`` and
    ``cvar_cap`` are fixed multiples of the sum of target incentive (what the
    sales force costs in a scenario where everyone lands exactly on target),
    rounded to 10,000. The factors sit at the top of each case's spec below.

Rerun
-----
From the repository root::

    .venv/bin/python cases/generate.py                  # every case, into cases/
    .venv/bin/python cases/generate.py --case enterprise_first --out /tmp/cases

A rerun with the same numpy reproduces the committed files byte for byte.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

# unit: (relative spread of quotas across reps, decimals quotas are rounded to)
UNITS: dict[str, tuple[float, int]] = {
    "currency": (0.20, -3),
    "count": (0.20, 0),
    "pp": (0.03, 1),
    "months": (0.10, 0),
}
FLOW_UNITS = {"currency", "count"}  # annual quota splits over periods; rates and terms do not
QUARTER_EFFECT = (-0.05, 0.0, -0.03, 0.08)  # log effect by quarter of the year: weak Q1, strong Q4
MONTH_IN_QUARTER = (-0.06, -0.01, 0.07)  # log effect by month of the quarter: quarter-end push
BUDGET_ROUNDING = 10_000


@dataclass(frozen=True)
class Segment:
    """A group of reps: share of headcount, target-incentive range, roles."""

    name: str
    share: float
    target_incentive: tuple[int, int]
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Metric:
    """A candidate metric: its ``case.toml`` entry and how its data are drawn."""

    id: str
    label: str
    unit: str
    threshold: float
    cap: float
    alignment: dict[str, float]
    quota: dict[str, float]  # annual quota by segment, in the metric's unit
    rep_sd: float  # sd of the log rep effect
    noise_sd: float  # sd of the log period noise
    mean: float = 1.0  # mean attainment
    segment_mean: dict[str, float] = field(default_factory=dict)  # multiplier on mean
    shock: float = 1.0  # loading on the common period shock
    season: float = 1.0  # loading on seasonality
    trend: float = 0.0  # log drift per period
    lumpy: bool = False  # Poisson counts: many zeros
    options: dict[str, float | bool] = field(default_factory=dict)  # optional case.toml keys


@dataclass(frozen=True)
class Case:
    """Everything needed to generate and describe one case."""

    folder: str
    name: str
    currency: str
    seed: int
    expected_factor: float  # expected_cap / sum of target incentive
    cvar_level: float
    cvar_factor: float  # cvar_cap / sum of target incentive
    fairness: dict[str, str | float]
    scenarios: dict[str, str | int]
    n_reps: int
    id_prefix: str
    periods: tuple[str, ...]
    periods_per_year: int
    shock_sd: float
    segments: tuple[Segment, ...]
    regions: tuple[str, ...]
    goals: dict[str, float]
    metrics: tuple[Metric, ...]
    correlation: dict[tuple[str, str], float]
    design: dict[str, float | int]
    current_plan: tuple[tuple[str, float, float], ...]  # (metric id, weight, accelerator rate)
    situation: str
    flaw: str
    # Actuals for a pulse check (actuals.csv): the first periods of the next plan year,
    # each metric's attainment lifted by a factor (log) against the same period of history.
    actuals_lift: dict[str, float] = field(default_factory=dict)
    actuals_periods: int = 0
    # [response] (MODEL.md section 10): how reps respond to a plan, against the current one.
    response: dict[str, object] = field(default_factory=dict)
    in_org: bool = False  # a role of an organisation: its goals are the org's (no [goals])


ENTERPRISE_FIRST = Case(
    folder="enterprise_first",
    expected_factor=1.05,
    cvar_level=0.9,
    cvar_factor=1.18,
    fairness={"group_by": "segment", "parity_tolerance": 0.10, "top_share": 0.1,
              "top_ratio": 2.0, "bottom_share": 0.2, "bottom_floor": 0.4},
    scenarios={"mode": "historical"},
    name="Enterprise-first FY27",
    currency="USD",
    seed=20_270_101,
    n_reps=600,
    id_prefix="E",
    periods=tuple(f"P{t:02d}" for t in range(1, 13)),
    periods_per_year=12,
    shock_sd=0.06,
    segments=(
        Segment("Enterprise", 0.25, (40_000, 60_000), ("Enterprise AE", "Strategic AE")),
        Segment("Mid-Market", 0.35, (28_000, 40_000), ("Account Executive",)),
        Segment("SMB", 0.40, (20_000, 30_000), ("Inside Sales Rep", "SMB Account Executive")),
    ),
    regions=("NA East", "NA West", "EMEA", "APAC"),
    goals={"enterprise_growth": 0.5, "multi_product": 0.3, "retention": 0.2},
    metrics=(
        Metric("enterprise_bookings", "Enterprise bookings", "currency", 0.5, 2.0,
               {"enterprise_growth": 1.0, "multi_product": 0.2},
               {"Enterprise": 3_000_000, "Mid-Market": 720_000, "SMB": 120_000},
               rep_sd=0.28, noise_sd=0.35, mean=0.97,
               segment_mean={"Enterprise": 0.9, "SMB": 1.04}),
        Metric("smb_bookings", "SMB bookings", "currency", 0.5, 2.0,
               {"enterprise_growth": -0.3, "multi_product": 0.1, "retention": 0.1},
               {"Enterprise": 120_000, "Mid-Market": 480_000, "SMB": 1_080_000},
               rep_sd=0.22, noise_sd=0.25, mean=1.02,
               segment_mean={"Enterprise": 0.95, "SMB": 1.05}),
        Metric("multi_product_deals", "Multi-product deals", "count", 0.4, 2.5,
               {"enterprise_growth": 0.3, "multi_product": 1.0, "retention": 0.3},
               {"Enterprise": 24, "Mid-Market": 36, "SMB": 48},
               rep_sd=0.3, noise_sd=0.2, mean=0.92, lumpy=True,
               segment_mean={"Enterprise": 1.05, "SMB": 0.88}),
        Metric("renewal_rate", "Renewal rate", "pp", 0.7, 1.5,
               {"retention": 1.0, "multi_product": 0.1},
               {"Enterprise": 92.0, "Mid-Market": 90.0, "SMB": 85.0},
               rep_sd=0.03, noise_sd=0.04, shock=0.3, season=0.2),
        Metric("new_logos", "New logos", "count", 0.4, 3.0,
               {"enterprise_growth": 0.6, "multi_product": 0.1},
               {"Enterprise": 12, "Mid-Market": 24, "SMB": 48},
               rep_sd=0.3, noise_sd=0.3, mean=0.95, shock=0.8, lumpy=True,
               options={"responsiveness": 0.7}),
        Metric("pipeline_generated", "Pipeline generated", "currency", 0.5, 2.0,
               {"enterprise_growth": 0.4, "multi_product": 0.2},
               {"Enterprise": 9_000_000, "Mid-Market": 2_400_000, "SMB": 1_400_000},
               rep_sd=0.22, noise_sd=0.25, shock=0.6, options={"responsiveness": 0.8}),
        Metric("activity_calls", "Activity (calls logged)", "count", 0.6, 1.5,
               {"enterprise_growth": 0.05, "retention": 0.05},
               {"Enterprise": 1_800, "Mid-Market": 3_600, "SMB": 6_000},
               rep_sd=0.1, noise_sd=0.12, mean=1.03, shock=0.2, season=0.3,
               options={"max_weight": 0.2}),
    ),
    correlation={
        ("enterprise_bookings", "multi_product_deals"): 0.5,
        ("enterprise_bookings", "pipeline_generated"): 0.45,
        ("enterprise_bookings", "new_logos"): 0.35,
        ("enterprise_bookings", "smb_bookings"): 0.2,
        ("smb_bookings", "new_logos"): 0.4,
        ("smb_bookings", "activity_calls"): 0.3,
        ("pipeline_generated", "activity_calls"): 0.35,
        ("renewal_rate", "multi_product_deals"): 0.3,
    },
    design={"max_metrics": 3, "min_weight": 0.15, "max_weight": 0.6, "accelerator_min": 1.0,
            "accelerator_max": 3.0, "max_payout_multiple": 3.5},
    current_plan=(("enterprise_bookings", 0.4, 1.0), ("smb_bookings", 0.4, 1.0),
                  ("activity_calls", 0.2, 0.5)),
    situation=(
        "Leadership has announced an enterprise-first strategy: win and expand large "
        "accounts, sell several products per deal and keep the customers already won. "
        "The sales force (Enterprise, Mid-Market and SMB reps across four regions) is "
        "still paid on a plan written when growth meant any bookings at all."),
    flaw=(
        "It pays a dollar of SMB bookings exactly like a dollar of enterprise bookings, "
        "with the same accelerator, so the fastest way to earn is still the small, quick "
        "deal the strategy wants less of. A fifth of pay rides on logged calls, which "
        "anyone can inflate and which serve no goal. Multi-product deals and renewals, "
        "half of the strategy, earn nothing."),
    # Six months into the next year enterprise and multi-product deals run hot.
    actuals_periods=6,
    actuals_lift={"enterprise_bookings": 0.14, "multi_product_deals": 0.14, "smb_bookings": 0.1},
)

CLOUD_TRANSITION = Case(
    folder="cloud_transition",
    expected_factor=1.04,
    cvar_level=0.9,
    cvar_factor=1.18,
    fairness={"group_by": "segment", "parity_tolerance": 0.10, "bottom_share": 0.2,
              "bottom_floor": 0.3},
    scenarios={"mode": "montecarlo", "count": 200, "seed": 7},
    name="Cloud transition FY26",
    currency="EUR",
    seed=20_260_202,
    n_reps=1_500,
    id_prefix="C",
    periods=tuple(f"P{t:02d}" for t in range(1, 13)),
    periods_per_year=12,
    shock_sd=0.05,
    segments=(
        Segment("Enterprise", 0.20, (45_000, 65_000), ("Senior Account Manager", "Global AM")),
        Segment("Commercial", 0.45, (25_000, 38_000), ("Account Manager",)),
        Segment("Inside", 0.35, (18_000, 28_000), ("Inside Sales Rep", "Renewals Rep")),
    ),
    regions=("DACH", "France", "UK & Ireland", "Nordics", "Southern Europe"),
    goals={"cloud_adoption": 0.5, "revenue_growth": 0.3, "margin": 0.2},
    metrics=(
        Metric("licence_revenue", "On-premise licence revenue", "currency", 0.5, 2.0,
               {"cloud_adoption": -0.5, "revenue_growth": 0.6, "margin": 0.3},
               {"Enterprise": 3_600_000, "Commercial": 1_440_000, "Inside": 600_000},
               rep_sd=0.22, noise_sd=0.3, trend=-0.01, segment_mean={"Enterprise": 1.03}),
        Metric("cloud_arr", "New cloud ARR", "currency", 0.4, 2.5,
               {"cloud_adoption": 1.0, "revenue_growth": 0.6, "margin": -0.1},
               {"Enterprise": 480_000, "Commercial": 240_000, "Inside": 96_000},
               rep_sd=0.35, noise_sd=0.35, mean=0.9, trend=0.02,
               segment_mean={"Enterprise": 0.85, "Inside": 1.05}),
        Metric("cloud_migrations", "Customers migrated to cloud", "count", 0.3, 3.0,
               {"cloud_adoption": 0.8, "revenue_growth": 0.1, "margin": 0.2},
               {"Enterprise": 24, "Commercial": 24, "Inside": 12},
               rep_sd=0.35, noise_sd=0.3, mean=0.85, shock=0.6, trend=0.02, lumpy=True,
               options={"responsiveness": 0.8}),
        Metric("services_attach", "Services attach rate", "pp", 0.4, 2.0,
               {"cloud_adoption": 0.3, "revenue_growth": 0.3, "margin": -0.3},
               {"Enterprise": 40.0, "Commercial": 30.0, "Inside": 20.0},
               rep_sd=0.12, noise_sd=0.2, shock=0.5),
        Metric("gross_margin", "Gross margin", "pp", 0.8, 1.5,
               {"margin": 1.0, "revenue_growth": -0.1},
               {"Enterprise": 72.0, "Commercial": 70.0, "Inside": 68.0},
               rep_sd=0.03, noise_sd=0.04, shock=0.2, season=0.1,
               options={"step": 0.03, "required": True}),
        Metric("pipeline", "Qualified pipeline", "currency", 0.5, 2.0,
               {"cloud_adoption": 0.2, "revenue_growth": 0.5},
               {"Enterprise": 10_800_000, "Commercial": 4_300_000, "Inside": 1_800_000},
               rep_sd=0.2, noise_sd=0.25, shock=0.6, options={"responsiveness": 0.7}),
    ),
    correlation={
        ("licence_revenue", "cloud_arr"): -0.25,
        ("licence_revenue", "services_attach"): 0.4,
        ("licence_revenue", "pipeline"): 0.4,
        ("licence_revenue", "gross_margin"): 0.2,
        ("cloud_arr", "cloud_migrations"): 0.55,
        ("cloud_arr", "pipeline"): 0.3,
        ("services_attach", "gross_margin"): -0.2,
    },
    design={"max_metrics": 3, "min_weight": 0.1, "max_weight": 0.6, "accelerator_min": 1.0,
            "accelerator_max": 2.5, "max_payout_multiple": 3.5},
    current_plan=(("licence_revenue", 0.6, 1.7), ("services_attach", 0.3, 0.5),
                  ("gross_margin", 0.1, 0.5)),
    situation=(
        "The company launched a cloud edition of its flagship product a year ago and wants "
        "its installed base migrated and new customers signed on cloud subscriptions. "
        "About 1,500 account managers across five European regions sell it, in "
        "Enterprise, Commercial and Inside segments."),
    flaw=(
        "The plan was built for perpetual licences and has never been updated: 60 % of "
        "pay and a steep accelerator ride on licence revenue, so every customer moved to "
        "cloud costs the rep this year's licence deal. Cloud ARR and migrations pay "
        "nothing; services attach is paid however thin the margin, and gross margin "
        "carries a token 10 %."),
)

SUBSCRIPTION_SHIFT = Case(
    folder="subscription_shift",
    expected_factor=1.02,
    cvar_level=0.75,
    cvar_factor=1.15,
    fairness={"group_by": "segment", "parity_tolerance": 0.10, "bottom_share": 0.2,
              "bottom_floor": 0.3},
    scenarios={"mode": "historical"},
    name="Subscription shift FY26-27",
    currency="GBP",
    seed=20_260_303,
    n_reps=400,
    id_prefix="S",
    periods=tuple(f"Q{t}" for t in range(1, 9)),
    periods_per_year=4,
    shock_sd=0.07,
    segments=(
        Segment("Key Accounts", 0.20, (40_000, 55_000), ("Key Account Manager",)),
        Segment("Commercial", 0.50, (25_000, 35_000), ("Account Executive", "Field Sales Rep")),
        Segment("Channel", 0.30, (18_000, 26_000), ("Channel Manager",)),
    ),
    regions=("London & South East", "Midlands", "North", "Scotland", "Ireland"),
    goals={"recurring_revenue": 0.5, "customer_retention": 0.3, "profitability": 0.2},
    metrics=(
        Metric("hardware_revenue", "Hardware revenue", "currency", 0.5, 2.0,
               {"recurring_revenue": -0.4, "customer_retention": -0.1, "profitability": 0.4},
               {"Key Accounts": 3_600_000, "Commercial": 1_600_000, "Channel": 2_400_000},
               rep_sd=0.22, noise_sd=0.3, mean=1.02, trend=-0.03),
        Metric("subscription_acv", "Subscription ACV", "currency", 0.4, 2.5,
               {"recurring_revenue": 1.0, "customer_retention": 0.2, "profitability": 0.2},
               {"Key Accounts": 600_000, "Commercial": 320_000, "Channel": 160_000},
               rep_sd=0.35, noise_sd=0.3, mean=0.88, trend=0.04,
               segment_mean={"Channel": 0.82}),
        Metric("net_retention", "Net revenue retention", "pp", 0.8, 1.4,
               {"customer_retention": 1.0, "recurring_revenue": 0.5},
               {"Key Accounts": 108.0, "Commercial": 104.0, "Channel": 100.0},
               rep_sd=0.04, noise_sd=0.05, mean=0.99, shock=0.3, season=0.2),
        Metric("upsell", "Upsell deals", "count", 0.3, 2.5,
               {"recurring_revenue": 0.5, "customer_retention": 0.4},
               {"Key Accounts": 12, "Commercial": 8, "Channel": 8},
               rep_sd=0.3, noise_sd=0.3, mean=0.9, lumpy=True,
               options={"responsiveness": 0.8}),
        Metric("contract_length", "Average contract term", "months", 0.6, 1.5,
               {"customer_retention": 0.6, "recurring_revenue": 0.3, "profitability": -0.1},
               {"Key Accounts": 36, "Commercial": 24, "Channel": 24},
               rep_sd=0.1, noise_sd=0.1, mean=0.95, shock=0.1, season=0.3, trend=0.01),
        Metric("discount_discipline", "Realised price (% of list)", "pp", 0.8, 1.3,
               {"profitability": 1.0, "recurring_revenue": -0.1},
               {"Key Accounts": 82.0, "Commercial": 85.0, "Channel": 88.0},
               rep_sd=0.03, noise_sd=0.03, shock=0.4, season=0.3),
    ),
    correlation={
        ("hardware_revenue", "subscription_acv"): -0.2,
        ("hardware_revenue", "discount_discipline"): -0.3,
        ("subscription_acv", "upsell"): 0.4,
        ("subscription_acv", "contract_length"): 0.3,
        ("subscription_acv", "net_retention"): 0.3,
        ("net_retention", "upsell"): 0.5,
    },
    design={"max_metrics": 3, "min_weight": 0.15, "max_weight": 0.6, "accelerator_min": 1.0,
            "accelerator_max": 3.0, "max_payout_multiple": 3.5},
    current_plan=(("hardware_revenue", 0.6, 1.6), ("subscription_acv", 0.2, 0.4),
                  ("discount_discipline", 0.2, 1.0)),
    situation=(
        "The company is moving from one-off hardware sales to subscriptions (devices as a "
        "service with support and software). Over the next two years recurring revenue "
        "should replace hardware as the engine of growth. About 400 reps sell directly to "
        "key and commercial accounts or through channel partners."),
    flaw=(
        "Hardware revenue still carries 60 % of pay with an accelerator, so a rep who "
        "talks a customer into a subscription instead of a one-off purchase loses money. "
        "Subscription ACV pays a token 20 % with almost no accelerator, and nothing rewards "
        "keeping or expanding customers."),
)

# The same company and data, with what the plan will make reps do (MODEL.md section 10):
# margin per unit of each metric's quota unit (GBP for revenue and ACV).
_VALUES = {"hardware_revenue": 0.12, "subscription_acv": 0.45, "upsell": 2_000.0}
SUBSCRIPTION_RESPONSE = replace(
    SUBSCRIPTION_SHIFT, folder="subscription_response",
    name="Subscription shift FY26-27 (with response)",
    metrics=tuple(replace(m, options={**m.options, "value": _VALUES[m.id]})
                  if m.id in _VALUES else m for m in SUBSCRIPTION_SHIFT.metrics),
    response={"baseline": "current_plan.toml", "elasticity": 0.3, "max_change": 0.5})

CASES = {case.folder: case for case in (ENTERPRISE_FIRST, CLOUD_TRANSITION, SUBSCRIPTION_SHIFT,
                                        SUBSCRIPTION_RESPONSE)}


# ----------------------------------------------------------------------------- organisations
# An organisation (MODEL.md section 7): one folder with org.toml, README.md and a case
# folder per role, each generated like a case above (its own seed) without [goals].

GTM_GOALS = {"enterprise_growth": 0.5, "margin": 0.25, "retention": 0.25}
GTM_PERIODS = tuple(f"P{t:02d}" for t in range(1, 13))
GTM_DESIGN = {"max_metrics": 3, "min_weight": 0.15, "max_weight": 0.7, "accelerator_min": 0.5,
              "accelerator_max": 2.5, "max_payout_multiple": 3.0}

GTM_SDR = Case(
    folder="sdr", name="Sales development", currency="USD", seed=20_270_401,
    expected_factor=1.3, cvar_level=0.9, cvar_factor=1.6,
    fairness={"group_by": "segment", "bottom_share": 0.2, "bottom_floor": 0.3},
    scenarios={"mode": "historical"}, n_reps=90, id_prefix="SDR", periods=GTM_PERIODS,
    periods_per_year=12, shock_sd=0.06,
    segments=(Segment("Outbound", 0.6, (14_000, 20_000), ("Outbound SDR",)),
              Segment("Inbound", 0.4, (10_000, 15_000), ("Inbound SDR",))),
    regions=("NA", "EMEA"), goals=GTM_GOALS,
    metrics=(
        Metric("meetings_booked", "Meetings booked (any size)", "count", 0.5, 2.0,
               {"enterprise_growth": 0.2, "margin": -0.2},
               {"Outbound": 240, "Inbound": 360}, rep_sd=0.2, noise_sd=0.2, mean=1.05),
        Metric("qualified_meetings", "Qualified meetings (accepted by an AE)", "count", 0.4,
               2.0, {"enterprise_growth": 0.7, "margin": 0.1},
               {"Outbound": 120, "Inbound": 150}, rep_sd=0.25, noise_sd=0.25, mean=0.95),
        Metric("enterprise_meetings", "Enterprise meetings", "count", 0.3, 2.5,
               {"enterprise_growth": 1.0}, {"Outbound": 36, "Inbound": 18},
               rep_sd=0.3, noise_sd=0.3, mean=0.9, lumpy=True),
        Metric("activity_calls", "Activity (calls logged)", "count", 0.6, 1.5,
               {"enterprise_growth": 0.05}, {"Outbound": 9_000, "Inbound": 4_000},
               rep_sd=0.1, noise_sd=0.12, mean=1.03, shock=0.2),
    ),
    correlation={("meetings_booked", "qualified_meetings"): 0.5,
                 ("qualified_meetings", "enterprise_meetings"): 0.4,
                 ("meetings_booked", "activity_calls"): 0.4},
    design=GTM_DESIGN,
    current_plan=(("meetings_booked", 0.7, 1.4), ("activity_calls", 0.3, 0.6)),
    situation=("Sales development reps book first meetings for the account executives, "
               "outbound into target accounts and inbound from marketing's leads."),
    flaw=("Paid per meeting booked, whatever its size, SDRs fill AE calendars with "
          "startups that will never buy at margin; nothing pays for a meeting an AE "
          "accepts, let alone an enterprise one."),
    in_org=True)

GTM_AE = Case(
    folder="ae", name="Account executives", currency="USD", seed=20_270_402,
    expected_factor=1.3, cvar_level=0.9, cvar_factor=1.6,
    fairness={"group_by": "segment", "parity_tolerance": 0.15, "top_share": 0.1,
              "top_ratio": 2.5},
    scenarios={"mode": "historical"}, n_reps=160, id_prefix="AE", periods=GTM_PERIODS,
    periods_per_year=12, shock_sd=0.07,
    segments=(Segment("Enterprise", 0.35, (45_000, 65_000), ("Enterprise AE",)),
              Segment("Commercial", 0.65, (25_000, 38_000), ("Commercial AE",))),
    regions=("NA", "EMEA", "APAC"), goals=GTM_GOALS,
    metrics=(
        Metric("bookings", "Bookings (any size, any discount)", "currency", 0.5, 2.0,
               {"enterprise_growth": 0.4, "margin": -0.3},
               {"Enterprise": 2_400_000, "Commercial": 900_000},
               rep_sd=0.22, noise_sd=0.3, mean=1.02),
        Metric("enterprise_bookings", "Enterprise bookings", "currency", 0.5, 2.0,
               {"enterprise_growth": 1.0, "margin": 0.1},
               {"Enterprise": 2_000_000, "Commercial": 300_000},
               rep_sd=0.3, noise_sd=0.4, mean=0.93, segment_mean={"Commercial": 0.9}),
        Metric("gross_margin", "Gross margin on bookings", "pp", 0.8, 1.3,
               {"margin": 1.0}, {"Enterprise": 72.0, "Commercial": 68.0},
               rep_sd=0.04, noise_sd=0.05, shock=0.3, season=0.2),
        Metric("pipeline_accepted", "Pipeline accepted from SDRs", "currency", 0.4, 2.0,
               {"enterprise_growth": 0.5}, {"Enterprise": 6_000_000, "Commercial": 2_400_000},
               rep_sd=0.2, noise_sd=0.25, shock=0.6),
        Metric("multi_year_deals", "Multi-year deals", "count", 0.3, 2.5,
               {"retention": 0.6, "margin": 0.2}, {"Enterprise": 8, "Commercial": 12},
               rep_sd=0.3, noise_sd=0.3, mean=0.9, lumpy=True),
    ),
    correlation={("bookings", "enterprise_bookings"): 0.5,
                 ("bookings", "gross_margin"): -0.3,
                 ("bookings", "pipeline_accepted"): 0.4,
                 ("enterprise_bookings", "multi_year_deals"): 0.3},
    design=GTM_DESIGN,
    current_plan=(("bookings", 0.8, 1.6), ("pipeline_accepted", 0.2, 0.33)),
    situation=("Account executives close the deals: enterprise AEs on large accounts, "
               "commercial AEs on everything else."),
    flaw=("Quota is quota: a discounted SMB deal retires it as well as a full-price "
          "enterprise one, so AEs close what closes fastest. Nothing pays for margin or for "
          "multi-year terms."),
    in_org=True)

GTM_CSM = Case(
    folder="csm", name="Customer success", currency="USD", seed=20_270_403,
    expected_factor=1.3, cvar_level=0.9, cvar_factor=1.6,
    fairness={"group_by": "segment", "bottom_share": 0.2, "bottom_floor": 0.3},
    scenarios={"mode": "historical"}, n_reps=70, id_prefix="CSM", periods=GTM_PERIODS,
    periods_per_year=12, shock_sd=0.05,
    segments=(Segment("Strategic", 0.4, (20_000, 30_000), ("Strategic CSM",)),
              Segment("Scaled", 0.6, (12_000, 18_000), ("Scaled CSM",))),
    regions=("NA", "EMEA"), goals=GTM_GOALS,
    metrics=(
        Metric("renewal_count", "Renewals closed (count)", "count", 0.6, 1.5,
               {"retention": 0.5, "enterprise_growth": -0.2},
               {"Strategic": 40, "Scaled": 160}, rep_sd=0.1, noise_sd=0.12, mean=1.02),
        Metric("net_revenue_retention", "Net revenue retention", "pp", 0.8, 1.3,
               {"retention": 1.0, "enterprise_growth": 0.3},
               {"Strategic": 110.0, "Scaled": 102.0},
               rep_sd=0.04, noise_sd=0.05, mean=0.99, shock=0.3),
        Metric("expansion_arr", "Expansion ARR (discount at will)", "currency", 0.4, 2.0,
               {"enterprise_growth": 0.5, "retention": 0.3, "margin": -0.3},
               {"Strategic": 600_000, "Scaled": 240_000}, rep_sd=0.3, noise_sd=0.35,
               mean=0.92),
        Metric("health_score", "Account health score", "pp", 0.7, 1.3, {"retention": 0.4},
               {"Strategic": 80.0, "Scaled": 75.0}, rep_sd=0.05, noise_sd=0.05, shock=0.2),
    ),
    correlation={("net_revenue_retention", "expansion_arr"): 0.5,
                 ("net_revenue_retention", "health_score"): 0.4,
                 ("renewal_count", "health_score"): 0.2},
    design=GTM_DESIGN,
    current_plan=(("renewal_count", 0.6, 1.2), ("expansion_arr", 0.4, 0.67)),
    situation=("Customer success managers renew and grow the installed base, strategic "
               "accounts by name and the long tail at scale."),
    flaw=("Paid per renewal, CSMs spend their time on the many small accounts rather than "
          "the few large ones, and expansion targets with no pricing authority are met by "
          "discounting."),
    in_org=True)


@dataclass(frozen=True)
class OrgSpec:
    """An organisation to generate: its roles (cases without goals) and org.toml."""

    folder: str
    name: str
    currency: str
    goals: dict[str, float]
    roles: tuple[tuple[str, str, Case], ...]  # (role id, label, case)
    expected_factor: float  # org expected_cap / all roles' target incentive
    cvar_level: float
    cvar_factor: float
    coherence: dict[str, object]
    situation: str
    # Actuals for a pulse check (actuals/<role id>.csv): periods elapsed and lift per role.
    actuals_periods: int = 0
    actuals_lift: dict[str, dict[str, float]] = field(default_factory=dict)


GTM_ORG = OrgSpec(
    folder="gtm_org", name="FY27 go-to-market", currency="USD", goals=GTM_GOALS,
    roles=(("sdr", "Sales development reps", GTM_SDR), ("ae", "Account executives", GTM_AE),
           ("csm", "Customer success managers", GTM_CSM)),
    expected_factor=0.77, cvar_level=0.9, cvar_factor=1.15,
    coherence={"no_opposing": True, "cover_goals": True,
               "handoffs": [["sdr.qualified_meetings", "ae.pipeline_accepted"]]},
    situation=(
        "The strategy fails across teams, not inside one. SDRs are paid per meeting, so "
        "they book startups; AEs retire quota with discounted SMB deals; CSMs chase renewal "
        "counts across small accounts and hit expansion targets by discounting. Nobody is "
        "paid for margin, and the renewal count pays CSMs to look away from enterprise "
        "accounts. The three plans are designed here at once, under one strategy and one "
        "budget."),
    actuals_periods=4,
    actuals_lift={"sdr": {"meetings_booked": 0.12, "qualified_meetings": 0.1},
                  "ae": {"bookings": 0.1, "enterprise_bookings": 0.15},
                  "csm": {"renewal_count": 0.05}})

ORGS = {org.folder: org for org in (GTM_ORG,)}


def org_toml(org: OrgSpec, total: int) -> str:
    """Render ``org.toml`` (MODEL.md section 7), the budget scaled to all roles' incentive."""
    lines = ["# Generated by cases/generate.py; see README.md.", ""]
    lines += _table("org", {"name": org.name, "currency": org.currency})
    lines += _table("goals", org.goals)
    for rid, label, case in org.roles:
        lines += _table(f"roles.{rid}", {"path": case.folder, "label": label})
    lines += _table("budget", {
        "expected_cap": _round_to(total * org.expected_factor, BUDGET_ROUNDING),
        "cvar_level": org.cvar_level,
        "cvar_cap": _round_to(total * org.cvar_factor, BUDGET_ROUNDING)})
    lines += ["[coherence]", *(f"{k} = {_toml_any(v)}" for k, v in org.coherence.items()), ""]
    return "\n".join(lines).rstrip() + "\n"


def _toml_any(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_any(v) for v in value) + "]"
    return _toml_value(value)


def org_readme(org: OrgSpec, totals: dict[str, int]) -> str:
    """Render the organisation's ``README.md``."""
    lines = [f"# {org.name}", "", f"**Situation.** {org.situation}", "", "## Goals", "",
             "| goal | priority |", "| --- | --- |"]
    lines += [f"| {goal} | {priority} |" for goal, priority in org.goals.items()]
    lines += ["", "## Roles", "", "| role | folder | reps | target incentive | today's plan |",
              "| --- | --- | --- | --- | --- |"]
    for rid, label, case in org.roles:
        plan = ", ".join(f"`{m}` {w:.0%}" for m, w, _ in case.current_plan)
        lines.append(f"| {label} | `{case.folder}/` | {case.n_reps} | "
                     f"{totals[rid]:,} {org.currency} | {plan} |")
    lines += ["", "Each role's folder is a case (MODEL.md section 1) without `[goals]`; its "
              "README tells the role's story.", "",
              "Try: `compplan audit cases/gtm_org` (today's conflict map), "
              "`compplan optimise cases/gtm_org --out plans/gtm`, "
              "`compplan min-budget cases/gtm_org`.", "",
              "Synthetic data from `cases/generate.py`; rerun with "
              f"`.venv/bin/python cases/generate.py --case {org.folder}`.", ""]
    return "\n".join(lines)


def write_org(org: OrgSpec, out: Path) -> Path:
    """Generate an organisation: each role's case folder, org.toml and README.md."""
    folder = out / org.folder
    totals = {}
    for rid, _, case in org.roles:
        write_case(case, folder)
        reps = pd.read_csv(folder / case.folder / "reps.csv")
        totals[rid] = int(reps["target_incentive"].sum())
    if org.actuals_periods:
        # Each role's actuals from its written history, as make_actuals does for a case.
        (folder / "actuals").mkdir(exist_ok=True)
        for rid, _, case in org.roles:
            history = pd.read_csv(folder / case.folder / "attainment.csv")
            role = replace(case, actuals_periods=org.actuals_periods,
                           actuals_lift=org.actuals_lift.get(rid, {}))
            make_actuals(role, history).to_csv(folder / "actuals" / f"{rid}.csv", index=False,
                                               lineterminator="\n", float_format="%.4f")
    (folder / "org.toml").write_text(org_toml(org, sum(totals.values())), encoding="utf-8",
                                     newline="\n")
    (folder / "README.md").write_text(org_readme(org, totals), encoding="utf-8",
                                      newline="\n")
    return folder


def seasonality(n_periods: int, periods_per_year: int) -> np.ndarray:
    """Compute the log seasonal effect of each period, centred to mean zero.

    Parameters
    ----------
    n_periods : int
        Number of consecutive periods, the first starting a fiscal year.
    periods_per_year : int
        12 for months, 4 for quarters.

    Returns
    -------
    numpy.ndarray
        One additive effect on log attainment per period.

    """
    per_quarter = periods_per_year // 4
    index = np.arange(n_periods) % periods_per_year
    effect = np.array(QUARTER_EFFECT)[index // per_quarter]
    if per_quarter == len(MONTH_IN_QUARTER):
        effect = effect + np.array(MONTH_IN_QUARTER)[index % per_quarter]
    return effect - effect.mean()


def correlation_matrix(case: Case) -> np.ndarray:
    """Build the metric correlation matrix of a case, checked positive definite.

    Parameters
    ----------
    case : Case
        The case whose ``correlation`` pairs fill the off-diagonal.

    Returns
    -------
    numpy.ndarray
        Symmetric ``M x M`` matrix in the order of ``case.metrics``.

    """
    index = {metric.id: i for i, metric in enumerate(case.metrics)}
    matrix = np.eye(len(index))
    for (a, b), rho in case.correlation.items():
        matrix[index[a], index[b]] = matrix[index[b], index[a]] = rho
    np.linalg.cholesky(matrix)  # raises LinAlgError if not positive definite
    return matrix


def make_reps(case: Case, rng: np.random.Generator) -> pd.DataFrame:
    """Draw the reps: id, segment, region, role and target incentive.

    Parameters
    ----------
    case : Case
        The case to draw for.
    rng : numpy.random.Generator
        The case's generator.

    Returns
    -------
    pandas.DataFrame
        One row per rep, the content of ``reps.csv``.

    """
    shares = np.array([segment.share for segment in case.segments])
    drawn = rng.choice(len(case.segments), size=case.n_reps, p=shares / shares.sum())
    segments = [case.segments[i] for i in drawn]
    regions = rng.choice(len(case.regions), size=case.n_reps)
    pick = rng.random(case.n_reps)
    incentive = rng.random(case.n_reps)
    rows = []
    for r, segment in enumerate(segments):
        low, high = segment.target_incentive
        rows.append({
            "rep_id": f"{case.id_prefix}{r + 1:04d}",
            "segment": segment.name,
            "region": case.regions[regions[r]],
            "role": segment.roles[int(pick[r] * len(segment.roles))],
            "target_incentive": int(round((low + incentive[r] * (high - low)) / 100) * 100),
        })
    return pd.DataFrame(rows)


def make_quotas(case: Case, reps: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Draw each rep's annual quota per metric around the segment's quota.

    Parameters
    ----------
    case : Case
        The case to draw for.
    reps : pandas.DataFrame
        The reps, as made by :func:`make_reps`.
    rng : numpy.random.Generator
        The case's generator.

    Returns
    -------
    pandas.DataFrame
        ``rep_id`` and one column per metric, the content of ``quotas.csv``.

    """
    quotas = pd.DataFrame({"rep_id": reps["rep_id"]})
    for metric in case.metrics:
        spread, decimals = UNITS[metric.unit]
        base = reps["segment"].map(metric.quota).to_numpy(dtype=float)
        value = base * rng.uniform(1 - spread, 1 + spread, size=len(reps))
        value = np.maximum(np.round(value, decimals), 10.0 ** -decimals)
        quotas[metric.id] = np.rint(value).astype(int) if decimals <= 0 else value
    return quotas


def make_attainment(case: Case, reps: pd.DataFrame, quotas: pd.DataFrame,
                    rng: np.random.Generator) -> pd.DataFrame:
    """Draw attainment for every rep, period and metric (see the module docstring).

    Parameters
    ----------
    case : Case
        The case to draw for.
    reps : pandas.DataFrame
        The reps, as made by :func:`make_reps`.
    quotas : pandas.DataFrame
        The quotas, as made by :func:`make_quotas`; lumpy metrics count against them.
    rng : numpy.random.Generator
        The case's generator.

    Returns
    -------
    pandas.DataFrame
        ``rep_id``, ``period`` and one column per metric, rows ordered by rep then
        period: the content of ``attainment.csv``.

    """
    n_reps, n_periods, metrics = len(reps), len(case.periods), case.metrics
    chol = np.linalg.cholesky(correlation_matrix(case))
    rep_sd = np.array([m.rep_sd for m in metrics])
    noise_sd = np.array([m.noise_sd for m in metrics])
    shock_load = np.array([m.shock for m in metrics])
    mean = np.array([[m.mean * m.segment_mean.get(s, 1.0) for m in metrics]
                     for s in reps["segment"]])
    variance = rep_sd**2 + noise_sd**2 + (shock_load * case.shock_sd) ** 2
    centre = np.log(mean) - variance / 2

    rep_effect = rng.standard_normal((n_reps, len(metrics))) @ chol.T * rep_sd
    shock = rng.standard_normal(n_periods) * case.shock_sd
    noise = rng.standard_normal((n_reps, n_periods, len(metrics))) @ chol.T * noise_sd
    season = seasonality(n_periods, case.periods_per_year)
    drift = np.arange(n_periods) - (n_periods - 1) / 2
    period_effect = (np.outer(shock, shock_load)
                     + np.outer(season, [m.season for m in metrics])
                     + np.outer(drift, [m.trend for m in metrics]))
    values = np.exp(centre[:, None, :] + rep_effect[:, None, :] + period_effect[None] + noise)

    for j, metric in enumerate(metrics):
        if metric.lumpy:
            period_quota = quotas[metric.id].to_numpy(dtype=float)[:, None] / case.periods_per_year
            values[:, :, j] = rng.poisson(values[:, :, j] * period_quota) / period_quota

    frame = pd.DataFrame(np.round(values.reshape(-1, len(metrics)), 4),
                         columns=[m.id for m in metrics])
    frame.insert(0, "period", np.tile(case.periods, n_reps))
    frame.insert(0, "rep_id", np.repeat(reps["rep_id"].to_numpy(), n_periods))
    return frame


def make_actuals(case: Case, attainment: pd.DataFrame) -> pd.DataFrame:
    """Draw actuals for a pulse check: the first periods of the next plan year.

    Each rep's attainment in period ``t`` of the new year is its attainment in period
    ``t`` of the history times ``exp(lift_m + 0.08 e)``, ``e`` standard normal, from a
    generator of its own (seeded ``[case.seed, 1]``) so that the case's other files do
    not change. Periods are labelled ``Y2-P01``, ...

    Parameters
    ----------
    case : Case
        The case; ``actuals_periods`` and ``actuals_lift`` say how many periods and how hot.
    attainment : pandas.DataFrame
        The case's history, as made by :func:`make_attainment`.

    Returns
    -------
    pandas.DataFrame
        ``rep_id``, ``period`` and one column per metric: the content of ``actuals.csv``.

    """
    rng = np.random.default_rng([case.seed, 1])
    elapsed = case.periods[:case.actuals_periods]
    frame = attainment[attainment["period"].isin(elapsed)].reset_index(drop=True)
    for metric in case.metrics:
        noise = rng.standard_normal(len(frame)) * 0.08
        lift = np.exp(case.actuals_lift.get(metric.id, 0.0) + noise)
        frame[metric.id] = np.round(frame[metric.id].to_numpy() * lift, 4)
    frame["period"] = "Y2-" + frame["period"]
    return frame


def budget(case: Case, reps: pd.DataFrame) -> dict[str, float | int]:
    """Compute the ``[budget]`` table, scaled to the case's total target incentive.

    Parameters
    ----------
    case : Case
        The case, holding the budget factors.
    reps : pandas.DataFrame
        The reps, whose ``target_incentive`` is summed.

    Returns
    -------
    dict
        ``expected_cap``, ``cvar_level`` and ``cvar_cap``.

    """
    total = int(reps["target_incentive"].sum())
    return {
        "expected_cap": _round_to(total * case.expected_factor, BUDGET_ROUNDING),
        "cvar_level": case.cvar_level,
        "cvar_cap": _round_to(total * case.cvar_factor, BUDGET_ROUNDING),
    }


def case_toml(case: Case, reps: pd.DataFrame) -> str:
    """Render ``case.toml``.

    Parameters
    ----------
    case : Case
        The case to write.
    reps : pandas.DataFrame
        The reps, which set the budget.

    Returns
    -------
    str
        TOML in the format of MODEL.md section 1.

    """
    lines = [f"# Generated by cases/generate.py (seed {case.seed}); see README.md.", ""]
    # Target incentive and the budget caps are annual, attainment per period (MODEL.md s. 5).
    lines += _table("case", {"name": case.name, "currency": case.currency,
                             "periods_per_year": case.periods_per_year})
    if not case.in_org:
        lines += _table("goals", case.goals)
    for metric in case.metrics:
        lines += _table(f"metrics.{metric.id}", {
            "label": metric.label, "threshold": metric.threshold, "cap": metric.cap,
            "alignment": metric.alignment, **metric.options})
    lines += _table("design", case.design)
    lines += _table("budget", budget(case, reps))
    lines += _table("fairness", case.fairness)
    lines += _table("scenarios", case.scenarios)
    if case.response:
        lines += _table("response", case.response)
    return "\n".join(lines).rstrip() + "\n"


def plan_toml(case: Case) -> str:
    """Render ``current_plan.toml``: the plan in force today.

    Parameters
    ----------
    case : Case
        The case whose ``current_plan`` is written.

    Returns
    -------
    str
        TOML with one ``[[metrics]]`` table per metric of the plan.

    """
    lines = ["# The plan in force today. weight: share of target incentive paid at 100 %;",
             "# accelerator_rate: share of target incentive per unit of attainment above 100 %.",
             ""]
    for metric_id, weight, rate in case.current_plan:
        lines += ["[[metrics]]", f"id = {_toml_value(metric_id)}",
                  f"weight = {_toml_value(weight)}",
                  f"accelerator_rate = {_toml_value(rate)}", ""]
    return "\n".join(lines).rstrip() + "\n"


def readme(case: Case, reps: pd.DataFrame) -> str:
    """Render the case's ``README.md``.

    Parameters
    ----------
    case : Case
        The case to describe.
    reps : pandas.DataFrame
        The reps, for head count and budget figures.

    Returns
    -------
    str
        Markdown: situation, goals, metrics, current plan, guardrails.

    """
    money = budget(case, reps)
    total = int(reps["target_incentive"].sum())
    segment_names = [segment.name for segment in case.segments]
    counts = reps["segment"].value_counts()
    units = {"currency": case.currency, "count": "count", "pp": "%", "months": "months"}
    lines = [f"# {case.name}", "", f"**Situation.** {case.situation}", "",
             "## Goals" + (" (the organisation's, from ../org.toml)" if case.in_org else ""),
             "", "| goal | priority |", "| --- | --- |"]
    lines += [f"| {goal} | {priority} |" for goal, priority in case.goals.items()]
    lines += ["", "## Candidate metrics", "",
              f"Quota per segment ({' / '.join(segment_names)}): annual for currency and "
              "counts, a level for rates and terms; attainment 1.0 = 100 %.",
              "", "| metric | unit | quota | threshold | cap | alignment |",
              "| --- | --- | --- | --- | --- | --- |"]
    for m in case.metrics:
        quota = " / ".join(f"{m.quota[s]:,.0f}" if m.unit in FLOW_UNITS else f"{m.quota[s]:g}"
                           for s in segment_names)
        align = ", ".join(f"{goal} {value:+g}" for goal, value in m.alignment.items())
        lumpy = " (lumpy: many zeros)" if m.lumpy else ""
        lines.append(f"| `{m.id}` {m.label}{lumpy} | {units[m.unit]} | {quota} "
                     f"| {m.threshold} | {m.cap} | {align} |")
    lines += ["", "## The current plan", "", "| metric | weight | accelerator rate |",
              "| --- | --- | --- |"]
    lines += [f"| `{mid}` | {w} | {u} |" for mid, w, u in case.current_plan]
    lines += ["", f"**What it gets wrong.** {case.flaw}", "", "## Data and guardrails", "",
              f"- {len(reps):,} reps ("
              + ", ".join(f"{counts.get(s, 0)} {s}" for s in segment_names)
              + f"), periods {case.periods[0]}..{case.periods[-1]}; {_scenario_note(case)}",
              f"- Sum of target incentive: {total:,} {case.currency} per year (the cost of "
              "a scenario in which every rep lands exactly on target; `periods_per_year = "
              f"{case.periods_per_year}`: money is annual, attainment per period).",
              f"- Budget: expected payout at most {money['expected_cap']:,} "
              f"({case.expected_factor:g} x); mean payout of the worst "
              f"{1 - case.cvar_level:.0%} of scenarios at most {money['cvar_cap']:,} "
              f"({case.cvar_factor:g} x).",
              "- Fairness: " + ", ".join(f"{k} = {v}" for k, v in case.fairness.items()) + ".",
              "- Scenarios: " + ", ".join(f"{k} = {v}" for k, v in case.scenarios.items()) + ".",
              *(["- Response (MODEL.md section 10, docs/response.md): "
                 + ", ".join(f"{k} = {v}" for k, v in case.response.items())
                 + "; what a unit is worth: "
                 + ", ".join(f"`{m.id}` {m.options['value']}" for m in case.metrics
                             if "value" in m.options) + "."] if case.response else []),
              "", f"Synthetic data from `cases/generate.py` (seed {case.seed}); rerun with "
              f"`.venv/bin/python cases/generate.py --case {case.folder}`.", ""]
    return "\n".join(lines)


def write_case(case: Case, out: Path) -> Path:
    """Generate a case and write its folder.

    Parameters
    ----------
    case : Case
        The case to generate.
    out : pathlib.Path
        The folder that receives the case's folder.

    Returns
    -------
    pathlib.Path
        The case folder written.

    """
    rng = np.random.default_rng(case.seed)
    reps = make_reps(case, rng)
    quotas = make_quotas(case, reps, rng)
    attainment = make_attainment(case, reps, quotas, rng)
    folder = out / case.folder
    folder.mkdir(parents=True, exist_ok=True)
    reps.to_csv(folder / "reps.csv", index=False, lineterminator="\n")
    quotas.to_csv(folder / "quotas.csv", index=False, lineterminator="\n", float_format="%.1f")
    attainment.to_csv(folder / "attainment.csv", index=False, lineterminator="\n",
                      float_format="%.4f")
    if case.actuals_periods:
        make_actuals(case, attainment).to_csv(folder / "actuals.csv", index=False,
                                              lineterminator="\n", float_format="%.4f")
    texts = {"case.toml": case_toml(case, reps), "current_plan.toml": plan_toml(case),
             "README.md": readme(case, reps)}
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8", newline="\n")
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: generate one case or all of them.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The exit code, 0.

    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder that receives the case folders (default: beside this script)")
    parser.add_argument("--case", choices=sorted(CASES) + sorted(ORGS), default=None,
                        help="generate only this case or organisation (default: all)")
    args = parser.parse_args(argv)
    if args.case in ORGS:
        print(write_org(ORGS[args.case], args.out))
        return 0
    chosen = [CASES[args.case]] if args.case else list(CASES.values())
    for case in chosen:
        print(write_case(case, args.out))
    if args.case is None:
        for org in ORGS.values():
            print(write_org(org, args.out))
    return 0


def _round_to(value: float, step: int) -> int:
    return round(value / step) * step


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _scenario_note(case: Case) -> str:
    if case.scenarios["mode"] == "historical":
        return "each period is one equally likely scenario of the plan year."
    return (f"the optimiser draws {case.scenarios['count']} scenarios calibrated to these "
            "periods (MODEL.md section 5).")


def _table(name: str, values: Mapping[str, object]) -> list[str]:
    return [f"[{name}]", *(f"{key} = {_toml_value(v)}" for key, v in values.items()), ""]


if __name__ == "__main__":
    raise SystemExit(main())
