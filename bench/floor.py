"""The data floor: the least work any implementation of the model must do on a case.

    .venv/bin/python bench/floor.py CASE_DIR [--json]

Reads ``reps.csv`` and ``attainment.csv`` with plain ``pandas.read_csv`` (default
engine), builds ``x[metric, rep, period]`` with numpy, then makes one numpy pass over
the metrics computing every coefficient the model of MODEL.md needs:

* ``phi`` and ``psi`` (section 2) with each metric's threshold and cap from ``case.toml``;
* scenario totals weighted by target incentive, per unit of ``w`` and ``u`` (S x M);
* each rep's mean over scenarios (N x M), for the tail guardrails over reps;
* group means weighted by target incentive (H x M), for parity;
* the alignment deltas ``phi(x + delta) - phi(x)`` and ``psi(x + delta) - psi(x)``
  weighted by target incentive, with ``delta`` the population std of the metric.

Deliberately minimal: no validation, no solve, historical scenarios only (a
Monte Carlo case has no floor here). It shares no code with compplan. It prints
the time of each step; ``compplan optimise`` is compared to this figure.
"""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd


def floor(case: Path) -> tuple[dict, dict]:
    """Run the floor on a case folder: ``(timings and sizes, coefficient arrays)``."""
    t0 = time.perf_counter()
    spec = tomllib.loads((case / "case.toml").read_text())
    metrics = spec["metrics"]
    ids = list(metrics)
    theta = np.array([float(metrics[m]["threshold"]) for m in ids])
    kappa = np.array([float(metrics[m]["cap"]) for m in ids])
    group_by = spec.get("fairness", {}).get("group_by")

    reps = pd.read_csv(case / "reps.csv")
    att = pd.read_csv(case / "attainment.csv")
    t_read = time.perf_counter()

    rep_code = pd.Index(reps["rep_id"]).get_indexer(att["rep_id"])
    period_code, periods = pd.factorize(att["period"], sort=True)
    n_reps, n_metrics, n_scen = len(reps), len(ids), len(periods)
    values = att[ids].to_numpy(dtype=np.float64)
    x = np.empty((n_metrics, n_reps, n_scen))
    for j in range(n_metrics):
        x[j, rep_code, period_code] = values[:, j]
    del values, att
    t_build = time.perf_counter()

    ti = reps["target_incentive"].to_numpy(dtype=np.float64)
    weight = ti / ti.sum()                          # money as a share of total TI
    scen_w = np.empty((n_scen, n_metrics))
    scen_u = np.empty((n_scen, n_metrics))
    rep_w = np.empty((n_reps, n_metrics))
    rep_u = np.empty((n_reps, n_metrics))
    align_w = np.empty(n_metrics)
    align_u = np.empty(n_metrics)
    step = np.empty(n_metrics)
    for j in range(n_metrics):
        xj = x[j]                                   # (N, S)
        th, ka = theta[j], kappa[j]
        step[j] = xj.std()
        phi = np.clip(xj - th, 0.0, 1.0 - th) / (1.0 - th)
        psi = np.clip(xj - 1.0, 0.0, ka - 1.0)
        up = xj + step[j]
        phi_up = np.clip(up - th, 0.0, 1.0 - th) / (1.0 - th)
        psi_up = np.clip(up - 1.0, 0.0, ka - 1.0)
        scen_w[:, j] = weight @ phi
        scen_u[:, j] = weight @ psi
        rep_w[:, j] = phi.mean(axis=1)
        rep_u[:, j] = psi.mean(axis=1)
        align_w[j] = (weight @ (phi_up - phi)).sum() / n_scen
        align_u[j] = (weight @ (psi_up - psi)).sum() / n_scen
    n_groups = 0
    group_w = group_u = np.zeros((0, n_metrics))
    if group_by is not None:
        codes, _ = pd.factorize(reps[group_by], sort=True)
        n_groups = int(codes.max()) + 1
        group_ti = np.bincount(codes, weights=ti, minlength=n_groups)
        group_w = np.stack([np.bincount(codes, weights=ti * rep_w[:, j], minlength=n_groups)
                            for j in range(n_metrics)], axis=1) / group_ti[:, None]
        group_u = np.stack([np.bincount(codes, weights=ti * rep_u[:, j], minlength=n_groups)
                            for j in range(n_metrics)], axis=1) / group_ti[:, None]
    t_coef = time.perf_counter()

    result = {
        "reps": n_reps, "metrics": n_metrics, "scenarios": n_scen, "groups": n_groups,
        "read_s": round(t_read - t0, 4), "build_s": round(t_build - t_read, 4),
        "coefficients_s": round(t_coef - t_build, 4), "total_s": round(t_coef - t0, 4),
        # A checksum, so the work cannot be optimised away and two runs can be compared.
        "checksum": float(scen_w.sum() + scen_u.sum() + align_w.sum() + align_u.sum()),
    }
    arrays = {"scen_w": scen_w, "scen_u": scen_u, "rep_w": rep_w, "rep_u": rep_u,
              "group_w": group_w, "group_u": group_u, "align_w": align_w,
              "align_u": align_u, "step": step}
    return result, arrays


def main() -> None:
    parser = argparse.ArgumentParser(description="Time the data floor of a case.")
    parser.add_argument("case", type=Path)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    case = args.case
    result, _ = floor(case)
    n_reps, n_metrics, n_scen = result["reps"], result["metrics"], result["scenarios"]
    if args.json:
        print(json.dumps(result))
    else:
        print(f"floor {case}: {n_reps} reps x {n_metrics} metrics x {n_scen} scenarios: "
              f"read {result['read_s']:.2f}s, build x {result['build_s']:.2f}s, "
              f"coefficients {result['coefficients_s']:.2f}s, total {result['total_s']:.2f}s")


if __name__ == "__main__":
    main()
