"""Format a pulse check for people (pulse.md, terminal lines) and write it to disk atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compplan.models import fmt
from compplan.models.output import write_atomic, write_json


def _money(value: float | None, cur: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}{' ' + cur if cur else ''}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _num(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}g}"


def _show(g: dict[str, Any], value: float | None, cur: str = "") -> str:
    """A guardrail's figure in its unit: money, a percentage, points, a multiple."""
    return "n/a" if value is None else fmt.check(g["name"], value, g["unit"], cur)


def guardrail_lines(doc: dict[str, Any]) -> list[str]:
    """Each guardrail now and projected, in words; the fairness ones also for the year."""
    cur, lines = doc["currency"], []
    for g in doc["guardrails"]:
        now = "met" if g["ok_now"] else "BROKEN"
        then = "met" if g["ok_projected"] else "BROKEN"
        if g["name"] == "budget_expected" and doc.get("year_budget") is not None:
            pace = "a year" if doc["money"] == "per year" else "a period"
            lines.append(f"{g['setting']}: paying {_money(g['now'], cur)} {pace} so far against "
                         f"a cap of {_money(g['limit_now'])} ({now}); year forecast "
                         f"{_money(g['projected'])} against {_money(g['limit'])} ({then})")
            continue
        if "year" in g:
            lines.append(_year_line(g))
            continue
        today = ("no value on the elapsed periods" if g["now"] is None else
                 f"{_show(g, g['now'])} (limit {_show(g, g['limit_now'])}, {now})")
        lines.append(f"{g['setting']}: now {today}; projected {_show(g, g['projected'])} "
                     f"(limit {_show(g, g['limit'])}, {then})")
    return lines


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "BROKEN"


def _year_line(g: dict[str, Any]) -> str:
    """A fairness guardrail so far, for the year (plan and re-tune) and in words."""
    tuned = ("" if g["year_retune"] is None else
             f", {_show(g, g['year_retune'])} with the re-tune ({_met(g['ok_year_retune'])})")
    so_far = ("no value on the elapsed periods" if g["so_far"] is None else
              f"{_show(g, g['so_far'])} ({_met(g['ok_so_far'])})")
    return (f"{g['setting']} (limit {_show(g, g['limit'])}): so far {so_far}; the year "
            f"{_show(g, g['year'])} with the plan unchanged ({_met(g['ok_year'])}){tuned}; "
            f"the plan's design {_show(g, g['projected'])} ({_met(g['ok_projected'])}): "
            f"{g['verdict']}")


def headline(doc: dict[str, Any]) -> list[str]:
    """The figures a finance lead reads first, one sentence each."""
    cur, money = doc["currency"], doc["money"]
    k, n = doc["periods_elapsed"], doc["periods_in_year"]
    paid, expected = doc["paid_to_date"], doc["expected_to_date"]
    ratio = paid / expected - 1.0 if expected else 0.0
    band = doc["forecast_band"]
    lines = [
        f"Paid to date ({k} of {n} periods): {_money(paid, cur)} against "
        f"{_money(expected, cur)} expected ({ratio:+.1%}); the average elapsed period paid "
        f"at least as much as {doc['paid_percentile']:.0f} % of the plan's own scenarios"
        + (f" ({doc['paid_shift']:+.2f} spreads from their mean)."
           if doc.get("paid_shift") is not None else "."),
        f"Forecast for the year with the plan unchanged: {_money(doc['forecast_year_total'], cur)}"
        f" (P10 {_money(band['p10'])}, P90 {_money(band['p90'])})"
        + (f" against a budget of {_money(doc['year_budget'], cur)}."
           if doc.get("year_budget") is not None else "."),
    ]
    cap = doc["remaining_cap_per_period"]
    if cap is not None:
        rate = " (as a yearly rate)" if money == "per year" else ""
        lines.append(f"Expected payout allowed for the remaining {n - k} period(s): at most "
                     f"{_money(cap, cur)} {money}{rate}.")
    return lines


