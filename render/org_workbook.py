"""An organisation's plans as a workbook: an Organisation sheet and a sheet per role (s. 7).

Organisation holds a row per role (share of target incentive, alignment, expected
payout) and a total row whose figures are formulas of the rows above (the
organisation's alignment is the share-weighted sum of the roles'); Org scenarios holds
each role's total payout per scenario and the organisation's by formula; Org rules
and Conflict map hold compplan's checks and the goal x role map. Each role's sheet
holds its plan and its guardrails. The cells go through the plan workbook's writers
(:mod:`compplan.render.workbook`): text neutralised, numbers formatted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from compplan import __version__
from compplan.models.money import money_per
from compplan.models.org import Org
from compplan.optimizer.org_evaluate import OrgEvaluation, RoleEvaluation
from compplan.render.workbook import (
    MONEY,
    MULTIPLE,
    NUMBER,
    SHARE,
    UNIT_FORMAT,
    Column,
    Formula,
    _cell,
    _header,
    _print_setup,
    _sheet,
)

#: Excel's longest sheet name.
SHEET_NAME = 31
_RESERVED = {"Organisation", "Org scenarios", "Org rules", "Conflict map", "About"}


def role_sheet_names(ids: Sequence[str]) -> dict[str, str]:
    """A distinct sheet name per role id (ids are letters, digits, '_' and '-')."""
    names: dict[str, str] = {}
    for rid in ids:
        name = rid[:SHEET_NAME]
        n = 2
        while name in _RESERVED or name in names.values():
            suffix = f" ({n})"
            name = rid[:SHEET_NAME - len(suffix)] + suffix
            n += 1
        names[rid] = name
    return names


def _organisation_sheet(book: Workbook, org: Org, result: OrgEvaluation,
                        today: OrgEvaluation | None) -> None:
    columns = [Column("role", width=14), Column("label", width=30),
               Column("share of target incentive", SHARE), Column("alignment", NUMBER),
               Column(f"expected payout ({org.currency} {money_per(org.roles[0].case)})",
                      MONEY, 22),
               Column("share of payout", SHARE), Column("guardrails", width=12),
               Column("metrics", width=50)]
    if today is not None:
        columns += [Column(f"{today.name}: alignment", NUMBER),
                    Column(f"{today.name}: expected payout", MONEY, 22)]
    n = len(result.roles)
    last = n + 1
    rows: list[list[Any]] = []
    for i, role in enumerate(result.roles, start=2):
        row: list[Any] = [role.id, role.label, role.share, role.evaluation.alignment,
                          role.evaluation.expected_cost, Formula(f"=E{i}/E{last + 1}"),
                          "ok" if role.to_dict()["guardrails_ok"] else "broken",
                          ", ".join(f"{m.id} {m.weight:.0%}" for m in role.plan.metrics)]
        if today is not None:
            match = today.roles[i - 2]
            row += [match.evaluation.alignment, match.evaluation.expected_cost]
        rows.append(row)
    total: list[Any] = ["organisation", result.name, Formula(f"=SUM(C2:C{last})"),
                        Formula(f"=SUMPRODUCT(C2:C{last},D2:D{last})"),
                        Formula(f"=SUM(E2:E{last})"), Formula(f"=SUM(F2:F{last})"),
                        "ok" if result.ok else "broken",
                        f"{len(result.audit.conflicts)} conflicts"]
    if today is not None:
        total += [Formula(f"=SUMPRODUCT(C2:C{last},I2:I{last})"),
                  Formula(f"=SUM(J2:J{last})")]
    rows.append(total)
    _sheet(book, "Organisation", columns, rows)


def _scenarios_sheet(book: Workbook, org: Org, result: OrgEvaluation) -> None:
    ids = [r.id for r in result.roles]
    columns = [Column("scenario", width=14), *(Column(f"{rid} total payout", MONEY, 18)
                                               for rid in ids),
               Column("organisation total", MONEY, 20)]
    end = get_column_letter(len(ids) + 1)
    rows = [[label, *(float(r.totals[s]) for r in result.roles),
             Formula(f"=SUM(B{s + 2}:{end}{s + 2})")]
            for s, label in enumerate(result.labels)]
    last = len(rows) + 1
    rows.append(["expected", *(Formula(f"=AVERAGE({get_column_letter(j + 2)}2:"
                                       f"{get_column_letter(j + 2)}{last})")
                               for j in range(len(ids) + 1))])
    _sheet(book, "Org scenarios", columns, rows)


def _rules_sheet(book: Workbook, result: OrgEvaluation) -> None:
    columns = [Column("rule", width=8), Column("setting", width=44), Column("value", MONEY),
               Column("limit", MONEY), Column("ok", width=8), Column("detail", width=70)]
    rows = [[c["rule"], c["setting"], c["value"], c["limit"], "ok" if c["ok"] else "broken",
             c["detail"]] for c in result.checks]
    rows.append(["", f"CVaR {result.cvar_level:.0%} of the organisation total", result.cvar,
                 None, "", "the mean of the worst scenarios of the total of all roles"])
    _sheet(book, "Org rules", columns, rows)


def _conflict_sheet(book: Workbook, result: OrgEvaluation) -> None:
    audit = result.audit
    columns = [Column("goal", width=20), Column("priority", NUMBER)]
    for rid in audit.roles:
        columns += [Column(f"{rid}: direction", width=12), Column(f"{rid}: for", SHARE),
                    Column(f"{rid}: against", SHARE)]
    columns.append(Column("net", SHARE))
    rows = []
    for goal in audit.goals:
        row: list[Any] = [goal.goal, goal.priority]
        for cell in goal.cells:
            row += [cell.direction, cell.serves, cell.against]
        rows.append([*row, goal.net])
    rows += [[f"conflict: {c['goal']}", None, f"{c['serves']} serves it",
              f"{c['against']} works against it", *([None] * (len(columns) - 4))]
             for c in audit.conflicts]
    _sheet(book, "Conflict map", columns, rows)


def _role_sheet(book: Workbook, name: str, role: RoleEvaluation) -> None:
    """The role's plan, then its guardrails, in two blocks of one sheet."""
    ws: WriteOnlyWorksheet = book.create_sheet(name)
    ws.freeze_panes = "A2"
    _print_setup(ws)
    widths = (24, 30, 12, 14, 14, 12, 14, 14, 12)
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    heads = ("metric", "label", "weight", "pays from (threshold)", "stops rising at (cap)",
             "base rate", "accelerator rate", "accelerator multiple", "alignment")
    ws.append([_header(ws, h) for h in heads])
    formats = (None, None, SHARE, SHARE, SHARE, NUMBER, NUMBER, MULTIPLE, NUMBER)
    ev = role.evaluation
    for m in role.plan.metrics:
        values = (m.id, m.label, m.weight, m.threshold, m.cap, m.base_rate,
                  m.accelerator_rate, m.accelerator_multiple,
                  ev.alignment_by_metric.get(m.id, 0.0))
        ws.append([_cell(ws, v, f) for v, f in zip(values, formats, strict=True)])
    ws.append([])
    ws.append([_header(ws, h) for h in ("guardrail", "setting", "value", "limit", "ok")])
    for g in ev.guardrails:
        number = UNIT_FORMAT.get(g.unit, NUMBER)
        ws.append([_cell(ws, g.name, None), _cell(ws, g.setting, None),
                   _cell(ws, g.value, number), _cell(ws, g.limit, number),
                   _cell(ws, "ok" if g.ok else "broken", None)])
    for r in ev.broken_rules:
        ws.append([_cell(ws, "design rule", None), _cell(ws, r.message, None)])
    ws.append([])
    for label, value, number in (("role", role.label, None), ("share of target incentive",
                                                               role.share, SHARE),
                                 ("alignment", ev.alignment, NUMBER),
                                 ("expected payout", ev.expected_cost, MONEY)):
        ws.append([_cell(ws, label, None), _cell(ws, value, number)])


