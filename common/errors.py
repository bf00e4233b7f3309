"""Errors that the command line turns into exit codes."""

from __future__ import annotations

from typing import Any


class CompplanError(Exception):
    """Base of every error compplan raises on purpose."""

    exit_code = 1


class CaseError(CompplanError):
    """The case on disk is malformed: names the file, the row and the field."""

    exit_code = 2

    def __init__(self, file: str, message: str, *, row: int | None = None,
                 field: str | None = None, unit: str = "line") -> None:
        self.file = file
        self.row = row
        self.field = field
        self.detail = message
        where = file
        if row is not None:
            where += f", {unit} {row}"
        if field is not None:
            where += f", {field}"
        super().__init__(f"{where}: {message}")


class UsageError(CompplanError):
    """An option or argument on the command line is not allowed."""

    exit_code = 2


class InfeasibleError(CompplanError):
    """No plan satisfies the constraints; ``report`` says which guardrails conflict."""

    exit_code = 3

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        self.report = report
        super().__init__(message)


class SolverLimitError(CompplanError):
    """A solver limit was reached before any feasible plan was found."""

    exit_code = 4
