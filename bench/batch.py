"""Benchmark a batch run against one cold ``compplan optimise`` of the same case.

    .venv/bin/python bench/batch.py --markdown
    .venv/bin/python bench/batch.py --candidates 200 --workers 1,2 --repeat 3 --markdown
    .venv/bin/python bench/batch.py --candidates 1000 --parity 25 --workers 1 --markdown

Each command runs in its own subprocess, interpreter start-up and imports included:

* ``compplan optimise CASE --out TMP -q``: the reference, one cold solve;
* ``compplan sweep CASE --budget FROM:TO:N --out TMP -q --workers W`` for each W
  (``--no-prices`` too with ``--no-prices``);
* with ``--parity P``, instead of the sweep: ``compplan batch SPEC`` over a grid of
  N / P expected-cost caps (FROM to TO x the case's) by P parity tolerances (0.02 to
  0.2), N candidates in all.

The targets ("Speed where designers wait"): a 200-candidate budget sweep of the
default case costs at most 5 x one cold optimise (3 x with ``--no-prices``), a
1,000-candidate budget x parity batch at most 10 x (the "Batch runs" issue asked 20 x).
Wall time is the least of ``--repeat`` runs; CPU time (user + system of the child) is
from the same run, and n/a with worker processes (they are children of
multiprocessing's fork server, whose CPU time never reaches this process). From the
batch's ``result.json`` files: how many candidates have a plan, and the mean seconds a
worker spent per candidate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CASE = REPO / "cases" / "enterprise_first"
TARGETS = {"sweep": 5.0, "sweep --no-prices": 3.0, "batch": 10.0}


@dataclass
class Run:
    label: str
    seconds: float
    cpu: float | None
    feasible: int = 0
    candidates: int = 0
    per_candidate: float = 0.0
    target: float | None = None


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of a child (and its children), which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def best(label: str, command: list[str], out: Path, repeat: int, pooled: bool = False,
         env: dict[str, str] | None = None) -> Run:
    runs = []
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        runs.append(timed([*command, "--out", str(out)], env))
    wall, cpu = min(runs)
    # Pool workers are children of the fork server, which is never waited for: their
    # CPU time does not reach this process's rusage.
    run = Run(label, wall, None if pooled else cpu)
    records = [json.loads(p.read_text()) for p in out.glob("candidates/*/result.json")]
    if records:
        run.candidates = len(records)
        run.feasible = sum(r["status"] in ("optimal", "time_limit") for r in records)
        run.per_candidate = sum(r["seconds"] for r in records) / len(records)
    return run


def table(runs: list[Run], reference: Run, markdown: bool) -> str:
    head = ["run", "seconds", "CPU s", "x optimise", "x optimise (CPU)", "candidates",
            "with a plan", "s per candidate (worker)", "target (wall)"]
    rows = []
    for run in runs:
        ratio = run.seconds / reference.seconds
        cpu_ratio = "n/a" if run.cpu is None or not reference.cpu else \
            f"{run.cpu / reference.cpu:.2f}"
        goal = run.target
        target = "-" if goal is None else (
            "met" if ratio <= goal else f"missed: {ratio:.1f} > {goal:g}")
        rows.append([run.label, f"{run.seconds:.2f}",
                     "n/a" if run.cpu is None else f"{run.cpu:.2f}", f"{ratio:.2f}", cpu_ratio,
                     str(run.candidates or "-"), str(run.feasible or "-"),
                     f"{run.per_candidate:.3f}" if run.candidates else "-", target])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                     for r in [head, *rows])


def grid_spec(folder: Path, case: Path, budget: str, candidates: int, parity: int) -> Path:
    """A batch spec: caps (factors ``budget`` of the case's) x parity tolerances."""
    import tomllib

    import numpy as np

    cap = tomllib.loads((case / "case.toml").read_text())["budget"]["expected_cap"]
    low, high = (float(x) for x in budget.split(":"))
    caps = [round(float(f) * cap, 2) for f in np.linspace(low, high, candidates // parity)]
    tolerances = [round(float(t), 6) for t in np.linspace(0.02, 0.2, parity)]
    spec = folder / "grid.toml"
    spec.write_text(f'case = "{case.resolve()}"\n[grid]\n'
                    f'"budget.expected_cap" = {caps}\n'
                    f'"fairness.parity_tolerance" = {tolerances}\n')
    return spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", type=Path, default=DEFAULT_CASE)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--budget", default="0.8:1.1", metavar="FROM:TO",
                        help="factors of the case's expected-cost cap")
    parser.add_argument("--workers", default=f"1,{os.cpu_count() or 1}",
                        help="comma-separated worker counts to run the sweep with")
    parser.add_argument("--no-prices", action="store_true",
                        help="also run each sweep with --no-prices")
    parser.add_argument("--parity", type=int, metavar="P",
                        help="a batch of caps x P parity tolerances instead of a sweep")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--ref", help="also run the batches with compplan as committed at REF "
                                      "(exported as bench/run.py --ref does)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    versions: list[tuple[str, dict[str, str] | None]] = [("", None)]
    if args.ref:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import run as bench_run  # bench/run.py

        found = bench_run.exported_compplan(args.ref, REPO / "bench" / ".cache",
                                            bench_run.TextLog(True))
        versions.append((f"{found.label}: ", found.env))

    compplan = [sys.executable, "-m", "compplan"]
    budget = f"{args.budget}:{args.candidates}"
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="compplan-bench-batch-") as tmp:
        out = Path(tmp) / "out"
        reference = best("compplan optimise (cold)", [*compplan, "optimise", str(args.case),
                                                      "-q"], out, args.repeat)
        runs = [reference]
        counts = sorted({int(w) for w in args.workers.split(",")})
        what = ["sweep", str(args.case), "--budget", budget]
        name = f"sweep {budget}"
        if args.parity:
            spec = grid_spec(Path(tmp), args.case, args.budget, args.candidates, args.parity)
            what = ["batch", str(spec)]
            name = (f"batch {args.candidates // args.parity} caps x {args.parity} parity "
                    "tolerances")
        for workers in counts:
            for prices in ([True, False] if args.no_prices else [True]):
                for prefix, env in versions:
                    label = f"{prefix}{name}, --workers {workers}" + (
                        "" if prices else ", --no-prices")
                    command = [*compplan, *what, "-q", "--workers", str(workers)] + (
                        [] if prices else ["--no-prices"])
                    runs.append(best(label, command, out, args.repeat, pooled=workers > 1,
                                     env=env))
                    runs[-1].target = TARGETS["batch" if args.parity else
                                              "sweep" if prices else "sweep --no-prices"]
    print(f"_case {args.case.name}; best of {args.repeat}; {os.cpu_count()} CPUs; "
          f"1-min load average {load:.1f} before, {os.getloadavg()[0]:.1f} after_\n")
    print(table(runs, reference, args.markdown))


if __name__ == "__main__":
    main()
