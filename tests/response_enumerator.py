"""An independent enumerator of MODEL.md section 10's grid optimum (numpy only).

Written from the spec text alone; it does not import compplan's optimiser. Used by
tests/test_response_enumerated.py and bench/response_enumerated.py.
"""
from __future__ import annotations

import itertools
import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

STEP = 0.05


def _curve(points, x):
    pts = [(float(a), float(b)) for a, b in points]
    out = np.zeros_like(x, dtype=float)
    for i, (xa, ya) in enumerate(pts):
        if i + 1 < len(pts):
            xb, yb = pts[i + 1]
            if xb > xa:
                sel = (x >= xa) & (x < xb)
                out[sel] = ya + (yb - ya) * (x[sel] - xa) / (xb - xa)
        else:
            out[x >= xa] = ya
    return out


def _canon(w, u, th, ka, x):
    phi = np.minimum(np.maximum(x - th, 0.0), 1 - th) / (1 - th)
    psi = np.minimum(np.maximum(x - 1, 0.0), ka - 1)
    return w * phi + u * psi


def load(folder):
    folder = Path(folder)
    case = tomllib.loads((folder / "case.toml").read_text())
    reps = pd.read_csv(folder / "reps.csv", dtype={"rep_id": str}).set_index("rep_id")
    att = pd.read_csv(folder / "attainment.csv", dtype={"rep_id": str, "period": str})
    mids = list(case["metrics"])
    periods = sorted(att["period"].unique())
    rid = list(reps.index)
    R, S = len(rid), len(periods)
    X = np.zeros((len(mids), R, S))
    Opres = np.zeros((R, S))
    ri = {r: i for i, r in enumerate(rid)}
    si = {p: i for i, p in enumerate(periods)}
    for row in att.itertuples(index=False):
        d = row._asdict()
        i, s = ri[d["rep_id"]], si[d["period"]]
        Opres[i, s] = 1
        for k, m in enumerate(mids):
            X[k, i, s] = d[m]
    Q = None
    if (folder / "quotas.csv").exists():
        q = pd.read_csv(folder / "quotas.csv", dtype={"rep_id": str}).set_index("rep_id")
        Q = np.array([[q.loc[r, m] for r in rid] for m in mids], dtype=float)
    return dict(case=case, reps=reps, X=X, present=Opres, mids=mids,
                TI=reps["target_incentive"].to_numpy(float), Q=Q, folder=folder)


