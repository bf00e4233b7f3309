"""An organisation: several roles' cases under one strategy and one budget (MODEL.md s. 7).

``org.toml`` holds the goals, the roles (each a case folder inside the organisation's
folder, without ``[goals]`` of its own), an optional organisation budget and the
coherence rules. Every problem is a :class:`CaseError` naming the file, the line and
the field, as for a single case.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field, ValidationError, field_validator

from compplan.errors import CaseError, UsageError
from compplan.models.case import Case, load_case, read_toml
from compplan.models.errors_format import case_error_from_pydantic
from compplan.models.schema import BudgetSpec, OneLine, _Strict, check_goals
from compplan.models.tables import not_a_file
from compplan.models.text import shown

ORG_FILE = "org.toml"
MAX_ROLE_ID = 64
_ROLE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


class OrgInfo(_Strict):
    """The ``[org]`` table."""

    name: OneLine = "Unnamed organisation"
    currency: OneLine = "USD"


class RoleSpec(_Strict):
    """One ``[roles.ID]`` table."""

    # One line: a NUL or a line break in a path is never meant, and NUL breaks the OS calls.
    path: OneLine
    label: OneLine | None = None


_PAIR = 'a pair ["role.metric", "role.metric"] (upstream, then downstream)'


class CoherenceSpec(_Strict):
    """The ``[coherence]`` table: rules across roles (O3 to O5)."""

    no_opposing: bool = False
    cover_goals: bool = False
    handoffs: list[list[str]] = Field(default_factory=list)

    @field_validator("handoffs", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        # Said before pydantic's per-item messages: a flat pair is the usual slip.
        if not isinstance(value, list):
            return value
        if len(value) == 2 and all(isinstance(v, str) for v in value):
            raise ValueError(f"is a list of pairs: write [{_show(value)}], not {_show(value)}")
        for i, pair in enumerate(value, start=1):
            if not isinstance(pair, list) or len(pair) != 2 \
                    or not all(isinstance(v, str) for v in pair):
                raise ValueError(f"handoff #{i} is {_show(pair)}; each handoff is {_PAIR}")
        return value


def _show(value: object) -> str:
    """A TOML-like rendering of a short value, cut at 80 characters."""
    text = ("[" + ", ".join(_show(v) for v in value) + "]" if isinstance(value, list)
            else f'"{value}"' if isinstance(value, str) else repr(value))
    return text if len(text) <= 80 else text[:77] + "..."


class OrgSpec(_Strict):
    """The whole of ``org.toml``."""

    org: OrgInfo = OrgInfo()
    goals: dict[str, float]
    roles: dict[str, RoleSpec]
    budget: BudgetSpec = BudgetSpec()
    coherence: CoherenceSpec = CoherenceSpec()

    @field_validator("goals")
    @classmethod
    def _goals(cls, goals: dict[str, float]) -> dict[str, float]:
        return check_goals(goals)

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: dict[str, RoleSpec]) -> dict[str, RoleSpec]:
        if not roles:
            raise ValueError("at least one role is required")
        folded: dict[str, str] = {}
        for rid in roles:
            # Each role's files go to a folder named by its id: on a case-insensitive
            # file system (macOS, Windows) 'AE' and 'ae' would write into one folder.
            if rid.casefold() in folded:
                raise ValueError(f"role ids '{folded[rid.casefold()]}' and '{rid}' differ only "
                                 "in case; each names its role's output folder, which would be "
                                 "one folder on macOS and Windows: rename one")
            folded[rid.casefold()] = rid
            if rid in ("org", "coherence"):
                raise ValueError(f"role id '{rid}' is reserved (it names the organisation's "
                                 "own rules in messages); choose another")
            if len(rid) > MAX_ROLE_ID:
                raise ValueError(f"role id {shown(rid)} has {len(rid)} characters; at most "
                                 f"{MAX_ROLE_ID} (it names the role's output folder)")
            if not _ROLE_ID.match(rid):
                raise ValueError(f"role id '{rid}' may hold only letters, digits, '_' and "
                                 "'-' (it names the role's output folder)")
        return roles


@dataclass(frozen=True)
class Role:
    """One role of an organisation: its id, label and case (with the org's goals)."""

    id: str
    label: str
    case: Case


@dataclass(frozen=True)
class Handoffs:
    """A handoff ``[upstream, downstream]`` as (role, metric) pairs."""

    upstream: tuple[str, str]
    downstream: tuple[str, str]


@dataclass(frozen=True)
class Org:
    """A loaded, validated organisation.

    Attributes
    ----------
    path : Path
        The organisation folder.
    spec : OrgSpec
        The contents of ``org.toml``.
    roles : tuple of Role
        In ``org.toml`` order.
    handoffs : tuple of Handoffs
        ``[coherence] handoffs`` resolved to (role, metric) pairs.
    warnings : tuple of str
        Settings that are allowed but probably not meant.
    """

    path: Path
    spec: OrgSpec
    roles: tuple[Role, ...]
    handoffs: tuple[Handoffs, ...]
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The organisation's display name."""
        return self.spec.org.name

    @property
    def currency(self) -> str:
        """The organisation's currency."""
        return self.spec.org.currency

    def role(self, role_id: str) -> Role:
        """One role by id."""
        return next(r for r in self.roles if r.id == role_id)

    @property
    def shares(self) -> np.ndarray:
        """``s_p = TI_p / sum_q TI_q`` per role, in role order."""
        ti = np.array([float(r.case.target_incentive.sum()) for r in self.roles])
        return ti / ti.sum()


def with_budget(org: Org, cap: float | None) -> Org:
    """The organisation with ``[budget] expected_cap`` replaced, checked as in org.toml.

    Raises
    ------
    UsageError
        ``override rejected: [budget] expected_cap: ...`` for a cap that is not a number
        (text such as ``"7e6"``, ``True``), not finite, not > 0 or above MODEL.md
        section 1's limit, with the messages of a case's ``--budget``.
    """
    from dataclasses import replace

    data = org.spec.model_dump()
    data["budget"]["expected_cap"] = cap
    try:
        spec = OrgSpec.model_validate(data, strict=True)
    except ValidationError as exc:
        err = case_error_from_pydantic("command line", exc, OrgSpec, {"roles"})
        where = f"{err.field}: " if err.field is not None else ""
        raise UsageError(f"override rejected: {where}{err.detail}") from None
    return replace(org, spec=spec)


def is_org_folder(path: str | Path | None) -> bool:
    """Whether ``path`` is a folder holding ``org.toml``."""
    # lexists: an org.toml that is a folder, a FIFO or a broken link is still meant as
    # an organisation, and load_org names what it is (not "case.toml is missing").
    return path is not None and os.path.lexists(Path(path) / ORG_FILE)


def toml_line(path: Path, table: str, key: str | None = None) -> int | None:
    """The line of ``key`` in ``[table]`` of a TOML file (or of the header), if found.

    A plain scan, enough to point a reader at the line: headers ``[table]`` and
    ``key = ...`` lines at the top of the table.
    """
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    header = re.compile(r"^\s*\[\s*" + re.escape(table).replace(r"\.", r"\s*\.\s*")
                        + r"\s*\]\s*(#.*)?$")
    inside = False
    for number, line in enumerate(lines, start=1):
        if header.match(line):
            if key is None:
                return number
            inside = True
            continue
        if inside and re.match(r"^\s*\[", line):
            inside = False
        if inside and key is not None and re.match(r"^\s*" + re.escape(key) + r"\s*=", line):
            return number
    return None


def _org_error(folder: Path, message: str, table: str, key: str | None = None) -> CaseError:
    field = f"[{table}]" + (f" {key}" if key else "")
    return CaseError(ORG_FILE, message, row=toml_line(folder / ORG_FILE, table, key),
                     field=field)


def read_org_spec(folder: Path) -> OrgSpec:
    """Read and validate ``org.toml``."""
    try:
        return OrgSpec.model_validate(read_toml(folder / ORG_FILE), strict=True)
    except ValidationError as exc:
        err = case_error_from_pydantic(ORG_FILE, exc, OrgSpec, {"roles"})
        loc = tuple(exc.errors()[0]["loc"])
        table = str(loc[0]) if loc else ""
        key = str(loc[1]) if len(loc) > 1 else None
        if table == "roles" and len(loc) > 1:
            table, key = f"roles.{loc[1]}", str(loc[2]) if len(loc) > 2 else None
        line = toml_line(folder / ORG_FILE, table, key) if table else None
        raise CaseError(ORG_FILE, err.detail, row=line, field=err.field) from None


def load_org(path: str | Path) -> Org:
    """Load and validate an organisation folder (MODEL.md section 7).

    Parameters
    ----------
    path : str or Path
        The folder holding ``org.toml`` and one case folder per role.

    Returns
    -------
    Org
        The organisation, each role's case loaded with the organisation's goals.

    Raises
    ------
    CaseError
        Naming the file, the line and the field of the first problem found.

    Examples
    --------
    >>> org = load_org("tests/data/conformance/c5_org")
    >>> [r.id for r in org.roles]
    ['sales', 'marketing']
    """
    folder = Path(path)
    kind = not_a_file(folder / ORG_FILE)
    if kind is not None:
        raise CaseError(ORG_FILE, f"is {kind}, not a file; an organisation folder holds "
                                  "org.toml as a regular file")
    if not (folder / ORG_FILE).is_file():
        raise CaseError(ORG_FILE, f"is missing from the organisation folder {folder}")
    spec = read_org_spec(folder)
    _check_paths(folder, spec)
    roles = _load_roles(folder, spec)
    for role in roles:
        _check_alignment(folder, spec, role)
    _check_scenarios(folder, spec, roles)
    _check_money(folder, spec, roles)
    handoffs = tuple(_handoff(folder, roles, i, pair)
                     for i, pair in enumerate(spec.coherence.handoffs))
    return Org(folder, spec, roles, handoffs, tuple(_shared_reps(spec, roles)))


def _check_paths(folder: Path, spec: OrgSpec) -> None:
    """Each role's path names a folder of its own: not the org folder, not an org, not shared.

    Checked before any case is read, so that the message says what is wrong with the
    path rather than what is missing from the folder it happens to name.
    """
    seen: dict[Path, str] = {}
    for rid, role in spec.roles.items():
        def refuse(why: str, rid: str = rid) -> CaseError:
            return _org_error(folder, why, f"roles.{rid}", "path")

        if not role.path.strip():
            raise refuse("is empty; give the role's case folder, relative to org.toml "
                         f"(e.g. path = \"{rid}\")")
        try:
            target = (folder / role.path).resolve()
            nested = (folder / role.path / ORG_FILE).exists()
        except RuntimeError:  # Python 3.11's resolve() on a symbolic link loop
            raise refuse(f"{shown(role.path)} is a symbolic link that loops; give the role's "
                         "case folder") from None
        except OSError as exc:  # a name too long, and the like
            raise refuse(f"{shown(role.path)} cannot be used as a folder: "
                         f"{exc.strerror or exc}") from None
        if target == folder.resolve():
            raise refuse(f"'{role.path}' is the organisation folder itself; a role's case "
                         "folder is a folder inside it (holding case.toml, reps.csv and "
                         "attainment.csv)")
        if nested:
            raise refuse(f"'{role.path}' holds an org.toml: it is an organisation, not a "
                         "case; an organisation's roles are case folders (an organisation "
                         "inside an organisation is not supported)")
        if target in seen:
            raise refuse(f"'{role.path}' is also the folder of role '{seen[target]}'; each "
                         "role has a case folder of its own (its reps are paid once)")
        seen[target] = rid


#: Roles read at once (reading a CSV with pyarrow and checking it with numpy and pandas
#: release the GIL); None: as many as there are idle cores (:func:`idle_cores`). One by
#: default: on the 2-vCPU VM of docs/benchmarks.md two side by side touched more fresh
#: memory (peak 720 MiB against 585) and spent more system time than they saved.
ROLE_READERS: int | None = 1


def idle_cores(most: int = 4) -> int:
    """Cores left idle by the machine's other work: ``cpu_count - load average``, up.

    Threads side by side only pay on idle cores: on a machine already busy they add
    memory and switching for nothing (docs/benchmarks.md, issue 23). At least 1, at
    most ``most``. What is computed never depends on it, only how fast.
    """
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):  # not available on this system (Windows: no such call)
        load = 0.0
    return max(1, min(most, cores, math.ceil(cores - load)))


