"""Subcommands found without importing them, so that start-up stays fast.

Every module of this package but ``main`` and ``common`` lists its commands in a
``COMMANDS`` list. :class:`LazyGroup` reads those lists, the command names and their
docstrings from the source (with :mod:`ast`, a few milliseconds) and imports a module
only when one of its commands runs: ``compplan --help`` never loads pandas or Pyomo.
A new command module is found without registering it anywhere.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from pathlib import Path

import click

_PACKAGE = "compplan.cli"
_NOT_COMMANDS = frozenset({"__init__", "__main__", "main", "common", "lazy"})
# Click's default command name drops these suffixes of the function's name.
_SUFFIXES = ("_command", "_cmd", "_group", "_grp")


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives and what its docstring says."""

    module: str
    help: str


def _command_name(node: ast.FunctionDef) -> str | None:
    """The name ``@click.command(...)`` gives the function, or None if not a command."""
    for decorator in node.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        func = call.func if call is not None else decorator
        if not (isinstance(func, ast.Attribute) and func.attr == "command"):
            continue
        if call is not None and call.args and isinstance(call.args[0], ast.Constant):
            return str(call.args[0].value)
        name = node.name
        for suffix in _SUFFIXES:
            name = name.removesuffix(suffix)
        return name.lower().replace("_", "-")
    return None


def _listed(tree: ast.Module) -> set[str]:
    """The function names in the module's ``COMMANDS`` list."""
    target: ast.expr
    value: ast.expr | None
    for node in tree.body:
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign):
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "COMMANDS" and isinstance(value, ast.List):
            return {e.id for e in value.elts if isinstance(e, ast.Name)}
    return set()


@cache
def discover(folder: Path = Path(__file__).parent) -> dict[str, LazyCommand]:
    """Every command of the package's modules, by name, read from their source.

    Parameters
    ----------
    folder : Path
        The package's folder.

    Returns
    -------
    dict
        Command name to its module and docstring.
    """
    found: dict[str, LazyCommand] = {}
    for path in sorted(folder.glob("*.py")):
        if path.stem in _NOT_COMMANDS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        listed = _listed(tree)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in listed:
                name = _command_name(node)
                if name is not None:
                    found[name] = LazyCommand(f"{_PACKAGE}.{path.stem}",
                                              ast.get_docstring(node) or "")
    return found


class _Interrupted(click.ClickException):
    exit_code = 130

    def __init__(self) -> None:
        super().__init__("interrupted")


class PathRefused(click.ClickException):
    """A path the operating system refuses, caught at the command line's edge (exit 2)."""

    exit_code = 2


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


class LazyGroup(click.Group):
    """A group whose commands from other modules are imported on use."""

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a refused path or Ctrl-C anywhere is a message, not a traceback.

        Each reader names its own file problems; this is the net under them for what
        no reader foresaw (a name too long for the file system, say), so that no entry
        point ever ends in a traceback over a path. Commands catch the interrupt where
        they can say what was kept; one that lands elsewhere (a module still importing,
        the moment after the files were written) still ends as exit 130, never click's
        "Aborted!" and exit 1.
        """
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted() from None
        except OSError as exc:
            if exc.filename is None or isinstance(exc, BrokenPipeError):
                raise
            raise PathRefused(f"{_cut(str(exc.filename))}: cannot be used: "
                              f"{exc.strerror or exc}") from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Commands defined here and those found in the package, sorted."""
        return sorted({*super().list_commands(ctx), *discover()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module the first time."""
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in discover():
            return command
        module = import_module(discover()[cmd_name].module)
        for candidate in module.COMMANDS:
            self.add_command(candidate)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from docstrings, importing nothing."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name) or click.Command(name, help=discover()[name].help)
            if not command.hidden:
                rows.append((name, command))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, c.get_short_help_str(limit)) for name, c in rows])
