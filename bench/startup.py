"""Start-up time of the command line: what a user waits before anything happens.

    .venv/bin/python bench/startup.py [--runs 7] [--json]

Runs ``compplan --version``, ``compplan --help`` and ``compplan validate`` (the bundled
default case) each ``--runs`` times in a fresh process, after ``python -c pass`` as the
floor no command can beat, and prints the median and best wall time of each with the
CPU time of its process (user + system; on a busy machine the CPU time is the steadier
figure). Targets (issue 12): --version and --help under 0.3 s, validate under 1 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "compplan --version": [str(BIN / "compplan"), "--version"],
    "compplan --help": [str(BIN / "compplan"), "--help"],
    "compplan validate": [str(BIN / "compplan"), "validate"],
}
TARGETS = {"compplan --version": 0.3, "compplan --help": 0.3, "compplan validate": 1.0}


def _once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(runs: int) -> dict[str, dict[str, float]]:
    """Median and best wall time and median CPU time of each command."""
    figures = {}
    for name, argv in COMMANDS.items():
        _once(argv)  # warm the file cache
        walls, cpus = zip(*(_once(argv) for _ in range(runs)), strict=True)
        figures[name] = {"median": statistics.median(walls), "best": min(walls),
                         "cpu": statistics.median(cpus)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()
    figures = measure(args.runs)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print("| command | median wall s | best wall s | median CPU s | target s |")
    print("|---|---:|---:|---:|---:|")
    for name, f in figures.items():
        target = TARGETS.get(name)
        print(f"| `{name}` | {f['median']:.3f} | {f['best']:.3f} | {f['cpu']:.3f} | "
              f"{'' if target is None else f'{target:g}'} |")


if __name__ == "__main__":
    main()