def retune_rows(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, plan in force, re-tune) rows for a side-by-side table."""
    rt = doc["retune"]
    if rt is None:
        return []
    cur = doc["currency"]
    rows = []
    for m in rt["metrics"]:
        rows.append((f"{m['label']} weight", f"{m['weight_before']:.1%}", f"{m['weight']:.1%}"))
        rows.append((f"{m['label']} accelerator rate", f"{m['accelerator_rate_before']:.3f}",
                     f"{m['accelerator_rate']:.3f}"))
    rows.append(("expected alignment", f"{rt['alignment_before']:.4f}", f"{rt['alignment']:.4f}"))
    rows.append((f"expected payout {doc['money']}", _money(rt["expected_cost_before"], cur),
                 _money(rt["expected_cost"], cur)))
    return rows


def guardrail_cells(doc: dict[str, Any]) -> list[list[str]]:
    """Each guardrail as cells of a row.

    Setting, now, limit now, projected, limit, met now, met projected; then, for the
    fairness guardrails, the year under the plan and under the re-tune, and the verdict
    in words (MODEL.md section 8).
    """
    rows = []
    for g in doc["guardrails"]:
        rows.append([g["setting"], _show(g, g["now"]), _show(g, g["limit_now"]),
                     _show(g, g["projected"]), _show(g, g["limit"]),
                     "" if g["now"] is None else "yes" if g["ok_now"] else "NO",
                     "yes" if g["ok_projected"] else "NO",
                     _show(g, g["year"]) if "year" in g else "",
                     _show(g, g["year_retune"]) if g.get("year_retune") is not None else "",
                     g.get("verdict", "")])
    return rows


def drift_cells(doc: dict[str, Any]) -> list[list[str]]:
    """Each metric's drift, one row of cells.

    Id, in plan, mean, history, shift, shares past threshold, target and cap (history in
    brackets), reps pinned at the cap and below threshold, calibration.
    """
    rows = []
    for m in doc["drift"]["metrics"]:
        cal = m.get("calibration")
        note = "" if cal is None else ("ok" if cal["ok"] else "; ".join(cal["notes"]))
        share, hist = m["share_past"], m["history_share_past"]
        rows.append([m["id"], "yes" if m["in_plan"] else "", _num(m["mean"]),
                     _num(m["history_mean"]), _num(m["shift"], 3),
                     *(f"{_pct(share[p])} ({_pct(hist[p])})" for p in ("threshold", "target",
                                                                       "cap")),
                     str(m["reps_pinned_at_cap"]), str(m["reps_below_threshold"]), note])
    return rows


def segment_cells(doc: dict[str, Any]) -> list[list[str]]:
    """Each segment, one row of cells (none when the case has no segment column).

    Name, reps, paid to date, expected, paid / expected, each plan metric's shift.
    """
    seg = doc["drift"]["segments"]
    if not seg:
        return []
    cur, plan_ids = doc["currency"], [m["id"] for m in doc["plan"]]
    return [[g["segment"], str(g["reps"]), _money(g["paid_to_date"], cur),
             _money(g["expected_to_date"], cur), _pct(g["ratio"]),
             *(_num(g["shift"][k], 3) for k in plan_ids)] for g in seg["groups"]]


def pulse_markdown(doc: dict[str, Any]) -> str:
    """The pulse check for a person: pace, forecast, guardrails, re-tune, drift."""
    lines = [f"# Pulse check of {doc['case']}", ""]
    lines += [f"- {line}" for line in headline(doc)]
    lines += ["", "## Guardrails now and projected", "",
              "| guardrail | now | limit now | projected | limit | met now | met projected | "
              "the year, plan unchanged | the year, re-tuned | the year |",
              "|---|---:|---:|---:|---:|:-:|:-:|---:|---:|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in guardrail_cells(doc)]
    if not doc["guardrails"]:
        lines.append("| (the case sets no guardrail) | | | | | | | | | |")
    lines += ["", "The budget row compares the pace so far (paid per period) with "
              "[budget] expected_cap, and the forecast with the year's budget. For the "
              "fairness guardrails, the year is the elapsed periods as paid plus the "
              "remaining ones as the case's scenarios expect, under the plan unchanged and "
              "under the re-tune (MODEL.md section 8).", "",
              "## Re-tune", ""]
    rt = doc["retune"]
    if rt is None:
        lines.append(doc.get("retune_note") or "No re-tune.")
    else:
        if rt["unchanged"]:
            lines.append("The plan in force already meets every guardrail for the rest of "
                         "the year: nothing changes.")
        else:
            lines.append(f"The least change that keeps the year inside the cap: "
                         f"{rt['change']:.4f} (sum of absolute changes of weights and "
                         "accelerator rates).")
        lines += ["", "| | plan in force | re-tune |", "|---|---:|---:|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in retune_rows(doc)]
    lines += ["", "## Drift against the case's history", "",
              "| metric | in plan | mean | history | shift (spreads) | past threshold | "
              "past target | past cap | pinned at cap | below threshold | calibration |",
              "|---|:-:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in drift_cells(doc)]
    lines += ["", "Shares are of rep-periods, actual (history in brackets). Pinned: reps at "
              "the cap, or below threshold, in every elapsed period. Calibration: common "
              "practice is about 90 % reaching threshold, 60-70 % target, 10 % excellence "
              "(here the cap)."]
    seg = doc["drift"]["segments"]
    if seg:
        plan_ids = [m["id"] for m in doc["plan"]]
        lines += ["", f"### By {seg['column']}", "",
                  "| segment | reps | paid to date | expected | paid / expected | "
                  + " | ".join(f"{k} shift" for k in plan_ids) + " |",
                  "|---|---:|---:|---:|---:|" + "---:|" * len(plan_ids)]
        lines += ["| " + " | ".join(row) + " |" for row in segment_cells(doc)]
    return "\n".join(lines) + "\n"


def write_pulse(out: Path, doc: dict[str, Any]) -> list[Path]:
    """Write ``pulse.json`` and ``pulse.md`` (each to a temporary name, then renamed).

    Returns
    -------
    list of Path
        The files written.
    """
    written = [out / "pulse.json", out / "pulse.md"]
    write_json(written[0], doc)
    write_atomic(written[1], pulse_markdown(doc))
    return written


# --------------------------------------------------------------------------- organisations

def org_headline(doc: dict[str, Any]) -> list[str]:
    """The organisation's figures, one sentence each (``org_pulse.json``)."""
    cur = doc["currency"]
    k, n = doc["periods_elapsed"], doc["periods_in_year"]
    paid, expected = doc["paid_to_date"], doc["expected_to_date"]
    ratio = paid / expected - 1.0 if expected else 0.0
    band = doc["forecast_band"]
    lines = [
        f"Paid to date by all roles ({k} of {n} periods): {_money(paid, cur)} against "
        f"{_money(expected, cur)} expected ({ratio:+.1%}).",
        f"Forecast for the year with the plans unchanged: "
        f"{_money(doc['forecast_year_total'], cur)} (P10 {_money(band['p10'])}, "
        f"P90 {_money(band['p90'])})"
        + (f" against the organisation's budget of {_money(doc['year_budget'], cur)}."
           if doc.get("year_budget") is not None else "."),
    ]
    cap = doc["remaining_cap_per_period"]
    if cap is not None:
        rate = " (as a yearly rate)" if doc["money"] == "per year" else ""
        lines.append(f"Expected payout of all roles allowed for the remaining {n - k} "
                     f"period(s): at most {_money(cap, cur)} {doc['money']}{rate}.")
    return lines


