"""Cross-check `compplan optimise` under [response] against tests/response_enumerator.py.

Usage: .venv/bin/python bench/response_enumerated.py FIRST_SEED LAST_SEED
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from response_cases import make_case
from response_enumerator import enumerate_best


def close(a, b, tol=1e-6):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def compare(folder, out):
    exe = Path(sys.executable).parent / "compplan"
    res = subprocess.run([str(exe), "optimise", str(folder), "--out", str(out)],
                         capture_output=True, text=True)
    ref = enumerate_best(folder)
    if ref is None:
        ok = res.returncode == 3 and (out / "infeasibility.json").exists()
        why = res.stderr.strip().splitlines()[-2][-160:] if res.stderr.strip() else ""
        return ok, f"infeasible: exit {res.returncode} {why}"
    if res.returncode != 0:
        return False, f"exit {res.returncode}: {res.stderr[-400:]} ref={ref['plan']}"
    p = json.loads((out / "plan.json").read_text())
    r = p["response"]
    diffs = []
    for name, a, b in [("alignment", ref["alignment"], p["objective"]["alignment"]),
                       ("expected_cost", ref["expected_cost"], p["objective"]["expected_cost"]),
                       ("static", ref["static_cost"], r["static"]["expected_cost"]),
                       ("net_value", ref["net_value"], r.get("net_value"))]:
        if not close(a, b):
            diffs.append(f"{name}: enum {a} compplan {b}")
    for m, v in ref["multipliers"].items():
        if not close(v, r["multipliers"].get(m)):
            diffs.append(f"lambda {m}: enum {v} compplan {r['multipliers'].get(m)}")
    if diffs:
        diffs.append(f"enum plan {ref['plan']} compplan "
                     f"{[(m['id'], m['weight'], m['accelerator_rate']) for m in p['metrics']]}")
    return not diffs, "; ".join(diffs) or f"ok ({ref['n_plans']} feasible plans)"


if __name__ == "__main__":
    lo, hi = int(sys.argv[1]), int(sys.argv[2])
    for seed in range(lo, hi + 1):
        with tempfile.TemporaryDirectory() as tmp:
            folder = make_case(Path(tmp) / "case", seed)
            ok, msg = compare(folder, Path(tmp) / "out")
            print(seed, "OK" if ok else "DIFF", msg, flush=True)
            ref = enumerate_best(folder)
            if ref is not None and "--tighten" in sys.argv:
                # the expected-cost cap just below the optimum's: the budget binds
                toml = (folder / "case.toml").read_text().splitlines()
                toml = [f"expected_cap = {ref['expected_cost'] * 0.97:.2f}"
                        if line.startswith("expected_cap") else line for line in toml]
                (folder / "case.toml").write_text("\n".join(toml) + "\n")
                ok, msg = compare(folder, Path(tmp) / "out2")
                print(seed, "tight", "OK" if ok else "DIFF", msg, flush=True)
