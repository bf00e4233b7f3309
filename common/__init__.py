"""compplan: design sales compensation plans that pay for the strategy.

The public API (:mod:`compplan.api`) is re-exported here: ``compplan.load_case``,
``compplan.optimise``, ``compplan.evaluate``, ``compplan.min_budget``, ``compplan.audit``,
``compplan.explain``, ``compplan.sweep``, ``compplan.batch``, ``compplan.pulse``,
``compplan.Case`` (a case, also from DataFrames: ``compplan.Case.from_frames``),
``compplan.Result`` and ``compplan.Status``; for organisations ``compplan.load_org``,
``compplan.optimise_org``, ``compplan.min_budget_org``, ``compplan.evaluate_org``,
``compplan.audit_org`` and ``compplan.sweep_org``. They are loaded on first use, so
that ``import compplan`` (and ``compplan --version``) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_API = frozenset({"Case", "Result", "Status", "audit", "batch", "evaluate", "explain", "load_case",
                  "min_budget", "optimise", "sweep", "load_org", "optimise_org",
                  "min_budget_org", "evaluate_org", "audit_org", "sweep_org", "pulse",
                  "PulseCheck", "OrgResult", "report", "Report", "export", "Workbook",
                  "validate", "Validation",
                  "compare", "Comparison",
                  "audit_report", "AuditReport",
                  "evaluation_report", "EvaluationReport", "OrgRun"})

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    """Load the version and the API on first use (PEP 562)."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("compplan")
        except PackageNotFoundError:  # a source tree that was never installed
            found = "0+unknown"
        globals()["__version__"] = found
        return found
    if name in _API:
        return getattr(import_module("compplan.api"), name)
    if name in ("api", "errors"):  # compplan.errors.InfeasibleError without an import
        return import_module(f"compplan.{name}")
    raise AttributeError(f"module 'compplan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