def _load_roles(folder: Path, spec: OrgSpec) -> tuple[Role, ...]:
    """Every role's case, read side by side on idle cores (:func:`idle_cores`).

    The first role (in org.toml order) that fails is the one reported, as when they are
    read one after the other. Each role is read by the same code as alone, so its case
    is the same to the bit.
    """
    ids = list(spec.roles)
    readers = min(idle_cores() if ROLE_READERS is None else ROLE_READERS, len(ids))
    if readers < 2:
        return tuple(_load_role(folder, spec, rid) for rid in ids)
    pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="compplan-role")
    try:
        futures = [pool.submit(_load_role, folder, spec, rid) for rid in ids]
        return tuple(future.result() for future in futures)
    finally:
        # On a failure the roles not started yet are not read at all.
        pool.shutdown(wait=True, cancel_futures=True)


def _load_role(folder: Path, spec: OrgSpec, rid: str) -> Role:
    role = spec.roles[rid]
    rel = Path(role.path)
    target = folder / rel
    if rel.is_absolute():
        raise _org_error(folder, f"{shown(role.path)} is an absolute path; give the role's "
                                 "case folder relative to the folder holding org.toml",
                         f"roles.{rid}", "path")
    if not target.resolve().is_relative_to(folder.resolve()):
        raise _org_error(folder, f"'{role.path}' leaves the organisation folder; a role's "
                                 "case folder must be inside the folder holding org.toml",
                         f"roles.{rid}", "path")
    if not target.is_dir():
        raise _org_error(folder, f"'{role.path}' is not a folder inside the organisation "
                                 f"folder {folder} (a role's case folder holds case.toml, "
                                 "reps.csv and attainment.csv)", f"roles.{rid}", "path")
    try:
        case = load_case(target, goals=spec.goals)
    except CaseError as exc:
        # Name the file as seen from the organisation folder: sales/case.toml.
        prefix = role.path.rstrip("/")
        if exc.field == "[goals]" and exc.row is None:
            raise CaseError(f"{prefix}/{exc.file}", exc.detail, field=exc.field,
                            row=toml_line(target / "case.toml", "goals")) from None
        exc.file = f"{prefix}/{exc.file}"
        exc.args = (f"{prefix}/{exc.args[0]}",)
        raise
    return Role(rid, role.label or case.name, case)


