"""Benchmark ``compplan pulse`` against the data floor of reading the case and the actuals.

    .venv/bin/python bench/pulse.py --reps 100000 --elapsed 6 [--repeat 3] [--markdown]

Uses the cached scale case of ``bench/run.py`` (``bench/make_case.py``, 20 metrics, 12
periods, every guardrail on), the plan ``compplan optimise`` designs for it (cached
beside it), and actuals made from the case's first ``--elapsed`` periods, each
attainment times ``exp(lift + 0.05 e)`` with ``e`` standard normal from a seeded
generator, written as ``actuals-k<K>-l<lift>.csv`` in the case folder. The default
``--lift 0.015`` is a start just hot enough that the plan must be re-tuned (and can be):
the run measures the whole pulse, re-tune included.

The floor (``pulse_floor``) is ``bench/floor.py``'s floor of the case (read with
pandas, build ``x``, every coefficient of the model in one numpy pass) plus reading the
actuals with ``pandas.read_csv`` and computing the plan's payout on them: the least
work any pulse check must do. compplan runs ``compplan pulse CASE plan.json --actuals
FILE --out TMP --quiet`` end to end (start-up, reading and validation, coefficients,
payouts, the re-tune's solves, drift, writing). Each child runs in its own process
with a warm page cache; the table keeps the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from floor import floor  # noqa: E402
from run import (  # noqa: E402
    DEFAULT_SEED,
    best,
    ensure_case,
    ensure_gitignore,
    installed_compplan,
    measure,
    warm,
)

TARGET_RATIO = 2.0


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def ensure_actuals(case: Path, elapsed: int, seed: int, lift: float) -> Path:
    """``actuals-k<K>-l<lift>.csv``: the case's first ``elapsed`` periods, running hot."""
    path = case / f"actuals-k{elapsed}-l{lift:g}.csv"
    if path.is_file():
        return path
    started = time.perf_counter()
    att = pd.read_csv(case / "attainment.csv", dtype={"rep_id": str, "period": str})
    periods = sorted(att["period"].unique())[:elapsed]
    frame = att[att["period"].isin(periods)].reset_index(drop=True)
    rng = np.random.default_rng([seed, 15])
    metrics = [c for c in frame.columns if c not in ("rep_id", "period")]
    factor = np.exp(lift + 0.05 * rng.standard_normal((len(frame), len(metrics))))
    frame[metrics] = np.round(frame[metrics].to_numpy() * factor, 4)
    frame["period"] = "Y2-" + frame["period"]
    partial = path.with_suffix(".partial")
    frame.to_csv(partial, index=False, lineterminator="\n", float_format="%.4f")
    partial.rename(path)
    log(f"wrote {path.name} ({path.stat().st_size / 2**20:.0f} MiB) "
        f"in {time.perf_counter() - started:.1f}s")
    return path


def ensure_plan(case: Path, cmd: list[str], env: dict[str, str] | None) -> Path:
    """The plan ``compplan optimise`` designs for the case, cached in the case folder."""
    path = case / "pulse-plan" / "plan.json"
    if path.is_file():
        return path
    log("optimising the case for its plan ...")
    run = measure([*cmd, "optimise", str(case), "--out", str(path.parent), "--quiet"],
                  env=env)
    if run.code != 0:
        raise SystemExit(f"optimise failed: {run.stderr[-2000:]}")
    return path


