"""Generate a seeded, deterministic scale case for the benchmarks.

    .venv/bin/python bench/make_case.py --reps 100000 --metrics 20 --periods 12 --out DIR
    .venv/bin/python bench/make_case.py --reps 10000 --out DIR --montecarlo 500

The folder holds ``case.toml``, ``reps.csv`` and ``attainment.csv`` in the format of
MODEL.md section 1, with every guardrail of the spec switched on (payout multiple,
expected cap, CVaR cap, segment parity, both tails over reps).

How the data are made
---------------------
Reps
    Four segments (SMB, MidMarket, Enterprise, Strategic; 40/30/20/10 % of
    headcount), six regions, target incentive uniform in the segment's range,
    rounded to a hundred.
Attainment
    Lognormal, per rep ``r``, period ``t``, metric ``m``::

        log x = log(mean_m * segment_m) - variance correction
                + rep_sd_m * (L_m . F_r + sqrt(1 - |L_m|^2) e_rm)        # skill
                + shock_m * c_t                                          # common shock
                + noise_sd_m * (L_m . G_rt + sqrt(1 - |L_m|^2) n_rtm)    # period noise

    ``F_r`` and ``G_rt`` are three latent factors (new business, account
    management, activity), so metrics that load on the same factor are
    correlated, both in skill and period to period. ``c_t`` is a shock common to
    all reps in a period (with a quarter-end push), which keeps the total payout
    risky however many reps there are. Lumpy metrics are Poisson counts of mean
    ``q_m x`` divided by ``q_m`` (many exact zeros), and 1 % of rep-periods are
    leave (every metric 0). Attainment is written with 4 decimals.
Guardrails (``case.toml``)
    Set from the generated data as fixed multiples of the sum of target incentive
    (``*_FACTOR`` below), calibrated with the command line on 1k and 10k reps so
    that the case is feasible and some guardrails bind. The statistics they depend
    on converge as reps are added, so the same factors hold at 100k reps.

Everything comes from one ``numpy.random.Generator`` seeded with ``--seed``, drawn
in a fixed order, so the same arguments give the same files byte for byte.
The CSV is formatted with integer arithmetic on a byte matrix (no per-value
Python formatting), so 100k reps x 20 metrics x 12 periods (about 170 MB) takes
seconds, not minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

GOALS = {"enterprise_growth": 0.4, "multi_product": 0.25, "retention": 0.2, "margin": 0.15}
SEGMENTS = ("SMB", "MidMarket", "Enterprise", "Strategic")
SEGMENT_SHARE = (0.4, 0.3, 0.2, 0.1)
SEGMENT_TI = ((15_000, 30_000), (25_000, 45_000), (40_000, 80_000), (60_000, 120_000))
REGIONS = ("NA East", "NA West", "EMEA North", "EMEA South", "APAC", "LATAM")
# Mean attainment multiplier by segment (order of SEGMENTS) for each flavour of metric.
FLAVOUR = {
    "ent": (0.88, 0.96, 1.05, 1.10),
    "smb": (1.10, 1.02, 0.92, 0.86),
    "flat": (1.0, 1.0, 1.0, 1.0),
}

# id, label, threshold, cap, alignment, flavour, mean, rep_sd, noise_sd, shock loading,
# factor loadings (new business, account management, activity), lumpy quota (0 = smooth)
METRICS: list[tuple[str, str, float, float, dict[str, float], str, float, float, float,
                    float, tuple[float, float, float], float]] = [
    ("enterprise_bookings", "Enterprise bookings", 0.5, 2.0,
     {"enterprise_growth": 1.0, "multi_product": 0.2, "margin": 0.1}, "ent",
     1.0, 0.25, 0.35, 1.2, (0.7, 0.2, 0.1), 0),
    ("smb_bookings", "SMB bookings", 0.5, 2.0,
     {"enterprise_growth": -0.3, "multi_product": 0.1, "retention": 0.1}, "smb",
     1.0, 0.22, 0.30, 1.0, (0.6, 0.1, 0.3), 0),
    ("multi_product_deals", "Multi-product deals", 0.4, 2.5,
     {"enterprise_growth": 0.3, "multi_product": 1.0, "retention": 0.3}, "ent",
     0.95, 0.25, 0.30, 1.0, (0.5, 0.5, 0.0), 3),
    ("renewal_rate", "Renewal rate", 0.7, 1.5,
     {"retention": 1.0, "multi_product": 0.1, "margin": 0.2}, "flat",
     0.97, 0.06, 0.05, 0.5, (0.0, 0.7, 0.0), 0),
    ("new_logos", "New logos", 0.4, 3.0,
     {"enterprise_growth": 0.6, "multi_product": 0.1, "margin": -0.1}, "flat",
     1.0, 0.30, 0.30, 1.3, (0.8, 0.0, 0.2), 2),
    ("pipeline_generated", "Pipeline generated", 0.5, 2.0,
     {"enterprise_growth": 0.4, "multi_product": 0.2, "retention": 0.05}, "flat",
     1.05, 0.20, 0.25, 0.8, (0.5, 0.0, 0.6), 0),
    ("activity_calls", "Activity (calls logged)", 0.6, 1.5,
     {"enterprise_growth": 0.05, "retention": 0.05, "margin": -0.05}, "flat",
     1.05, 0.12, 0.12, 0.3, (0.1, 0.0, 0.8), 0),
    ("gross_margin", "Gross margin", 0.6, 1.8,
     {"margin": 1.0, "enterprise_growth": 0.1, "retention": 0.1}, "flat",
     0.98, 0.10, 0.10, 0.6, (0.2, 0.4, 0.0), 0),
    ("discount_discipline", "Discount discipline", 0.7, 1.5,
     {"margin": 0.7, "enterprise_growth": -0.1, "retention": -0.05}, "flat",
     1.0, 0.08, 0.08, 0.4, (-0.3, 0.3, 0.0), 0),
    ("upsell_revenue", "Upsell revenue", 0.4, 2.5,
     {"multi_product": 0.6, "retention": 0.3, "enterprise_growth": 0.2}, "ent",
     1.0, 0.25, 0.30, 1.0, (0.3, 0.6, 0.0), 0),
    ("cloud_arr", "Cloud ARR", 0.5, 2.5,
     {"enterprise_growth": 0.5, "multi_product": 0.4, "retention": 0.2}, "ent",
     0.97, 0.28, 0.32, 1.1, (0.6, 0.3, 0.0), 0),
    ("license_revenue", "Licence revenue", 0.5, 2.0,
     {"enterprise_growth": 0.1, "multi_product": -0.4, "margin": 0.3}, "flat",
     1.0, 0.20, 0.28, 0.9, (0.5, 0.2, 0.0), 0),
    ("services_attach", "Services attach", 0.4, 2.0,
     {"multi_product": 0.5, "margin": -0.2, "retention": 0.2}, "flat",
     1.0, 0.22, 0.28, 0.7, (0.3, 0.4, 0.0), 4),
    ("net_retention", "Net revenue retention", 0.6, 1.8,
     {"retention": 0.9, "multi_product": 0.3, "enterprise_growth": 0.1}, "ent",
     1.0, 0.08, 0.07, 0.6, (0.1, 0.8, 0.0), 0),
    ("churn_saves", "Churn saves", 0.3, 3.0,
     {"retention": 0.6, "margin": -0.1, "multi_product": 0.05}, "flat",
     1.0, 0.30, 0.30, 0.8, (0.0, 0.6, 0.2), 2),
    ("partner_sourced", "Partner-sourced deals", 0.4, 2.5,
     {"enterprise_growth": 0.3, "margin": -0.2, "multi_product": 0.1}, "flat",
     1.0, 0.28, 0.30, 1.0, (0.5, 0.0, 0.2), 4),
    ("contract_length", "Contract length", 0.6, 1.5,
     {"retention": 0.5, "margin": 0.2, "enterprise_growth": 0.1}, "flat",
     1.0, 0.08, 0.08, 0.3, (0.0, 0.5, 0.0), 0),
    ("forecast_accuracy", "Forecast accuracy", 0.7, 1.5,
     {"margin": 0.1, "retention": 0.1, "enterprise_growth": 0.05}, "flat",
     0.98, 0.06, 0.08, 0.3, (0.0, 0.2, 0.3), 0),
    ("product_adoption", "Product adoption", 0.5, 2.0,
     {"retention": 0.6, "multi_product": 0.4, "margin": 0.05}, "flat",
     1.0, 0.18, 0.20, 0.6, (0.0, 0.7, 0.2), 0),
    ("smb_volume", "SMB deal volume", 0.3, 2.0,
     {"enterprise_growth": -0.5, "margin": 0.2, "multi_product": 0.1}, "smb",
     1.0, 0.25, 0.30, 0.9, (0.5, 0.0, 0.5), 3),
]

COMMON_SHOCK_SD = 0.07          # sd of the common period shock (log scale)
QUARTER_END_PUSH = (-0.05, -0.01, 0.06)  # log effect by month of the quarter
LEAVE_RATE = 0.01               # share of rep-periods with every metric at 0
DECIMALS = 4

# Guardrails, as calibrated with the command line (see the module docstring).
MAX_PAYOUT_MULTIPLE = 4.0
EXPECTED_FACTOR = 1.00          # expected_cap / sum of target incentive
CVAR_LEVEL = 0.9
CVAR_FACTOR = 1.15              # cvar_cap / sum of target incentive
PARITY_TOLERANCE = 0.08
TOP_SHARE, TOP_RATIO = 0.1, 1.65
BOTTOM_SHARE, BOTTOM_FLOOR = 0.2, 0.55


def metric_table(count: int) -> list[tuple]:
    """The first ``count`` metrics; beyond the 20 above they repeat with a suffix."""
    out = []
    for i in range(count):
        base = METRICS[i % len(METRICS)]
        lap = i // len(METRICS)
        if lap == 0:
            out.append(base)
        else:
            out.append((f"{base[0]}_{lap + 1}", f"{base[1]} ({lap + 1})", *base[2:]))
    return out


def generate(reps: int, metrics: int, periods: int,
             seed: int) -> tuple[pd.DataFrame, np.ndarray, list[tuple]]:
    """Draw the reps and ``x[rep, period, metric]`` (already rounded to 4 decimals)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    table = metric_table(metrics)
    segment = rng.choice(len(SEGMENTS), size=reps, p=SEGMENT_SHARE)
    region = rng.integers(0, len(REGIONS), size=reps)
    lo = np.array([s[0] for s in SEGMENT_TI], dtype=float)[segment]
    hi = np.array([s[1] for s in SEGMENT_TI], dtype=float)[segment]
    ti = np.round(rng.uniform(lo, hi) / 100.0) * 100.0
    width = max(6, len(str(reps)))
    frame = pd.DataFrame({
        "rep_id": [f"R{i + 1:0{width}d}" for i in range(reps)],
        "segment": np.array(SEGMENTS, dtype=object)[segment],
        "region": np.array(REGIONS, dtype=object)[region],
        "target_incentive": ti.astype(np.int64),
    })

    month = np.arange(periods) % 3
    common = rng.standard_normal(periods) * COMMON_SHOCK_SD + np.array(QUARTER_END_PUSH)[month]
    skill = rng.standard_normal((reps, 3))                # F_r
    period_factor = rng.standard_normal((reps, periods, 3))  # G_rt
    leave = rng.random((reps, periods)) < LEAVE_RATE

    x = np.empty((reps, periods, metrics))
    for j, (_, _, _, _, _, flavour, mean, rep_sd, noise_sd, shock, load, lumpy) in \
            enumerate(table):
        load_v = np.array(load)
        own = np.sqrt(max(0.0, 1.0 - float(load_v @ load_v)))
        seg_mean = np.array(FLAVOUR[flavour])[segment]                     # (N,)
        rep_effect = rep_sd * (skill @ load_v + own * rng.standard_normal(reps))
        noise = noise_sd * (period_factor @ load_v
                            + own * rng.standard_normal((reps, periods)))
        shock_sd = shock * COMMON_SHOCK_SD
        log_x = (np.log(mean * seg_mean)[:, None]
                 - 0.5 * (rep_sd ** 2 + noise_sd ** 2 + shock_sd ** 2)
                 + rep_effect[:, None] + shock * common[None, :] + noise)
        values = np.exp(log_x)
        if lumpy:
            values = rng.poisson(lumpy * values) / lumpy
        values[leave] = 0.0
        x[:, :, j] = values
    np.round(x, DECIMALS, out=x)
    np.clip(x, 0.0, 999.0, out=x)
    return frame, x, table