def _role_file(folder: Path, spec: OrgSpec, rid: str, name: str) -> str:
    return f"{spec.roles[rid].path.rstrip('/')}/{name}"


def _check_alignment(folder: Path, spec: OrgSpec, role: Role) -> None:
    """Every goal an alignment names is one of the organisation's goals."""
    for mid, metric in role.case.spec.metrics.items():
        for goal in metric.alignment:
            if goal not in spec.goals:
                raise CaseError(_role_file(folder, spec, role.id, "case.toml"),
                                f"alignment names goal {shown(goal)}, which is not in "
                                f"org.toml [goals] (goals: {_names(spec.goals)})",
                                row=toml_line(role.case.path / "case.toml", f"metrics.{mid}",
                                              "alignment"),
                                field=f"[metrics.{mid}] alignment")


def _names(names: Iterable[str]) -> str:
    r"""Names as a list, each escaped where it holds invisible characters (``'a\u200b'``)."""
    return ", ".join(name if shown(name) == f"'{name}'" else shown(name) for name in names)


def _labels(periods: tuple[str, ...] | list[str]) -> str:
    shown = list(periods)
    return ", ".join(shown) if len(shown) <= 12 else ", ".join(shown[:12]) + ", ..."


def _check_scenarios(folder: Path, spec: OrgSpec, roles: tuple[Role, ...]) -> None:
    """One scenario mode for all roles; the same periods (historical) or count (Monte Carlo)."""
    first = roles[0]
    mode = first.case.spec.scenarios.mode
    for role in roles[1:]:
        scen = role.case.spec.scenarios
        case_file = _role_file(folder, spec, role.id, "case.toml")
        if scen.mode != mode:
            raise CaseError(case_file, f"role '{role.id}' uses mode '{scen.mode}' but role "
                                       f"'{first.id}' uses '{mode}'; every role of an "
                                       "organisation uses the same scenario mode",
                            row=toml_line(role.case.path / "case.toml", "scenarios", "mode"),
                            field="[scenarios] mode")
        if mode == "montecarlo" and scen.count != first.case.spec.scenarios.count:
            raise CaseError(case_file, f"role '{role.id}' draws {scen.count} scenarios but "
                                       f"role '{first.id}' draws "
                                       f"{first.case.spec.scenarios.count}; every role of an "
                                       "organisation draws the same number",
                            row=toml_line(role.case.path / "case.toml", "scenarios", "count"),
                            field="[scenarios] count")
        if mode == "historical" and role.case.periods != first.case.periods:
            missing = [p for p in first.case.periods if p not in role.case.periods]
            extra = [p for p in role.case.periods if p not in first.case.periods]
            detail = "; ".join(part for part in (
                f"missing {_labels(missing)}" if missing else "",
                f"not in '{first.id}': {_labels(extra)}" if extra else "") if part)
            raise CaseError(_role_file(folder, spec, role.id, _attainment_name(role.case)),
                            f"role '{role.id}' has periods {_labels(role.case.periods)} but "
                            f"role '{first.id}' has {_labels(first.case.periods)} ({detail}); "
                            "in historical mode every role has the same period labels",
                            field="period")