def build_org_workbook(org: Org, result: OrgEvaluation, *, source: str,
                       today: OrgEvaluation | None = None) -> Workbook:
    """The workbook of an organisation's plans.

    Parameters
    ----------
    org : Org
        The organisation.
    result : OrgEvaluation
        Its plans, evaluated (:func:`compplan.optimizer.org_evaluate.evaluate_org`).
    source : str
        Where the plans come from, as given on the command line.
    today : OrgEvaluation, optional
        Today's plans, shown beside them on the Organisation sheet.

    Returns
    -------
    openpyxl.Workbook
        Sheets Organisation, Org scenarios, Org rules, Conflict map, one per role
        (named by its id) and About.
    """
    book = Workbook(write_only=True)
    _organisation_sheet(book, org, result, today)
    _scenarios_sheet(book, org, result)
    _rules_sheet(book, result)
    _conflict_sheet(book, result)
    names = role_sheet_names([r.id for r in result.roles])
    for role in result.roles:
        _role_sheet(book, names[role.id], role)
    rows = [("organisation", org.name), ("plans", source), ("currency", org.currency),
            ("money", money_per(org.roles[0].case)),
            ("scenarios", f"{len(result.totals)} ({org.roles[0].case.spec.scenarios.mode}); "
                          "scenario s is the same period in every role"),
            ("roles", ", ".join(f"{r.id} (sheet {names[r.id]})" for r in result.roles)),
            ("made by", f"compplan {__version__}")]
    _sheet(book, "About", [Column("item", width=14), Column("value", width=70)], rows)
    return book
