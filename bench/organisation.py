"""Benchmark ``compplan optimise ORG`` against the data floor of an organisation.

    .venv/bin/python bench/organisation.py    # 5 roles x 20,000 reps x 20 metrics x 12
    .venv/bin/python bench/organisation.py --roles 2 --reps 2000 --markdown

The organisation (MODEL.md section 7) is generated into ``bench/.cache/`` unless it is
there already: each role is a scale case of ``bench/make_case.py`` (its own seed, every
guardrail on, ``[goals]`` removed: the goals are the organisation's), and ``org.toml``
sets an organisation expected-cost and CVaR cap, ``no_opposing``, ``cover_goals`` and one
handoff. Then, each in its own subprocess (wall time around it, peak memory from
``os.wait4``, both including interpreter start-up and imports):

* the floor: ``bench/floor.py``'s reading and one numpy pass, for every role in turn in
  one process (``bench/organisation.py --floor ORG``), then the same with numpy's huge
  pages off (``NUMPY_MADVISE_HUGEPAGE=0``), as compplan reads and reduces a history;
* ``compplan optimise ORG --out TMP --quiet``;
* with ``--ref COMMIT``, the same command with compplan as committed at COMMIT
  (``git archive`` into ``bench/.cache/src-<sha>/pkg``, first on PYTHONPATH, as
  ``bench/run.py --ref`` does), right after the working tree.

``--repeat N`` runs the three N times in turn, each row with the load average at its
start (the machine may be shared: compare rows of one round, and the CPU seconds).

    .venv/bin/python bench/organisation.py --markdown --ref cab00a8 --repeat 3

Target (issue 14, again issue 23): at most 2 x the floor, peak memory under 3 GiB, and a
model that does not grow with reps (the tails are cuts: see the rows column).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from floor import floor  # noqa: E402
from make_case import GOALS, make_case, metric_table  # noqa: E402
from run import REPO, Run, TextLog, exported_compplan, measure, warm  # noqa: E402

ORG_EXPECTED_FACTOR = 1.0  # org expected_cap / all roles' target incentive
ORG_CVAR_FACTOR = 1.1


def org_dir(cache: Path, roles: int, reps: int, metrics: int, periods: int) -> Path:
    return cache / f"org_{roles}x{reps}x{metrics}x{periods}"


def make_org(folder: Path, roles: int, reps: int, metrics: int, periods: int) -> Path:
    """Generate the organisation folder (skipped when its stamp says it is there)."""
    stamp = folder / ".stamp"
    key = json.dumps([roles, reps, metrics, periods,
                      (BENCH / "make_case.py").stat().st_mtime_ns,
                      Path(__file__).stat().st_mtime_ns])
    if stamp.is_file() and stamp.read_text() == key:
        return folder
    total = 0.0
    for i in range(roles):
        role = folder / f"role{i + 1}"
        make_case(role, reps=reps, metrics=metrics, periods=periods, seed=20260101 + i,
                  quiet=True)
        text = (role / "case.toml").read_text()
        # A role's goals are the organisation's: drop the [goals] table.
        (role / "case.toml").write_text(re.sub(r"\[goals\]\n(?:[^\[\n].*\n)*\n", "", text))
        total += sum(float(line.rsplit(",", 1)[1]) for line in
                     (role / "reps.csv").read_text().splitlines()[1:])
    ids = [m[0] for m in metric_table(metrics)]
    lines = ["[org]", f'name = "Benchmark organisation: {roles} roles x {reps} reps"', "",
             "[goals]", *(f"{g} = {p}" for g, p in GOALS.items()), ""]
    for i in range(roles):
        lines += [f"[roles.role{i + 1}]", f'path = "role{i + 1}"', ""]
    lines += ["[budget]", f"expected_cap = {round(ORG_EXPECTED_FACTOR * total, -2):.0f}",
              "cvar_level = 0.9", f"cvar_cap = {round(ORG_CVAR_FACTOR * total, -2):.0f}", "",
              "[coherence]", "no_opposing = true", "cover_goals = true",
              f'handoffs = [["role1.{ids[1]}", "role2.{ids[0]}"]]', ""]
    (folder / "org.toml").write_text("\n".join(lines))
    stamp.write_text(key)
    return folder


def run_floor(folder: Path) -> None:
    """The floor: every role's files read and reduced, one role after the other."""
    for role in sorted(p for p in folder.iterdir() if (p / "case.toml").is_file()):
        floor(role)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roles", type=int, default=5)
    parser.add_argument("--reps", type=int, default=20_000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--periods", type=int, default=12)
    parser.add_argument("--cache", type=Path, default=BENCH / ".cache")
    parser.add_argument("--compplan", default=str(REPO / ".venv" / "bin" / "compplan"))
    parser.add_argument("--ref", metavar="COMMIT",
                        help="also time compplan as committed at COMMIT, after the working tree")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the floor, the working tree (and --ref) N times in turn")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor is not None:
        run_floor(args.floor)
        return 0
    started = time.perf_counter()
    folder = make_org(org_dir(args.cache, args.roles, args.reps, args.metrics, args.periods),
                      args.roles, args.reps, args.metrics, args.periods)
    print(f"organisation ready in {time.perf_counter() - started:.1f}s: {folder}",
          file=sys.stderr)
    targets: list[tuple[str, dict[str, str] | None]] = [("compplan optimise ORG", None)]
    if args.ref:
        ref = exported_compplan(args.ref, args.cache.resolve(), TextLog(False))
        targets.append((f"compplan optimise ORG ({args.ref})", ref.env))
    for role in folder.iterdir():
        if role.is_dir():
            warm(role)
    rows = []
    plain = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": "0"}
    for _ in range(max(1, args.repeat)):
        load = os.getloadavg()[0]
        base = measure([sys.executable, __file__, "--floor", str(folder)])
        if base.code != 0:
            print(base.stderr, file=sys.stderr)
            return 1
        rows.append(("floor (read + one numpy pass)", load, base, "-", "-", "-"))
        # compplan asks for no huge pages where it reads and reduces a history
        # (models/pages.py); the floor with none at all shows what that alone is worth.
        load = os.getloadavg()[0]
        flat = measure([sys.executable, __file__, "--floor", str(folder)], env=plain)
        rows.append(("floor, numpy's huge pages off", load, flat, "-", "-", "-"))
        for name, env in targets:
            load = os.getloadavg()[0]
            run, model = optimise(args.compplan, folder, env)
            if run is None:
                return 1
            rows.append((name, load, run, f"{run.seconds / base.seconds:.2f}",
                         f"{run.seconds / flat.seconds:.2f}", model))
    size = f"{args.roles} roles x {args.reps:,} reps x {args.metrics} metrics x {args.periods}"
    if args.markdown:
        print(f"| {size} | load | seconds | CPU s | peak MiB | x floor | x floor without huge "
              "pages | model |\n|---|---:|---:|---:|---:|---:|---:|---|")
        for name, load, run, ratio, flat_ratio, model in rows:
            print(f"| {name} | {load:.1f} | {run.seconds:.2f} | {run.cpu_seconds:.2f} | "
                  f"{run.peak_mib:,.0f} | {ratio} | {flat_ratio} | {model} |")
    else:
        print(size)
        for name, load, run, ratio, flat_ratio, model in rows:
            print(f"  {name:40s} load {load:4.1f} {run.seconds:8.2f}s {run.cpu_seconds:8.2f} "
                  f"CPU s {run.peak_mib:9,.0f} MiB  x{ratio:>5}  x{flat_ratio:>5}  {model}")
    return 0


def optimise(compplan: str, folder: Path,
             env: dict[str, str] | None) -> tuple[Run | None, str]:
    """``compplan optimise ORG`` timed, and the size of its model (from org_plan.json)."""
    with tempfile.TemporaryDirectory() as out:
        run = measure([compplan, "optimise", str(folder), "--out", out, "--quiet"], env=env)
        if run.code != 0:
            print(run.stderr, file=sys.stderr)
            return None, ""
        solver = json.loads((Path(out) / "org_plan.json").read_text())["solver"]
    cuts = sum(solver["cuts"].values())
    return run, (f"{solver['rows']} rows, {solver['columns']} columns, {solver['rounds']} "
                 f"solves, {cuts} cuts")


if __name__ == "__main__":
    sys.exit(main())
