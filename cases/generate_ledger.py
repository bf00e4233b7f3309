"""Write cases/enterprise_first_ledger: enterprise_first as a deals ledger and a quota table.

The ledger (``deals.parquet``) and the per-period quota table (``quota_plan.parquet``)
reproduce ``enterprise_first/attainment.csv`` exactly (MODEL.md section 11): for each rep,
metric and period, the transactions add up, in compplan's fixed order of addition, to a
total whose ratio to the quota is, to the last bit, the attainment the file holds. Each
total is split into one to three deals, sometimes with a refund, or a deal and its full
refund where the attainment is 0; a house account that is not on the roster and a few
deals dated before the first period are there too (``compplan validate`` counts them).
Seeded: a rerun writes the same rows.

Run from the repository root::

    .venv/bin/python cases/generate_ledger.py            # into cases/enterprise_first_ledger
    .venv/bin/python cases/generate_ledger.py --out /tmp/enterprise_first_ledger
"""

from __future__ import annotations

import argparse
import calendar
import math
import shutil
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "enterprise_first"
SEED = 20_270_121
YEAR = 2026  # the history's calendar year: P01 is January 2026
#: Each metric: the kind of transaction it sums, and the rest of its condition.
METRICS = {
    "enterprise_bookings": ("booking", "segment = 'Enterprise'"),
    "smb_bookings": ("booking", "segment = 'SMB'"),
    "multi_product_deals": ("deal_units", "products >= 2"),
    "renewal_rate": ("renewal", None),
    "new_logos": ("new_logo", None),
    "pipeline_generated": ("pipeline", None),
    "activity_calls": ("call", None),
}


