"""The studio of an organisation (``compplan studio ORG_DIR``): a tab per role, the total.

Each role's plan is moved with ``compplan evaluate``'s modifiers, written in the URL
with the role's id before them (``ae.set=weight.bookings=0.6``, ``sdr.shift=...``);
every move re-evaluates the organisation from the coefficients computed once: each
role's figures, the organisation's expected payout and CVaR against its caps, every
organisation rule (MODEL.md section 7, O1 to O5) and the conflict map. The solver is
not offered here (``compplan optimise ORG_DIR`` designs every role's plan at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compplan.api import load_org
from compplan.errors import UsageError
from compplan.models.case import CURRENT_PLAN
from compplan.models.money import money_per
from compplan.models.org import Org
from compplan.models.plan import Plan, load_plan
from compplan.optimizer.evaluate import expected_revenue
from compplan.optimizer.org import org_coefficients
from compplan.optimizer.org_evaluate import evaluate_org
from compplan.studio.session import Session, segment_attainment
from compplan.studio.state import FieldError, State, StateError, query

#: What a role's modifiers may be: its plan starts from ``current``.
_ROLE_KEYS = ("set", "shift")


@dataclass
class OrgSession:
    """An organisation, its coefficients, and a :class:`Session` per role.

    Attributes
    ----------
    org : Org
        The organisation, as read when the studio started.
    roles : dict of str to Session
        Each role's case, coefficients and current plan, by role id.
    """

    org: Org
    roles: dict[str, Session]

    @property
    def first_role(self) -> str:
        """The tab the page opens on."""
        return next(iter(self.roles))

    def states(self, pairs: list[tuple[str, str]]) -> dict[str, State]:
        """Each role's state from the URL's pairs (``ROLE.set``, ``ROLE.shift``).

        Raises
        ------
        StateError
            An unknown role, or a modifier that cannot be read (naming it).
        """
        mine: dict[str, list[tuple[str, str]]] = {r: [] for r in self.roles}
        errors: list[FieldError] = []
        for key, value in pairs:
            role, dot, name = key.partition(".")
            if not dot or name not in _ROLE_KEYS:
                continue
            if role not in self.roles:
                errors.append(FieldError(key, 0, value, f"'{role}' is not a role of the "
                                         f"organisation (roles: {', '.join(self.roles)})"))
                continue
            mine[role].append((name, value))
        states = {}
        for role, found in mine.items():
            try:
                states[role] = self.roles[role].parse([("plan", CURRENT_PLAN), *found])
            except StateError as exc:
                errors += [FieldError(f"{role}.{e.param}", e.index, e.text, e.message)
                           for e in exc.errors]
        if errors:
            raise StateError(errors)
        return states

    def info(self) -> dict[str, Any]:
        """The organisation as the page needs it (``GET /api/org/case``)."""
        budget = self.org.spec.budget
        first = self.org.roles[0].case
        return {"org": self.org.spec.org.name, "currency": self.org.spec.org.currency,
                "per": money_per(first),
                "budget": {"expected_cap": budget.expected_cap, "cvar_cap": budget.cvar_cap,
                           "cvar_level": budget.cvar_level},
                "roles": [{"id": r.id, "label": r.label, **self.roles[r.id].info()}
                          for r in self.org.roles],
                "first_role": self.first_role}

    def document(self, pairs: list[tuple[str, str]]) -> dict[str, Any]:
        """Every role's plan and the organisation's figures (``GET /api/org/evaluate``).

        ``evaluation`` is the ``evaluation.json`` of ``compplan evaluate ORG_DIR`` for
        the roles' plans; ``roles`` each role's state and plan name.

        Raises
        ------
        StateError
            As :meth:`states`, or a modifier that cannot apply (naming the role).
        """
        states = self.states(pairs)
        plans: dict[str, Plan] = {}
        errors: list[FieldError] = []
        for role, state in states.items():
            try:
                plans[role] = self.roles[role].plan(state)
            except StateError as exc:
                errors += [FieldError(f"{role}.{e.param}", e.index, e.text, e.message)
                           for e in exc.errors]
        if errors:
            raise StateError(errors)
        coeffs = [self.roles[r.id].coeffs for r in self.org.roles]
        changed = any(s.modifiers for s in states.values())
        ev = evaluate_org(self.org, coeffs, plans, "what-if" if changed else CURRENT_PLAN,
                          CURRENT_PLAN)
        return {"evaluation": ev.to_dict(),
                "roles": {role: {"state": query(state), "name": self.roles[role].name(state)}
                          for role, state in states.items()},
                "state": "&".join(f"{role}.{q}" for role, state in states.items()
                                  for q in query(state).split("&")[1:])}


def open_org_session(folder: str | Path) -> OrgSession:
    """Read the organisation and each role's case once, with their coefficients.

    Parameters
    ----------
    folder : str or Path
        The folder holding ``org.toml``.

    Returns
    -------
    OrgSession
        Ready to evaluate.

    Raises
    ------
    CaseError
        ``org.toml`` or a role's case is malformed.
    UsageError
        A role has no ``current_plan.toml`` (the page starts from today's plans).
    """
    org = load_org(folder)
    coeffs = org_coefficients(org)
    roles = {}
    for role, c in zip(org.roles, coeffs, strict=True):
        if role.case.current_plan is None:
            raise UsageError(f"role {role.id} has no current_plan.toml in {role.case.path}: "
                             "the studio of an organisation starts from every role's "
                             "current plan")
        roles[role.id] = Session(role.case, c, expected_revenue(role.case),
                                 {CURRENT_PLAN: load_plan(role.case, CURRENT_PLAN)},
                                 segment_attainment=segment_attainment(role.case))
    return OrgSession(org, roles)
