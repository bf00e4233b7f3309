"""Tiny organisations for the tests: two roles, two metrics each, two reps, two periods.

Shared set-up (worked out by hand in the tests): theta 0.5, cap 2.0, step 0.5 and the
accelerator multiple fixed at 1 (``accelerator_min = accelerator_max = 1``), so a
metric's accelerator rate is ``u = w / (1 - theta) = 2 w``. Attainment 1.5 on a metric
in every period: ``phi = 1`` (the base part is saturated, a step adds nothing there)
and ``psi = 0.5``; a step of 0.5 adds 0.5 to ``psi``. So a metric of weight ``w``
pays ``w + 0.5 * 2w = 2w`` of target incentive and adds ``U = 0.5 * 2w = w`` of it per
step: a role's alignment is ``sum_m a_m w_m``, its expected cost ``TI_p sum_m 2 w_m``.
A metric at attainment 1.0 pays ``w`` (``psi = 0``) and a step adds ``0.5 * u = w``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import write_case

TI = 1000.0


def metric(alignment: dict[str, float], **extra: Any) -> dict[str, Any]:
    """A candidate metric of the shared set-up."""
    return {"threshold": 0.5, "cap": 2.0, "step": 0.5, "alignment": alignment, **extra}


def role_case(folder: Path, name: str, metrics: dict[str, dict[str, Any]],
              attainment: dict[str, float], design: dict[str, Any] | None = None,
              extra: dict[str, dict[str, Any]] | None = None) -> Path:
    """A role's case folder: two reps, two periods, each metric at a fixed attainment."""
    reps = [{"rep_id": f"{name}{i}", "target_incentive": TI} for i in (1, 2)]
    tables: dict[str, dict[str, Any]] = {"case": {"name": name}}
    tables.update({f"metrics.{k}": v for k, v in metrics.items()})
    tables["design"] = {"accelerator_min": 1.0, "accelerator_max": 1.0, **(design or {})}
    tables.update(extra or {})
    # No [goals]: a role's goals are the organisation's.
    return write_case(folder, tables, reps,
                      {k: [[x, x], [x, x]] for k, x in attainment.items()})


def toml_value(value: Any) -> str:
    """A value as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def write_org(folder: Path, goals: dict[str, float], roles: dict[str, dict[str, Any]],
              budget: dict[str, Any] | None = None,
              coherence: dict[str, Any] | None = None) -> Path:
    """Write org.toml; ``roles`` maps a role id to its ``[roles.<id>]`` keys."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["[org]", 'name = "Tiny org"', "", "[goals]"]
    lines += [f"{g} = {p!r}" for g, p in goals.items()]
    for rid, keys in roles.items():
        lines += ["", f"[roles.{rid}]"] + [f"{k} = {toml_value(v)}" for k, v in keys.items()]
    for header, table in (("budget", budget), ("coherence", coherence)):
        if table:
            lines += ["", f"[{header}]"] + [f"{k} = {toml_value(v)}" for k, v in table.items()]
    (folder / "org.toml").write_text("\n".join(lines) + "\n")
    return folder
