"""Seeded random small cases with [response] (for the enumerator cross-check)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def make_case(folder, seed):
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    R = int(rng.integers(6, 41))
    M = int(rng.integers(3, 6))
    S = int(rng.integers(3, 9))
    mids = [f"m{k}" for k in range(M)]
    absent = bool(rng.random() < 0.3)
    seg = rng.choice(["A", "B", "C"], R)
    ti = np.round(rng.uniform(10000, 60000, R), 0)
    (folder / "reps.csv").write_text("rep_id,segment,target_incentive\n" + "".join(
        f"R{i:03d},{seg[i]},{ti[i]}\n" for i in range(R)))
    lines = ["rep_id,period," + ",".join(mids)]
    for i in range(R):
        keep = [s for s in range(S) if not absent or rng.random() > 0.25] or [0]
        for s in keep:
            vals = np.round(np.maximum(rng.normal(1.0, 0.35, M), 0), 4)
            lines.append(f"R{i:03d},P{s + 1:02d}," + ",".join(str(v) for v in vals))
    (folder / "attainment.csv").write_text("\n".join(lines) + "\n")
    q = np.round(rng.uniform(1e5, 6e5, (R, M)), 0)
    (folder / "quotas.csv").write_text("rep_id," + ",".join(mids) + "\n" + "".join(
        f"R{i:03d}," + ",".join(str(v) for v in q[i]) + "\n" for i in range(R)))
    # baseline: one canonical, one curve (maybe a step), maybe a gate; leave a metric out
    th = np.round(rng.uniform(0.3, 0.7, M), 2)
    ka = np.round(rng.uniform(1.5, 2.5, M), 2)
    rate0 = 0.6 / (1 - th[0]) * 1.2
    bl = [f'[[metrics]]\nid = "m0"\nweight = 0.6\naccelerator_rate = {rate0:.2f}\n']
    step = rng.random() < 0.5
    curve = ("[[0.5, 0.0], [1.0, 0.4], [1.0, 0.5], [1.5, 0.7]]" if step
             else "[[0.4, 0.0], [1.0, 0.4], [1.6, 0.8]]")
    gate = ('gate = { metric = "m0", at = 0.6 }\n' if rng.random() < 0.5 else "")
    bl.append(f'[[metrics]]\nid = "m1"\ncurve = {curve}\n{gate}')
    (folder / "current_plan.toml").write_text("\n".join(bl))
    t = ["[case]", f'name = "rand{seed}"', 'currency = "USD"']
    ppy = rng.random() < 0.3
    if ppy:
        t.append("periods_per_year = 4")
    t += ["", "[goals]", "g1 = 0.6", "g2 = 0.4", ""]
    mm = int(rng.integers(1, 4))
    req = int(rng.integers(0, M)) if rng.random() < 0.3 else None
    forb = int(rng.integers(0, M)) if rng.random() < 0.3 else None
    if forb == req:
        forb = None
    for k, m in enumerate(mids):
        t += [f"[metrics.{m}]", f"threshold = {th[k]}", f"cap = {ka[k]}",
              f"alignment = {{ g1 = {rng.uniform(-0.3, 1):.2f}, g2 = {rng.uniform(0, 1):.2f} }}"]
        if rng.random() < 0.4:
            t.append(f"elasticity = {rng.uniform(0, 1):.2f}")
        if rng.random() < 0.5:
            t.append(f"value = {rng.uniform(0, 0.5):.2f}")
        if rng.random() < 0.2:
            t.append(f"step = {rng.uniform(0.05, 0.3):.2f}")
        if k == req:
            t.append("required = true")
        if k == forb:
            t.append("forbidden = true")
        t.append("")
    minw = [0.0, 0.1, 0.2, 0.3][int(rng.integers(0, 4))] if mm > 1 else 0.0
    t += ["[design]", f"max_metrics = {mm}", f"min_weight = {minw}",
          f"max_weight = {1.0 if mm == 1 else 0.8}", "accelerator_min = 1.0",
          f"accelerator_max = {rng.choice([1.2, 1.5, 2.0])}"]
    if rng.random() < 0.4:
        t.append(f"max_payout_multiple = {rng.uniform(2.5, 5):.2f}")
    tot = float(ti.sum())
    frac = rng.uniform(0.8, 1.8)
    t += ["", "[budget]", f"expected_cap = {tot * frac * (4 if ppy else 1):.2f}"]
    if rng.random() < 0.4:
        t += ["cvar_level = 0.8", f"cvar_cap = {tot * frac * 1.3 * (4 if ppy else 1):.2f}"]
    t += ["", "[fairness]"]
    if rng.random() < 0.4:
        t += ['group_by = "segment"', f"parity_tolerance = {rng.uniform(0.1, 0.4):.3f}"]
    if rng.random() < 0.3:
        t += ["top_share = 0.2", f"top_ratio = {rng.uniform(1.3, 2.5):.2f}"]
    if rng.random() < 0.3:
        t += ["bottom_share = 0.2", f"bottom_floor = {rng.uniform(0.1, 0.5):.2f}"]
    t += ["", "[response]", 'baseline = "current_plan.toml"',
          f"elasticity = {rng.uniform(0, 0.8):.2f}", f"max_change = {rng.choice([0.2, 0.5, 1.0])}",
          "", "[scenarios]", 'mode = "historical"']
    if absent:
        t.append("allow_absent = true")
    (folder / "case.toml").write_text("\n".join(t) + "\n")
    return folder
