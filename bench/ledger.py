"""Benchmark a case from transactions (MODEL.md section 11) against one DuckDB query.

    .venv/bin/python bench/ledger.py        # 10M transactions x 100k reps x 20 metrics x 12
    .venv/bin/python bench/ledger.py --transactions 1000000 --reps 10000 --markdown

The ledger is generated into ``bench/.cache/`` unless it is there already: Parquet files
of transactions (owner, close_date, kind, amount; every metric sums ``amount`` over its
own ``kind``), a quota table ``quota_plan.parquet`` (rep, metric, month), ``reps.csv``
and ``case.toml`` with ``period = "month"``. Then, each in its own subprocess (wall time
around it, peak memory from ``os.wait4``, both including interpreter start-up and
imports):

* the floor: one DuckDB query over the same files, the GROUP BY of amount per rep, kind
  and month joined to the quota file, its result fetched into numpy
  (``bench/ledger.py --floor CASE``);
* compplan: ``load_case(CASE)``, the attainment array from the ledger with every check.

Target (issue 21): at most 2 x the floor and 4 GiB.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import REPO, measure  # noqa: E402

SEED = 21
PARTS = 8


def make_ledger(folder: Path, n_tx: int, n_reps: int, n_metrics: int, n_months: int) -> Path:
    """Write the benchmark's case folder (seeded) and return it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "deals").mkdir(exist_ok=True)
    reps = [f"R{i:06d}" for i in range(n_reps)]
    metrics = [f"m{j:02d}" for j in range(n_metrics)]
    months = [f"2026-{m + 1:02d}" for m in range(n_months)]
    ti = rng.uniform(20_000, 60_000, n_reps).round(-2)
    (folder / "reps.csv").write_text(
        "rep_id,segment,target_incentive\n"
        + "".join(f"{r},{'ab'[i % 2]},{ti[i]:.0f}\n" for i, r in enumerate(reps)))
    starts = np.array([np.datetime64(f"{m}-01") for m in months])
    per_part = -(-n_tx // PARTS)
    for part in range(PARTS):
        n = min(per_part, n_tx - part * per_part)
        rep = rng.integers(0, n_reps, n)
        kind = rng.integers(0, n_metrics, n)
        month = rng.integers(0, n_months, n)
        day = starts[month] + rng.integers(0, 28, n).astype("timedelta64[D]")
        amount = rng.lognormal(8.0, 1.0, n).round(2)
        pq.write_table(pa.table({
            "owner": pa.array(np.array(reps, dtype=object)[rep], pa.string()),
            "close_date": pa.array(day.astype("datetime64[D]"), pa.date32()),
            "kind": pa.array(np.array(metrics, dtype=object)[kind], pa.string()),
            "amount": pa.array(amount, pa.float64()),
        }), folder / "deals" / f"part-{part}.parquet")
    # Quota: the expected amount per rep, metric and month, so attainment is near 1.
    expected = n_tx / (n_reps * n_metrics * n_months) * np.exp(8.5)
    cells = n_reps * n_metrics * n_months
    pq.write_table(pa.table({
        "rep_id": pa.array(np.repeat(np.array(reps, dtype=object), n_metrics * n_months)),
        "metric": pa.array(np.tile(np.repeat(np.array(metrics, dtype=object), n_months),
                                   n_reps)),
        "period": pa.array(np.tile(np.array(months, dtype=object), n_reps * n_metrics)),
        "quota": pa.array((expected * rng.uniform(0.8, 1.2, cells)).round(0)),
    }), folder / "quota_plan.parquet")
    lines = ['[case]', 'name = "Ledger benchmark"', "", "[source]",
             'transactions = "deals/*.parquet"', 'rep = "owner"', 'date = "close_date"',
             'period = "month"', 'quotas = "quota_plan.parquet"', "", "[goals]", "g = 1.0", ""]
    for j, metric in enumerate(metrics):
        lines += [f"[metrics.{metric}]", 'sum = "amount"', f"where = \"kind = '{metric}'\"",
                  "threshold = 0.5", "cap = 2.0", f"alignment = {{ g = {1.0 - j / 40:.3f} }}",
                  ""]
    (folder / "case.toml").write_text("\n".join(lines))
    return folder


def floor(case: Path) -> None:
    """One DuckDB query: amount per rep, kind and month over the quota, into numpy."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    result = con.execute(f"""
        SELECT d.owner, d.kind, d.period, d.total / q.quota AS x
        FROM (SELECT owner, kind, strftime(close_date, '%Y-%m') AS period,
                     sum(amount) AS total
              FROM read_parquet('{case}/deals/*.parquet') GROUP BY ALL) d
        JOIN read_parquet('{case}/quota_plan.parquet') q
          ON q.rep_id = d.owner AND q.metric = d.kind AND q.period = d.period""").fetchnumpy()
    print(len(result["x"]))


def run_compplan(case: Path) -> None:
    """compplan's reading of the case: the attainment array from the ledger."""
    from compplan.models.case import load_case

    loaded = load_case(case)
    print(loaded.attainment.shape)


def main(argv: list[str] | None = None) -> int:
    """Generate (once) and measure; ``--floor`` and ``--compplan`` run one side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=100_000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--compplan", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor:
        floor(args.floor)
        return 0
    if args.compplan:
        run_compplan(args.compplan)
        return 0
    name = f"ledger_{args.transactions}_{args.reps}_{args.metrics}_{args.months}"
    case = BENCH / ".cache" / name
    if not (case / "case.toml").is_file():
        started = time.perf_counter()
        make_ledger(case, args.transactions, args.reps, args.metrics, args.months)
        print(f"generated {case} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    runs = {}
    for side in ("floor", "compplan"):
        run = measure([sys.executable, str(Path(__file__)), f"--{side}", str(case)], cwd=REPO)
        if run.code != 0:
            print(run.stderr, file=sys.stderr)
            return 1
        runs[side] = run
    ratio = runs["compplan"].seconds / runs["floor"].seconds
    row = (f"| {args.transactions:,} | {args.reps:,} | {args.metrics} | {args.months} | "
           f"{runs['floor'].seconds:.1f} s, {runs['floor'].peak_mib / 1024:.2f} GiB | "
           f"{runs['compplan'].seconds:.1f} s, {runs['compplan'].peak_mib / 1024:.2f} GiB | "
           f"{ratio:.1f}x |")
    if args.markdown:
        print("| transactions | reps | metrics | months | one DuckDB query | compplan | ratio |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
    print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
