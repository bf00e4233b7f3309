"""Turn pydantic validation errors into messages that name the table and the key."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from compplan.errors import CaseError
from compplan.models.text import shown

_BOUNDS = {
    "greater_than": ("gt", "> {}"),
    "greater_than_equal": ("ge", ">= {}"),
    "less_than": ("lt", "< {}"),
    "less_than_equal": ("le", "<= {}"),
}


# Errors about what a whole table holds (a rule across its keys, its length), as
# opposed to errors about the key that names it (unknown, missing, not a table).
_WHOLE_TABLE = {"value_error", "too_short", "too_long"}


def _section(err: ErrorDetails, dict_tables: set[str],
             table_array: bool = False) -> tuple[str, str | None]:
    """Split a pydantic location into a TOML table header and a key.

    A rule on a whole table is located at the table as written in the file:
    ``[design]`` for a table, ``[[metrics]]`` for an array of tables.
    """
    loc = tuple(err["loc"])
    if not loc:
        return "", None
    head = str(loc[0])
    if len(loc) >= 2 and isinstance(loc[1], int):
        table, rest = f"[[{head}]] #{loc[1] + 1}", loc[2:]
    elif head in dict_tables and len(loc) >= 2:
        table, rest = f"[{head}.{loc[1]}]", loc[2:]
    elif len(loc) == 1 and err["type"] in _WHOLE_TABLE and isinstance(err["input"], dict):
        table, rest = f"[{head}]", ()
    elif len(loc) == 1 and err["type"] in _WHOLE_TABLE and table_array:
        table, rest = f"[[{head}]]", ()
    elif len(loc) == 1:
        table, rest = "", loc
    else:
        table, rest = f"[{head}]", loc[1:]
    key = ".".join(str(p) for p in rest) or None
    return table, key


def _entries(n: Any) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _explain(err: ErrorDetails, allowed: list[str] | None, table_array: bool = False) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind in _BOUNDS:
        name, text = _BOUNDS[kind]
        return f"must be {text.format(ctx[name])}, got {shown(got)}"
    if kind == "extra_forbidden":
        options = f" (allowed keys: {', '.join(allowed)})" if allowed else ""
        return f"unknown key{options}"
    if kind == "missing":
        return "is required but missing"
    if kind == "finite_number":
        return f"must be a finite number, got {shown(got)}"
    if kind in {"float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"}:
        what = "a whole number" if kind.startswith("int") else "a number"
        return f"must be {what}, got {shown(got)}"
    if kind in {"bool_type", "bool_parsing"}:
        return f"must be true or false, got {shown(got)}"
    if kind in {"string_type"}:
        return f"must be text, got {shown(got)}"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        if isinstance(got, list) and got and all(isinstance(g, dict) for g in got):
            name = str(err["loc"][-1]) if err["loc"] else ""
            return f"must be a table, got an array of tables [[{name}]]"
        return f"must be a table, got {shown(got)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {shown(got)}"
    if kind == "list_type":
        name = str(err["loc"][-1]) if err["loc"] else ""
        if table_array:
            what = f"one table [{name}]" if isinstance(got, dict) else shown(got)
            return f"must be an array of tables, each headed [[{name}]], got {what}"
        return f"must be a list, got {shown(got)}"
    if kind == "too_short":
        return f"needs at least {_entries(ctx.get('min_length'))}, got {ctx.get('actual_length')}"
    if kind == "too_long":
        return f"has at most {_entries(ctx.get('max_length'))}, got {ctx.get('actual_length')}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model behind ``Model``, ``dict[str, Model]`` or ``list[Model]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args: tuple[Any, ...] = tuple(getattr(annotation, "__args__", ()))
    # ``Model | None`` names its model among the union's members, containers last.
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    optional = len(models) == 1 and bool(args) and args[-1] is type(None)
    inner = models[0] if optional else (args[-1] if args else None)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _field_at(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The annotation of the field at ``loc`` (None if the location is not a field)."""
    current: type[BaseModel] | None = model
    parts = list(loc)
    while parts and current is not None:
        field = current.model_fields.get(str(parts.pop(0)))
        if field is None:
            return None
        if not parts:
            return field.annotation
        is_container = not (isinstance(field.annotation, type)
                            and issubclass(field.annotation, BaseModel))
        current = _inner_model(field.annotation)
        if is_container and parts:
            parts.pop(0)  # the metric id or list index
    return None


def _is_table_array(model: type[BaseModel], loc: tuple[Any, ...]) -> bool:
    """Whether ``loc`` is a list of tables, written ``[[name]]`` in TOML."""
    annotation = _field_at(model, loc)
    return getattr(annotation, "__origin__", None) is list and _inner_model(annotation) is not None


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The keys allowed in the table holding the last element of ``loc``."""
    current: type[BaseModel] | None = model
    parts = list(loc[:-1])
    while parts and current is not None:
        field = current.model_fields.get(str(parts.pop(0)))
        if field is None:
            return None
        is_container = not (isinstance(field.annotation, type)
                            and issubclass(field.annotation, BaseModel))
        current = _inner_model(field.annotation)
        if is_container and parts:
            parts.pop(0)  # the metric id or list index
    return list(current.model_fields) if current is not None and not parts else None


def case_error_from_pydantic(file: str, exc: ValidationError, model: type[BaseModel],
                             dict_tables: set[str]) -> CaseError:
    """Build one :class:`CaseError` from the first problem pydantic found.

    Parameters
    ----------
    file : str
        The file name shown to the user, e.g. ``case.toml``.
    exc : pydantic.ValidationError
        The error raised by ``model.model_validate``.
    model : type
        The root model that was validated.
    dict_tables : set of str
        Tables whose keys are user-chosen ids (``metrics``, ``goals``).

    Returns
    -------
    CaseError
        The first error, with every further one counted in the message.
    """
    errors = exc.errors()
    # A typo ("treshold") is an unknown key and a missing one: name the typo first.
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    first = unknown[0] if unknown else errors[0]
    loc = tuple(first["loc"])
    table_array = _is_table_array(model, loc)
    table, key = _section(first, dict_tables, table_array)
    allowed = _allowed_keys(model, loc) if first["type"] == "extra_forbidden" else None
    message = _explain(first, allowed, table_array)
    others = [e for e in errors if e is not first]
    if allowed and loc:
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        if close:
            message = message.replace("unknown key", f"unknown key; did you mean '{close[0]}'?",
                                      1)
            # The key it stands for is then missing: the same mistake, not another one.
            others = [e for e in others if not (e["type"] == "missing"
                                                and tuple(e["loc"]) == (*loc[:-1], close[0]))]
    if others:
        message += f" (and {len(others)} more problem{'s' if len(others) > 1 else ''})"
    field = f"{table} {key}" if table and key else (table or key)
    return CaseError(file, message, field=field)