def _check_money(folder: Path, spec: OrgSpec, roles: tuple[Role, ...]) -> None:
    """Money has one unit of time and one currency across roles (MODEL.md sections 5, 7).

    Role totals are added into the organisation's budget, so a role paid per year and
    one paid per period, or one in EUR and one in USD, cannot share it.
    """
    first = roles[0]
    per_year = first.case.spec.case.periods_per_year
    for role in roles[1:]:
        other = role.case.spec.case.periods_per_year
        if other != per_year:
            raise CaseError(_role_file(folder, spec, role.id, "case.toml"),
                            f"role '{role.id}' has {_per_year_words(other)} but role "
                            f"'{first.id}' has {_per_year_words(per_year)}; money has one unit "
                            "of time across an organisation's roles (their payouts share one "
                            "budget): give every role the same [case] periods_per_year",
                            row=toml_line(role.case.path / "case.toml", "case",
                                          "periods_per_year" if other else None),
                            field="[case] periods_per_year")
    for role in roles:
        info = role.case.spec.case
        if "currency" in info.model_fields_set and info.currency != spec.org.currency:
            said = ("org.toml [org] currency" if "currency" in spec.org.model_fields_set
                    else "org.toml, where [org] currency defaults to USD")
            raise CaseError(_role_file(folder, spec, role.id, "case.toml"),
                            f"role '{role.id}' counts money in {info.currency} but the "
                            f"organisation in {spec.org.currency} ({said}); every role's "
                            "payouts are added in one currency: make them agree",
                            row=toml_line(role.case.path / "case.toml", "case", "currency"),
                            field="[case] currency")