def exact_total(attainment: str, quota: str) -> tuple[float, str]:
    """A total ``T`` and a quota ``Q`` with ``T / Q`` equal, as a double, to the attainment.

    ``Q`` is the quota of quotas.csv where some total reaches the attainment exactly (the
    ratios of neighbouring doubles to a quota can step over a double); else the nearest
    quota, in steps of its last written digit, where one does.
    """
    target = float(attainment)
    digits = len(quota.partition(".")[2])
    step = Decimal(1).scaleb(-digits) if digits else Decimal(1)
    for k in range(200):
        q_text = str(Decimal(quota) + (k + 1) // 2 * step * (1 if k % 2 else -1)) if k else quota
        q = float(q_text)
        nearest = float(Decimal(attainment) * Decimal(q_text))
        up = down = nearest
        for _ in range(8):
            for candidate in (up, down):
                if candidate / q == target:
                    return candidate, q_text
            up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
    raise AssertionError(f"no total gives {attainment} on a quota near {quota}")


def split(total: float, rng: np.random.Generator) -> list[float]:
    """Amounts whose ascending sum is exactly ``total`` (every partial sum is exact).

    Each amount, and every partial sum, is a multiple of the unit in the last place of
    ``total`` and below the next power of 2 in size, so no addition rounds.
    """
    if total == 0.0:
        if rng.random() < 0.3:  # a deal and its full refund
            x = float(rng.integers(1, 50)) * 100.0
            return [x, -x]
        return []
    unit = math.ulp(total)
    whole = round(total / unit)  # an integer below 2**53
    pieces = int(rng.choice([1, 1, 2, 2, 3]))
    refund = 0
    if rng.random() < 0.05:  # a refund in the period, netted
        # Every amount stays in the binade of the total: a multiple of its unit, exact.
        room = 2 ** (math.frexp(total)[1]) / unit - whole - 1
        refund = int(min(whole * rng.uniform(0.02, 0.2), room))
    shares = rng.dirichlet(np.ones(pieces))
    parts = [int(whole * s) for s in shares[:-1]]
    parts.append(whole + refund - sum(parts))
    amounts = [p * unit for p in parts if p != 0]
    if refund:
        amounts.append(-refund * unit)
    check = 0.0
    for amount in sorted(amounts):
        check += amount
    assert check == total, (total, amounts)
    return amounts


def periods() -> list[tuple[str, date, date]]:
    """P01..P12: the months of the history's year."""
    return [(f"P{m:02d}", date(YEAR, m, 1), date(YEAR, m, calendar.monthrange(YEAR, m)[1]))
            for m in range(1, 13)]


def build(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The deals ledger and the per-period quota table."""
    attainment = pd.read_csv(SOURCE / "attainment.csv", dtype=str)
    quotas = pd.read_csv(SOURCE / "quotas.csv", dtype=str).set_index("rep_id")
    bounds = {p: (start, end) for p, start, end in periods()}
    rows: list[tuple[str, str, date, str, str, int, float]] = []
    quota_rows = []
    for record in attainment.itertuples(index=False):
        rep, period = str(record.rep_id), str(record.period)
        start, end = bounds[period]
        for metric, (kind, _) in METRICS.items():
            total, quota_text = exact_total(str(getattr(record, metric)),
                                            str(quotas.loc[rep, metric]))
            quota_rows.append((rep, metric, period, quota_text))
            for amount in split(total, rng):
                day = start + pd.Timedelta(days=int(rng.integers(0, (end - start).days + 1)))
                segment = {"enterprise_bookings": "Enterprise", "smb_bookings": "SMB"}.get(
                    metric, str(rng.choice(["Enterprise", "SMB"])))
                products = int(rng.integers(2, 5)) if metric == "multi_product_deals" else 1
                rows.append((rep, "", day, kind, segment, products, amount))
    # Transactions that are counted but never paid: a house account not on the roster,
    # and deals dated before the first period.
    for i in range(40):
        day = date(YEAR, 1 + i % 12, 1 + i % 28)
        rows.append(("HOUSE", "", day, "booking", "Enterprise", 1, float(5000 + 250 * i)))
    for i in range(12):
        rows.append((f"E{1 + i:04d}", "", date(YEAR - 1, 12, 1 + i), "booking", "SMB", 1,
                     float(1000 + 100 * i)))
    deals = pd.DataFrame(rows, columns=["owner", "deal_id", "close_date", "kind", "segment",
                                        "products", "amount"])
    order = rng.permutation(len(deals))  # a CRM export is in no particular order
    deals = deals.iloc[order].reset_index(drop=True)
    deals["deal_id"] = [f"D{i + 1:06d}" for i in range(len(deals))]
    deals = deals[["deal_id", "owner", "close_date", "kind", "segment", "products", "amount"]]
    deals["close_date"] = pd.to_datetime(deals["close_date"]).dt.date
    quota_plan = pd.DataFrame(quota_rows, columns=["rep_id", "metric", "period", "quota"])
    return deals, quota_plan


def case_toml() -> str:
    """enterprise_first's case.toml with a [source] and each metric's sum and where."""
    lines = (SOURCE / "case.toml").read_text().splitlines()
    out = ["# Generated by cases/generate_ledger.py from cases/enterprise_first (seed "
           f"{SEED}); see README.md.", ""]
    for line in lines[1:]:
        if line.startswith("[goals]"):
            out += ["[source]", 'transactions = "deals.parquet"', 'rep = "owner"',
                    'date = "close_date"', 'calendar = "calendar.csv"',
                    'quotas = "quota_plan.parquet"', ""]
        out.append(line)
        if line.startswith("[metrics."):
            metric = line.strip()[len("[metrics."):-1]
            kind, extra = METRICS[metric]
            where = f"kind = '{kind}'" + (f" AND {extra}" if extra else "")
            out += ['sum = "amount"', f'where = "{where}"']
    return "\n".join(out) + "\n"


README = """\
# Enterprise-first FY27, from the deals ledger

The same case as [`enterprise_first`](../enterprise_first/README.md), built from
transactions (MODEL.md section 11, [docs/data-sources.md](../../docs/data-sources.md))
instead of `attainment.csv`:

- `deals.parquet`: {deals:,} transactions (deal_id, owner, close_date, kind, segment,
  products, amount), in no particular order, with refunds netted in their period, a house
  account that is not on the roster and a few deals dated before the first period (both
  counted by `compplan validate`, never paid);
- `quota_plan.parquet`: the quota of each rep, metric and period (rep_id, metric, period,
  quota): those of `enterprise_first/quotas.csv`, some moved by a unit of their last digit
  where no total of transactions divided by the quota gives the attainment exactly;
- `calendar.csv`: the periods P01 to P12, the months of {year}.

Each metric sums `amount` over the transactions its `where` picks (`case.toml`). The
attainment the ledger gives is, to the last bit, that of `enterprise_first/attainment.csv`,
so the plans are the same:

    compplan validate cases/enterprise_first_ledger
    compplan optimise cases/enterprise_first_ledger --out plans/from_ledger

Generated by `cases/generate_ledger.py` (seed {seed}).
"""


def write(out: Path) -> Path:
    """Write the case folder ``out``."""
    rng = np.random.default_rng(SEED)
    deals, quota_plan = build(rng)
    out.mkdir(parents=True, exist_ok=True)
    deals.to_parquet(out / "deals.parquet", index=False, compression="zstd")
    quota_plan["quota"] = quota_plan["quota"].astype(np.float64)
    quota_plan.to_parquet(out / "quota_plan.parquet", index=False, compression="zstd")
    pd.DataFrame([(p, s.isoformat(), e.isoformat()) for p, s, e in periods()],
                 columns=["period", "start", "end"]).to_csv(out / "calendar.csv", index=False)
    (out / "case.toml").write_text(case_toml())
    for name in ("reps.csv", "current_plan.toml"):
        shutil.copyfile(SOURCE / name, out / name)
    (out / "README.md").write_text(README.format(deals=len(deals), year=YEAR, seed=SEED))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--out FOLDER`` (default cases/enterprise_first_ledger)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "enterprise_first_ledger")
    args = parser.parse_args(argv)
    print(f"wrote {write(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