def _fixed(strings: list[str] | np.ndarray) -> np.ndarray:
    """Equal-length ASCII strings as a (count, width) uint8 matrix."""
    arr = np.asarray(strings, dtype="S")
    return arr.view(np.uint8).reshape(len(arr), arr.dtype.itemsize)


def write_attainment(path: Path, rep_ids: list[str], periods: list[str], ids: list[str],
                     x: np.ndarray, chunk_rows: int = 200_000) -> None:
    """Write ``x[rep, period, metric]`` as ``rep_id,period,<ids>`` rows, vectorised.

    Each row is laid out in a byte matrix with fixed-width fields; unused leading
    digit positions hold 0 and are dropped with one boolean mask, which leaves
    ``%.4f`` text for every value.
    """
    n_reps, n_periods, n_metrics = x.shape
    rep_b = _fixed(rep_ids)
    per_b = _fixed(periods)
    flat = x.reshape(n_reps * n_periods, n_metrics)
    scale = 10 ** DECIMALS
    int_digits = max(1, len(str(int(flat.max())))) if flat.size else 1
    field = int_digits + 1 + DECIMALS
    w_rep, w_per = rep_b.shape[1], per_b.shape[1]
    width = w_rep + 1 + w_per + n_metrics * (1 + field) + 1
    with path.open("wb") as out:
        out.write((",".join(["rep_id", "period", *ids]) + "\n").encode())
        for start in range(0, flat.shape[0], chunk_rows):
            stop = min(start + chunk_rows, flat.shape[0])
            rows = np.arange(start, stop)
            buf = np.zeros((stop - start, width), dtype=np.uint8)
            buf[:, :w_rep] = rep_b[rows // n_periods]
            buf[:, w_rep] = ord(",")
            buf[:, w_rep + 1:w_rep + 1 + w_per] = per_b[rows % n_periods]
            col = w_rep + 1 + w_per
            scaled = np.rint(flat[start:stop] * scale).astype(np.int64)
            whole, frac = np.divmod(scaled, scale)
            for j in range(n_metrics):
                buf[:, col] = ord(",")
                pos = col + 1
                w_j = whole[:, j]
                for k in range(int_digits - 1, -1, -1):   # most significant first
                    digit = (w_j // 10 ** k) % 10
                    show = (w_j >= 10 ** k) | (k == 0)
                    buf[:, pos] = np.where(show, digit + ord("0"), 0)
                    pos += 1
                buf[:, pos] = ord(".")
                pos += 1
                f_j = frac[:, j]
                for k in range(DECIMALS - 1, -1, -1):
                    buf[:, pos] = (f_j // 10 ** k) % 10 + ord("0")
                    pos += 1
                col = pos
            buf[:, col] = ord("\n")
            out.write(buf[buf != 0].tobytes())


def case_toml(reps: pd.DataFrame, table: list[tuple], *, reps_count: int, periods: int,
              seed: int, montecarlo: int | None) -> str:
    """``case.toml`` with every guardrail on, the money caps set from the data."""
    ti_total = float(reps["target_incentive"].sum())
    expected_cap = round(EXPECTED_FACTOR * ti_total, -2)
    cvar_cap = round(CVAR_FACTOR * ti_total, -2)
    lines = [
        f"# Generated by bench/make_case.py --reps {reps_count} --metrics {len(table)} "
        f"--periods {periods} --seed {seed}"
        + (f" --montecarlo {montecarlo}" if montecarlo else ""),
        "",
        "[case]",
        f'name = "Scale benchmark: {reps_count} reps, {len(table)} metrics, '
        + (f'{montecarlo} Monte Carlo scenarios"' if montecarlo else f'{periods} periods"'),
        'currency = "USD"',
        "",
        "[goals]",
        *(f"{g} = {p}" for g, p in GOALS.items()),
        "",
    ]
    for mid, label, threshold, cap, alignment, *_ in table:
        inline = ", ".join(f"{g} = {a}" for g, a in alignment.items())
        lines += [f"[metrics.{mid}]", f'label = "{label}"', f"threshold = {threshold}",
                  f"cap = {cap}", f"alignment = {{ {inline} }}", ""]
    lines += [
        "[design]",
        "max_metrics = 3",
        "min_weight = 0.1",
        "max_weight = 0.7",
        "accelerator_min = 1.0",
        "accelerator_max = 3.0",
        f"max_payout_multiple = {MAX_PAYOUT_MULTIPLE}",
        "",
        "[budget]",
        f"expected_cap = {expected_cap:.0f}     # {EXPECTED_FACTOR} x sum of target incentive",
        f"cvar_level = {CVAR_LEVEL}",
        f"cvar_cap = {cvar_cap:.0f}         # {CVAR_FACTOR} x sum of target incentive",
        "",
        "[fairness]",
        'group_by = "segment"',
        f"parity_tolerance = {PARITY_TOLERANCE}",
        f"top_share = {TOP_SHARE}",
        f"top_ratio = {TOP_RATIO}",
        f"bottom_share = {BOTTOM_SHARE}",
        f"bottom_floor = {BOTTOM_FLOOR}",
        "",
        "[scenarios]",
    ]
    if montecarlo:
        lines += ['mode = "montecarlo"', f"count = {montecarlo}", "seed = 1"]
    else:
        lines += ['mode = "historical"']
    return "\n".join(lines) + "\n"


def add_response(out: Path, ids: list[str], elasticity: float) -> None:
    """``[response]`` (MODEL.md section 10) against ``base.toml``: the first metrics today."""
    shares = [0.5, 0.3, 0.2][:len(ids)]
    shares[-1] += 1.0 - sum(shares)
    (out / "base.toml").write_text("".join(
        f'[[metrics]]\nid = "{k}"\nweight = {w!r}\naccelerator_rate = {2 * w!r}\n\n'
        for k, w in zip(ids, shares, strict=False)))
    with (out / "case.toml").open("a") as f:
        f.write(f'\n[response]\nbaseline = "base.toml"\nelasticity = {elasticity!r}\n')


def make_case(out: Path, *, reps: int, metrics: int, periods: int, seed: int,
              montecarlo: int | None = None, quiet: bool = False,
              response: float | None = None) -> None:
    """Generate a case folder at ``out`` (created; existing files are overwritten)."""
    started = time.perf_counter()
    frame, x, table = generate(reps, metrics, periods, seed)
    drawn = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "reps.csv", index=False)
    width = max(2, len(str(periods)))
    period_labels = [f"P{t + 1:0{width}d}" for t in range(periods)]
    write_attainment(out / "attainment.csv", frame["rep_id"].tolist(), period_labels,
                     [m[0] for m in table], x)
    (out / "case.toml").write_text(case_toml(frame, table, reps_count=reps, periods=periods,
                                             seed=seed, montecarlo=montecarlo))
    if response is not None:
        add_response(out, [m[0] for m in table], response)
    if not quiet:
        size = (out / "attainment.csv").stat().st_size / 2 ** 20
        print(f"{out}: {reps} reps x {metrics} metrics x {periods} periods"
              + (f", montecarlo {montecarlo}" if montecarlo else "")
              + f"; attainment.csv {size:.1f} MiB; drawn in {drawn - started:.1f}s, "
              f"written in {time.perf_counter() - drawn:.1f}s", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, required=True)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--periods", type=int, default=12)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--montecarlo", type=int, metavar="COUNT",
                        help='[scenarios] mode = "montecarlo" with COUNT scenarios, seed 1')
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--response", type=float, metavar="ELASTICITY",
                        help="add [response] with this elasticity against base.toml")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.metrics < 1 or args.periods < 1:
        parser.error("--reps, --metrics and --periods must be >= 1")
    make_case(args.out, reps=args.reps, metrics=args.metrics, periods=args.periods,
              seed=args.seed, montecarlo=args.montecarlo, quiet=args.quiet,
              response=args.response)


if __name__ == "__main__":
    main()