def enumerate_best(folder):
    d = load(folder)
    case, X, Opres, TI, mids = d["case"], d["X"], d["present"], d["TI"], d["mids"]
    M, R, S = X.shape
    des = case.get("design", {})
    resp = case["response"]
    goals = case["goals"]
    gsum = sum(goals.values())
    W = Opres * TI[:, None]
    wsum = W.sum()
    meta = []
    for k, m in enumerate(mids):
        mc = case["metrics"][m]
        xs = X[k][Opres > 0]
        delta = mc.get("step", float(np.std(xs)))
        a = sum(goals[g] / gsum * v for g, v in mc["alignment"].items())
        meta.append(dict(id=m, th=mc["threshold"], ka=mc["cap"], delta=delta, a=a,
                         rho=mc.get("responsiveness", 1.0),
                         eps=mc.get("elasticity", resp.get("elasticity", 0.0)),
                         lo=mc.get("min_weight", des.get("min_weight", 0.0)),
                         hi=mc.get("max_weight", des.get("max_weight", 1.0)),
                         req=mc.get("required", False), forb=mc.get("forbidden", False),
                         value=mc.get("value")))
    amin, amax = des.get("accelerator_min", 1.0), des.get("accelerator_max", 3.0)
    c = resp.get("max_change", 0.5)

    def U_of(k, fn):
        x = X[k]
        return float((W * (fn(x + meta[k]["delta"]) - fn(x))).sum() / wsum)

    base = tomllib.loads((d["folder"] / resp["baseline"]).read_text())["metrics"]
    U0 = np.zeros(M)
    bfuncs = {}
    for e in base:
        k = mids.index(e["id"])
        if "curve" in e:
            f = (lambda pts: (lambda x: _curve(pts, x)))(e["curve"])
        else:
            f = (lambda w, u, th, ka: (lambda x: _canon(w, u, th, ka, x)))(
                e["weight"], e["accelerator_rate"], e.get("threshold", meta[k]["th"]),
                e.get("cap", meta[k]["ka"]))
        g = None
        if "gate" in e:
            g = (mids.index(e["gate"]["metric"]), e["gate"]["at"])
        bfuncs[k] = (f, g)
        gm = np.ones((R, S)) if g is None else (X[g[0]] >= g[1]).astype(float)
        x = X[k]
        U0[k] = float((W * gm * (f(x + meta[k]["delta"]) - f(x))).sum() / wsum)
    pos = U0[U0 > 0]
    Rm = np.where(U0 > 0, U0, pos.mean())
    S_ = S

    # baseline static expected cost
    Pb = np.zeros((R, S))
    for k, (f, g) in bfuncs.items():
        gm = np.ones((R, S)) if g is None else (X[g[0]] >= g[1]).astype(float)
        Pb += gm * f(X[k])
    base_static = float((W * Pb).sum() / S_)

    def lam(k, U):
        return min(max(1 + meta[k]["eps"] * (U - U0[k]) / Rm[k], 1 - c), 1 + c)

    # options per metric: (w, u, U, lambda, contribution under response, static contribution)
    opts = []
    tol = 1e-9
    for k, mt in enumerate(meta):
        o = []
        for i in range(1, 21):
            w = i * STEP
            if w < mt["lo"] * (1 - tol) or w > mt["hi"] * (1 + tol):
                continue
            ulo, uhi = amin * w / (1 - mt["th"]), amax * w / (1 - mt["th"])
            for j in range(0, math.floor(uhi / STEP + 1e-6) + 2):
                u = j * STEP
                if u < ulo * (1 - tol) or u > uhi * (1 + tol):
                    continue
                def fn(x, w=w, u=u, mt=mt):
                    return _canon(w, u, mt["th"], mt["ka"], x)
                U = U_of(k, fn)
                lm = lam(k, U)
                o.append((w, u, U, lm, fn(lm * X[k]) * Opres, fn(X[k]) * Opres))
        opts.append(o)
    lam_off = [lam(k, 0.0) for k in range(M)]

    bud = case.get("budget", {})
    fair = case.get("fairness", {})
    Pi = des.get("max_payout_multiple")
    mm = des.get("max_metrics", 3)
    groups = None
    if "parity_tolerance" in fair:
        col = d["reps"][fair["group_by"]].astype(str).to_numpy()
        groups = [col == h for h in sorted(set(col))]

    def feasible(Pshare):  # Pshare: R x S payout / TI under response
        P = Pshare * TI[:, None]
        T = P.sum(axis=0)
        ec = float(T.mean())
        if "expected_cap" in bud and ec > bud["expected_cap"] * (1 + 1e-9):
            return None
        if "cvar_cap" in bud:
            beta = bud["cvar_level"]
            cv = min(e + (np.maximum(T - e, 0).sum()) / ((1 - beta) * S) for e in T)
            if cv > bud["cvar_cap"] * (1 + 1e-9):
                return None
        if groups is not None:
            tot = float(P.sum() / wsum)
            for h in groups:
                gv = float(P[h].sum() / W[h].sum())
                if abs(gv - tot) > fair["parity_tolerance"] + 1e-9:
                    return None
        e_r = Pshare.sum(axis=1) / Opres.sum(axis=1)
        N = R
        if "top_share" in fair:
            q = fair["top_share"]
            t = min(et + np.maximum(e_r - et, 0).sum() / (q * N) for et in e_r)
            if t > fair["top_ratio"] * e_r.mean() + 1e-9 * max(1, abs(t)):
                return None
        if "bottom_share" in fair:
            q = fair["bottom_share"]
            b = max(et - np.maximum(et - e_r, 0).sum() / (q * N) for et in e_r)
            if b < fair["bottom_floor"] - 1e-9 * max(1, abs(b)):
                return None
        return ec

    req = [k for k in range(M) if meta[k]["req"]]
    cands = []  # (alignment, cost, plan)
    for n in range(1, mm + 1):
        for sub in itertools.combinations(range(M), n):
            if any(meta[k]["forb"] for k in sub) or any(k not in sub for k in req):
                continue
            lists = [opts[k] for k in sub]
            for combo in itertools.product(*lists):
                if abs(sum(o[0] for o in combo) - 1) > 1e-9:
                    continue
                multiple = sum(o[0] + o[1] * (meta[k]["ka"] - 1)
                               for k, o in zip(sub, combo, strict=True))
                if Pi is not None and multiple > Pi * (1 + 1e-9):
                    continue
                Psh = sum(o[4] for o in combo)
                ec = feasible(Psh)
                if ec is None:
                    continue
                al = sum(meta[k]["a"] * meta[k]["rho"] * o[2]
                         for k, o in zip(sub, combo, strict=True))
                cands.append((al, ec, sub, combo))
    if not cands:
        return None
    astar = max(x[0] for x in cands)
    near = [x for x in cands if x[0] >= astar - 1e-7 * max(1, abs(astar))]
    best = min(near, key=lambda x: x[1])
    al, ec, sub, combo = best
    lams = {meta[k]["id"]: lam_off[k] for k in range(M)}
    for k, o in zip(sub, combo, strict=True):
        lams[meta[k]["id"]] = o[3]
    static = float((sum(o[5] for o in combo) * TI[:, None]).sum() / S)
    N = case["case"].get("periods_per_year", 1)
    net = None
    if any(mt["value"] is not None for mt in meta):
        vol = 0.0
        for k, mt in enumerate(meta):
            if mt["value"] is None:
                continue
            per = (d["Q"][k][:, None] * X[k] * Opres).sum(axis=1) / Opres.sum(axis=1)
            vol += mt["value"] * (lams[mt["id"]] - 1) * per.sum()
        net = N * vol - (ec - base_static)
    plan = {meta[k]["id"]: (o[0], o[1]) for k, o in zip(sub, combo, strict=True)}
    return dict(alignment=al, expected_cost=ec, multipliers=lams, static_cost=static,
                net_value=net, plan=plan, n_plans=len(cands))