def _per_year_words(value: int | None) -> str:
    if value is None:
        return "money per period (no periods_per_year)"
    return f"periods_per_year = {value} (money per year)"


def _attainment_name(case: Case) -> str:
    return "attainment.parquet" if (case.path / "attainment.parquet").is_file() \
        else "attainment.csv"


def _handoff(folder: Path, roles: tuple[Role, ...], index: int, pair: list[str]) -> Handoffs:
    ends = []
    known = {r.id: r for r in roles}
    for ref in pair:
        rid, dot, mid = ref.partition(".")
        where = f"handoff #{index + 1} ('{pair[0]}' -> '{pair[1]}')"
        if not dot or not rid or not mid:
            raise _org_error(folder, f"{where}: '{ref}' must be 'role.metric'",
                             "coherence", "handoffs")
        if rid not in known:
            raise _org_error(folder, f"{where} names role '{rid}', which is not a role of the "
                                     f"organisation (roles: {', '.join(known)})",
                             "coherence", "handoffs")
        metrics = known[rid].case.metric_ids
        if mid not in metrics:
            raise _org_error(folder, f"{where} names metric '{mid}' of role '{rid}', which is "
                                     f"not one of its metrics (metrics of {rid}: "
                                     f"{', '.join(metrics)})", "coherence", "handoffs")
        ends.append((rid, mid))
    # MODEL.md O3 is z[a] <= z[b] for any two role metrics: one within a role ("if you
    # pay X, pay Y too") is allowed, and a metric handed to itself is a row that always
    # holds; neither is refused (the contract defines both).
    return Handoffs(ends[0], ends[1])


def _shared_reps(spec: OrgSpec, roles: tuple[Role, ...]) -> list[str]:
    """A rep id in two roles' reps.csv: warned, not refused.

    The contract's conformance case c5_org numbers each role's reps from R00000, so
    rep ids are read as local to their role.
    """
    notes = []
    seen: dict[str, str] = {}
    for role in roles:
        # As one numpy array first: pandas hands out an Arrow string column's values one
        # Python call each (0.15 s for five roles of 20,000 reps).
        ids = [str(r) for r in role.case.reps.index.to_numpy(dtype=object)]
        clash = [r for r in ids if r in seen]
        if clash:
            notes.append(f"{_role_file(Path(), spec, role.id, 'reps.csv')}: {len(clash)} rep "
                         f"id(s) also appear in another role (first: '{clash[0]}' of role "
                         f"'{seen[clash[0]]}'); they are counted as different people")
        for r in ids:
            seen.setdefault(r, role.id)
    return notes