def pulse_floor(case: Path, actuals: Path, plan: Path) -> dict:
    """The case's floor plus reading the actuals and the plan's payout on them."""
    started = time.perf_counter()
    result, _ = floor(case)
    spec = tomllib.loads((case / "case.toml").read_text())
    doc = json.loads(plan.read_text())
    reps = pd.read_csv(case / "reps.csv")
    t0 = time.perf_counter()
    act = pd.read_csv(actuals)
    t_read = time.perf_counter()
    rep_code = pd.Index(reps["rep_id"]).get_indexer(act["rep_id"])
    ti = reps["target_incentive"].to_numpy(dtype=np.float64)[rep_code]
    paid = 0.0
    for m in doc["metrics"]:
        metric = spec["metrics"][m["id"]]
        th, ka = float(metric["threshold"]), float(metric["cap"])
        x = act[m["id"]].to_numpy(dtype=np.float64)
        share = (m["weight"] * np.clip(x - th, 0.0, 1.0 - th) / (1.0 - th)
                 + m["accelerator_rate"] * np.clip(x - 1.0, 0.0, ka - 1.0))
        paid += float(ti @ share)
    done = time.perf_counter()
    return {**result, "actuals_read_s": round(t_read - t0, 4),
            "payout_s": round(done - t_read, 4), "total_s": round(done - started, 4),
            "paid_to_date": paid}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100_000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--periods", type=int, default=12)
    parser.add_argument("--elapsed", type=int, default=6)
    parser.add_argument("--lift", type=float, default=0.015,
                        help="log lift of the actuals over the same periods of the history")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--cache-dir", type=Path, default=BENCH / ".cache")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--floor-only", nargs=3, metavar=("CASE", "ACTUALS", "PLAN"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--make-actuals", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.make_actuals:
        folder, elapsed, seed, lift = args.make_actuals
        ensure_actuals(Path(folder), int(elapsed), int(seed), float(lift))
        return 0
    if args.floor_only:
        print(json.dumps(pulse_floor(*(Path(p) for p in args.floor_only))))
        return 0
    ensure_gitignore(args.cache_dir)
    case = ensure_case(args.cache_dir, args.reps, args.metrics, args.periods, args.seed,
                       None, log)
    target = installed_compplan()
    # In a child: a parent that read the case would pass its peak memory on to every
    # child it forks (Linux counts the pre-exec copy in ru_maxrss).
    actuals = case / f"actuals-k{args.elapsed}-l{args.lift:g}.csv"
    if not actuals.is_file():
        subprocess.run([sys.executable, str(BENCH / "pulse.py"), "--make-actuals", str(case),
                        str(args.elapsed), str(args.seed), str(args.lift)], check=True)
    plan = ensure_plan(case, target.cmd, target.env)
    warm(case)
    with actuals.open("rb") as handle:
        while handle.read(1 << 23):
            pass
    floors, runs = [], []
    detail: dict = {}
    doc: dict = {}
    with tempfile.TemporaryDirectory() as work:
        for i in range(args.repeat):
            run = measure([sys.executable, str(BENCH / "pulse.py"), "--floor-only", str(case),
                           str(actuals), str(plan)])
            if run.code != 0:
                raise SystemExit(f"floor failed: {run.stderr[-2000:]}")
            floors.append(run)
            log(f"run {i + 1}: floor {run.seconds:.2f}s (CPU {run.cpu_seconds:.2f}s), "
                f"{run.peak_mib:,.0f} MiB")
            out = Path(work) / f"p{i}"
            run = measure([*target.cmd, "pulse", str(case), str(plan), "--actuals",
                           str(actuals), "--out", str(out), "--quiet"], env=target.env)
            if run.code not in (0, 3):
                raise SystemExit(f"pulse exit {run.code}: {run.stderr[-2000:]}")
            runs.append(run)
            log(f"run {i + 1}: compplan pulse {run.seconds:.2f}s (CPU {run.cpu_seconds:.2f}s), "
                f"{run.peak_mib:,.0f} MiB, exit {run.code}")
            doc = json.loads((out / "pulse.json").read_text())
            shutil.rmtree(out, ignore_errors=True)
        fl, cp = best(floors), best(runs)
        detail = json.loads(fl.stdout.strip().splitlines()[-1])
    ratio = cp.seconds / fl.seconds
    rt = doc.get("retune") or {}
    # The floor's paid to date and compplan's must agree: the same work was done.
    agree = abs(detail["paid_to_date"] - doc["paid_to_date"]) <= 1e-9 * abs(doc["paid_to_date"])
    cells = [f"{args.reps:,}", str(args.metrics), f"{args.elapsed} of {args.periods}",
             f"{fl.seconds:.2f}", f"{cp.seconds:.2f}", f"{ratio:.2f}",
             f"{fl.cpu_seconds:.2f}", f"{cp.cpu_seconds:.2f}", f"{fl.peak_mib:,.0f}",
             f"{cp.peak_mib:,.0f}", f"{rt.get('change', float('nan')):.4f}",
             "yes" if agree else "NO",
             "met" if ratio <= TARGET_RATIO else f"missed: ratio {ratio:.2f} > {TARGET_RATIO:g}"]
    heads = ["reps", "metrics", "elapsed", "floor s", "pulse s", "ratio", "floor CPU s",
             "pulse CPU s", "floor MiB", "pulse MiB", "re-tune change", "paid agrees",
             "target"]
    if args.markdown:
        print("| " + " | ".join(heads) + " |")
        print("|" + "---:|" * len(heads))
        print("| " + " | ".join(cells) + " |")
    else:
        for h, c in zip(heads, cells, strict=True):
            print(f"{h:>16}: {c}")
    print(f"floor steps: read case {detail['read_s']:.2f}s, build x {detail['build_s']:.2f}s, "
          f"coefficients {detail['coefficients_s']:.2f}s, read actuals "
          f"{detail['actuals_read_s']:.2f}s, payout {detail['payout_s']:.2f}s")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