def org_role_rows(doc: dict[str, Any]) -> list[list[str]]:
    """Per role: id, paid to date, expected to date, forecast, remaining cap, re-tune change."""
    rows = []
    for r in doc["roles"]:
        rt = r.get("retune")
        rows.append([r["role"], _money(r["paid_to_date"]), _money(r["expected_to_date"]),
                     _money(r["forecast_year_total"]), _money(r["remaining_cap_per_period"]),
                     "n/a" if rt is None else f"{rt['change']:.4f}"])
    return rows


def org_retune_rows(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, plans in force, joint re-tune) rows, role by role, then the organisation."""
    rt = doc["retune"]
    if rt is None:
        return []
    rows = []
    for role in doc["roles"]:
        for what, before, after in retune_rows(role):
            rows.append((f"{role['role']}: {what}", before, after))
    rows.append(("organisation: expected alignment", f"{rt['alignment_before']:.4f}",
                 f"{rt['alignment']:.4f}"))
    rows.append((f"organisation: expected payout {doc['money']}",
                 _money(rt["expected_cost_before"], doc["currency"]),
                 _money(rt["expected_cost"], doc["currency"])))
    return rows


def org_pulse_markdown(doc: dict[str, Any]) -> str:
    """The organisation's pulse check for a person: totals, roles, the joint re-tune."""
    lines = [f"# Pulse check of {doc['org']}", ""]
    lines += [f"- {line}" for line in org_headline(doc)]
    lines += ["", "## Roles", "",
              f"| role | paid to date | expected to date | forecast of the year | "
              f"remaining cap {doc['money']} | re-tune change |",
              "|---|---:|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(row) + " |" for row in org_role_rows(doc)]
    lines += ["", "Each role's own figures, guardrails and drift: `<role>/pulse.md`.", "",
              "## Joint re-tune", ""]
    rt = doc["retune"]
    if rt is None:
        lines.append(doc.get("retune_note") or "No re-tune.")
    else:
        lines.append("The plans in force already meet every rule for the rest of the year: "
                     "nothing changes." if rt["unchanged"] else
                     f"The least total change over all roles that keeps the year inside "
                     f"every cap and rule: {rt['change']:.4f}.")
        lines += ["", "| | plans in force | joint re-tune |", "|---|---:|---:|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in org_retune_rows(doc)]
    return "\n".join(lines) + "\n"


def write_org_pulse(out: Path, doc: dict[str, Any]) -> list[Path]:
    """Write ``org_pulse.json``, ``org_pulse.md`` and every role's ``<role>/pulse.*``.

    Returns
    -------
    list of Path
        The files written.
    """
    written = [out / "org_pulse.json", out / "org_pulse.md"]
    write_json(written[0], doc)
    write_atomic(written[1], org_pulse_markdown(doc))
    for role in doc["roles"]:
        folder = out / role["role"]
        folder.mkdir(parents=True, exist_ok=True)
        written += write_pulse(folder, role)
    return written
