"""What the studio writes: a plan file, the HTML report and the workbook of a candidate.

Each is written as the command line writes it, through the same writers: the plan
file is ``compplan evaluate --write-plan``'s (byte for byte), the report is
``compplan report CASE PLAN``'s and the workbook ``compplan export CASE PLAN
--xlsx``'s, for the candidate's plan under the case as written (its own limits).
Every file is checked first (its extension, never a file of the case folder or
the plan file the studio read) and written whole through a temporary file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from compplan.errors import UsageError
from compplan.models.case import CURRENT_PLAN
from compplan.models.output import write_atomic
from compplan.models.plan import Plan
from compplan.models.transaction import check_output_file

if TYPE_CHECKING:
    from compplan.studio.session import Session

#: Export kinds and the extensions of their files.
KINDS = {"report": (".html", ".htm"), "workbook": (".xlsx",)}


def _target(session: Session, path: Any, suffixes: tuple[str, ...]) -> Path:
    if not isinstance(path, str) or not path.strip():
        raise UsageError(f"name the file to write (ending in {' or '.join(suffixes)})")
    out = check_output_file(path.strip(), suffixes=suffixes, inputs=session.inputs)
    assert out is not None  # standard output is refused
    return out


def _written(out: Path, content: str | bytes) -> Path:
    try:
        write_atomic(out, content)
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
    return out


def save_plan(session: Session, plan: Plan, path: Any) -> Path:
    """Write the plan as a TOML plan file, as ``compplan evaluate --write-plan`` does.

    Parameters
    ----------
    session : Session
        The studio's case and inputs.
    plan : Plan
        The candidate's plan.
    path : str
        The file (``.toml``), relative to the folder the studio was started in.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    UsageError
        No name, a wrong extension, an input of the studio, or a folder that
        cannot be written.
    """
    out = _target(session, path, (".toml",))
    return _written(out, plan.to_toml(session.case))


def export(session: Session, plan: Plan, name: str, kind: Any, path: Any) -> Path:
    """Write the candidate's report (HTML) or workbook (XLSX), as the command line does.

    The alignment's share of the best plan is ``session.best`` (the studio designs the
    case's optimised plan first: no solve runs in the studio's own process).

    Parameters
    ----------
    session : Session
        The studio's case and coefficients.
    plan : Plan
        The candidate's plan.
    name : str
        How the report names the plan.
    kind : {"report", "workbook"}
        What to write.
    path : str
        The file, relative to the folder the studio was started in.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    UsageError
        An unknown kind or a file that cannot be written.
    """
    if kind not in KINDS:
        raise UsageError(f"kind must be {' or '.join(repr(k) for k in KINDS)}, got {kind!r}")
    out = _target(session, path, KINDS[kind])
    from compplan.optimizer.understand import readings
    from compplan.render.report import outcome

    case, coeffs = session.case, session.coeffs
    results = [outcome(case, coeffs, plan, name, revenue=session.revenue)]
    today = session.plans.get(CURRENT_PLAN)
    if today is not None and name != CURRENT_PLAN:
        results.append(outcome(case, coeffs, today, CURRENT_PLAN, revenue=session.revenue))
    found = {o.name: readings(case, coeffs, o.plan, o.evaluation.alignment, session.best)
             for o in results}
    reference = results[1] if len(results) > 1 else None
    if kind == "report":
        from compplan.render.explain import explanation_with_case
        from compplan.render.report import ReportInput, render_report

        html = render_report(ReportInput(
            case, results[:1], name, reference=reference,
            document=explanation_with_case(case, plan, name, coeffs), readings=found))
        return _written(out, html)
    from compplan.render.workbook import build_workbook, workbook_bytes

    book = build_workbook(case, results[0], source=name, readings=found[name], coeffs=coeffs,
                          current=reference)
    return _written(out, workbook_bytes(book))
