"""An output folder is one transaction: a reader sees the old set of files or the new one.

Every command that writes a folder of files (``optimise --out``, ``evaluate --out``,
``audit``, ``explain``, ``compare``, and new ones) adopts it in one line::

    with output_folder(out, force=force, inputs=[case.path]) as folder:
        write_json(folder / "plan.json", doc)        # write into the staging folder
        ...                                          # subfolders too: folder / role / ...

and single files (``report --out``, ``export --xlsx``, ``evaluate --write-plan``) are
checked with :func:`check_output_file` and written with ``write_atomic``. On the
command line, ``compplan.cli.common.output_set`` wraps :func:`output_folder` with the
exit-2 messages, and ``force_option`` adds ``--force``. Each commit records the files
it put in the folder in the folder's manifest (:data:`MANIFEST`): on the next run they
count as compplan's own, and nothing else does, whatever its name (issue 24).

How a folder is replaced
------------------------
1. On entry the target is checked (not a file, not a case folder or an input, no
   files compplan did not write unless ``force``) and a staging folder is made beside
   it, ``.<name>.compplan-new-<pid>-<random>``, on the same file system.
2. The body writes the new set into the staging folder. Any exception (disk full,
   Ctrl-C, an error) removes the staging folder: the old set is untouched.
3. On exit the manifest of the staged files is written into the staging folder; then,
   under an exclusive ``flock`` on the parent folder (so two runs into one folder
   commit one after the other), the target is checked again and the staging
   folder is swapped in whole: ``renameat2(RENAME_EXCHANGE)`` exchanges the two
   folders atomically on Linux; elsewhere the old folder is renamed to
   ``.<name>.compplan-old-<pid>-<random>`` and the staging folder renamed into place.
   The old set, compplan's earlier files included, is then deleted.

A crash at any moment leaves the target holding the old set or the new one, and at
most a hidden staging or old folder beside it, named with the dead process's id. The
next commit beside it tidies up: a leftover old folder with no target (a crash
between the two renames of the fallback) is renamed back, other leftovers deleted
(files in them that compplan did not write go back to the target first).

With ``force``, files compplan did not write are moved into the new set, so they
are kept, not deleted.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from compplan.errors import CompplanError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: commits are not serialised there
    fcntl = None  # type: ignore[assignment]

#: Files compplan writes into output folders, by any command, old versions included.
#: Kept for :func:`register_outputs`; whether a file is compplan's is decided by the
#: folder's manifest (:data:`MANIFEST`), never by its name.
KNOWN_OUTPUTS: set[str] = {
    "plan.json", "plan.csv", "plan.md", "rep_rates.csv", "run.json", "infeasibility.json",
    "evaluation.json", "rep_payouts.csv", "compare.csv", "compare.md", "audit.json",
    "audit.md", "plan_explained.md", "plan_explained.html", "org_plan.json", "org_plan.md",
    "org_plan.csv", "audit_org.json", "audit_org.md", "pulse.json", "pulse.md", "pulse.csv",
    "report.html",
}
#: The manifest of a committed set: every file compplan wrote into the folder, with its
#: size and modification time. A file is compplan's only when it is listed there and
#: unchanged since (issue 24: a user's ``reps/alice.html`` or ``draft/plan.md`` is never
#: taken for an output because of its name or folder).
MANIFEST = ".compplan-outputs.json"
_MANIFEST_SCHEMA = "compplan.outputs/1"
#: The files of a case folder: an output may never be written over one of them.
CASE_INPUTS = ("case.toml", "reps.csv", "reps.parquet", "attainment.csv",
               "attainment.parquet", "quotas.csv", "quotas.parquet", "current_plan.toml")

_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.compplan-(?P<kind>new|old)-(?P<pid>\d+)-[^.]+$")
_RENAME_EXCHANGE = 2
#: Off in tests, to exercise the two-rename fallback used where the exchange is missing.
_EXCHANGE = os.environ.get("COMPPLAN_NO_RENAME_EXCHANGE") != "1"
_AT_FDCWD = -100


class OutputError(CompplanError):
    """An output cannot go where it was asked to: exit 2 with the reason."""

    exit_code = 2


def register_outputs(*names: str) -> None:
    """Declare more file names as compplan's outputs (kept for compatibility).

    Ownership is recorded per folder in :data:`MANIFEST`; names alone decide nothing.
    """
    KNOWN_OUTPUTS.update(names)


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every regular file under ``folder`` but the manifest: size and modification time.

    Keyed by relative POSIX path; links are not followed.
    """
    found: dict[str, tuple[int, int]] = {}
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root, name)
            info = path.lstat()
            relative = path.relative_to(folder).as_posix()
            if stat.S_ISREG(info.st_mode) and relative != MANIFEST:
                found[relative] = (info.st_size, info.st_mtime_ns)
    return found


def write_manifest(folder: Path) -> None:
    """Record every file now in ``folder`` as compplan's (called on the staged set)."""
    doc = {"schema": _MANIFEST_SCHEMA,
           "files": {name: list(sig) for name, sig in _files(folder).items()}}
    path = folder / MANIFEST
    path.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
    os.chmod(path, _file_mode(0o666))


def read_manifest(folder: Path) -> dict[str, tuple[int, int]] | None:
    """The files compplan recorded as its own in ``folder``; None without a manifest."""
    path = folder / MANIFEST
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return None
        doc = json.loads(path.read_text(encoding="utf-8"))
        files = doc["files"] if doc.get("schema") == _MANIFEST_SCHEMA else None
        return {str(k): (int(v[0]), int(v[1])) for k, v in files.items()} if files else {}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None


def foreign_entries(folder: Path) -> list[str]:
    """Entries of ``folder`` that compplan did not write, as relative paths, sorted.

    A file is compplan's only when the folder's manifest (:data:`MANIFEST`, written
    by the commit that put it there) lists it with the same size and modification
    time; anything else (a file of the same name as an output, one edited since, a
    link, a folder of the user's) is someone else's. Empty when the folder holds only
    compplan's files.
    """
    return _entries(folder)[0]


def nested_sets(folder: Path) -> list[str]:
    """Subfolders of ``folder`` that are output sets of other compplan runs.

    A folder with a manifest of its own (``--out evaluation/gtm`` inside ``--out
    evaluation``) is not this folder's and not someone else's: a commit keeps it, moved
    into the new set whole.
    """
    return _entries(folder)[1]


def _entries(folder: Path) -> tuple[list[str], list[str]]:
    """(files compplan did not write, nested output sets), relative paths, sorted."""
    ours = read_manifest(folder) or {}
    folders = {str(Path(name).parent.as_posix()) for name in ours}
    folders |= {p for name in folders for p in _parents(name)}
    found: list[str] = []
    nested: list[str] = []

    def visit(path: Path, relative: str) -> None:
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            name = f"{relative}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if name in folders:
                    visit(Path(entry.path), f"{name}/")
                elif read_manifest(Path(entry.path)) is not None:
                    nested.append(name)
                else:
                    inner = _all_entries(Path(entry.path), f"{name}/")
                    found.extend(inner or [f"{name}/"])
            elif relative == "" and entry.name == MANIFEST:
                continue
            elif name not in ours or not entry.is_file(follow_symlinks=False) or \
                    _signature(entry) != ours[name]:
                found.append(name)

    visit(folder, "")
    return sorted(found), sorted(nested)


def _parents(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _all_entries(path: Path, relative: str) -> list[str]:
    found: list[str] = []
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False):
            found.extend(_all_entries(Path(entry.path), f"{relative}{entry.name}/")
                         or [f"{relative}{entry.name}/"])
        else:
            found.append(f"{relative}{entry.name}")
    return found


def _signature(entry: os.DirEntry[str]) -> tuple[int, int]:
    info = entry.stat(follow_symlinks=False)
    return info.st_size, info.st_mtime_ns


def _is_case_folder(folder: Path) -> bool:
    return (folder / "case.toml").is_file()


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _target(path: str | Path) -> Path:
    """The folder to replace: a symbolic link to a folder is followed (the link stays)."""
    if str(path) == "":
        raise OutputError("the output folder is empty ('--out \"\"'): name a folder")
    absolute = Path(os.path.abspath(path))
    if absolute.is_symlink():
        if not absolute.is_dir():
            raise OutputError(f"{path} is a symbolic link to something that is not a folder")
        return absolute.resolve()
    return absolute


def _check_target(target: Path, shown: Path, inputs: Iterable[Path], force: bool) -> None:
    for given in inputs:
        try:
            source = Path(os.path.abspath(given)).resolve()
        except OSError:
            # A path the OS refuses (a name too long) is no file of the output folder;
            # reading it says what is wrong with it, in the reader's words.
            continue
        if _within(source, target):
            raise OutputError(f"{shown} holds an input of this run ({given}): write the output "
                              "to another folder")
    if not os.path.lexists(target):
        return
    mode = os.lstat(target).st_mode
    if not stat.S_ISDIR(mode):
        raise OutputError(f"{shown} is {_describe(mode)}, not a folder: give a folder for the "
                          "output files")
    if _is_case_folder(target):
        raise OutputError(f"{shown} is a case folder: write the output to another folder")
    if target == Path.cwd() or _within(Path.cwd(), target):
        raise OutputError(f"{shown} is the current folder (or holds it): give a folder of "
                          "its own for the output files")
    if force:
        return
    foreign = foreign_entries(target)
    if foreign:
        listed = ", ".join(shorten(f, 40) for f in foreign[:5])
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise OutputError(f"{shown} holds files compplan did not write ({listed}{more}); "
                          "give an empty or new folder, or --force to keep them beside "
                          "the new files")


def _describe(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, words in ((stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a symbolic link"),
                        (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                        (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                        (stat.S_ISREG, "a file")):
        if test(mode):
            return words
    return "not a regular file"


def shorten(text: str, limit: int = 80) -> str:
    """``text`` with invisible characters escaped and cut to ``limit`` characters."""
    shown = text if text.isprintable() else repr(text)[1:-1]
    return shown if len(shown) <= limit else shown[:limit] + "..."


def _escaped(text: str) -> str:
    """A path as given, with invisible characters escaped (never cut: it must be found)."""
    return text if text.isprintable() else repr(text)[1:-1]


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where not supported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tidy(target: Path) -> None:
    """Undo or remove what killed commits beside ``target`` left (called under the lock)."""
    parent = target.parent
    for entry in sorted(parent.iterdir(), key=lambda p: p.name):
        match = _LEFTOVER.match(entry.name)
        if not match or match["name"] != target.name or _alive(int(match["pid"])):
            continue
        if match["kind"] == "old" and not os.path.lexists(target):
            os.rename(entry, target)  # killed between the two renames: the old set is back
            continue
        # A staging folder that never committed has no manifest: all of it is ours.
        unstaged = match["kind"] == "new" and read_manifest(entry) is None
        if os.path.lexists(target) and os.path.isdir(target) and not unstaged:
            _move_foreign(entry, target)  # a --force run's kept files go back
        shutil.rmtree(entry, ignore_errors=True)


def _move_foreign(source: Path, destination: Path) -> None:
    """Move what compplan did not write in ``source`` into ``destination``.

    Each entry goes at the shallowest level ``destination`` lacks (a user's
    ``reps/alice.html`` joins the new ``reps/`` folder); where ``destination`` already
    has the path, the new file wins (``--force``).
    """
    for name in [*foreign_entries(source), *nested_sets(source)]:
        parts = name.rstrip("/").split("/")
        for depth in range(1, len(parts) + 1):
            relative = Path(*parts[:depth])
            if not os.path.lexists(destination / relative):
                if os.path.lexists(source / relative):
                    (destination / relative).parent.mkdir(parents=True, exist_ok=True)
                    os.rename(source / relative, destination / relative)
                break
            if not (destination / relative).is_dir() or (destination / relative).is_symlink():
                break


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` (the parent of the target) for the commit."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # a file system without locks: commit anyway
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def recover(path: str | Path) -> None:
    """Tidy what killed runs left beside the output folder ``path`` (under its lock).

    Commits do this themselves; call it to bring a folder back to a clean state
    without writing (a killed fallback commit may have left the old set hidden).
    """
    target = _target(path)
    if target.parent.is_dir():
        with _locked(target.parent):
            _tidy(target)


def _file_mode(base: int) -> int:
    umask = os.umask(0)
    os.umask(umask)
    return base & ~umask


class OutputFolder:
    """One run's output folder, staged beside the target and swapped in whole.

    Use :func:`output_folder`, the context manager, rather than this class.
    """

    def __init__(self, path: str | Path, *, force: bool = False,
                 inputs: Iterable[str | Path] = ()) -> None:
        self.target = _target(path)
        self.shown = Path(path)
        self.force = force
        self.inputs = [Path(p) for p in inputs]
        self.staging: Path | None = None
        self._created: list[Path] = []

    def begin(self) -> Path:
        """Check the target and make the staging folder; returns the staging folder."""
        _check_target(self.target, self.shown, self.inputs, self.force)
        parent = self.target.parent
        while not os.path.lexists(parent) and parent != parent.parent:
            self._created.append(parent)
            parent = parent.parent
        if not parent.is_dir():
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(
            prefix=f".{self.target.name}.compplan-new-{os.getpid()}-", dir=self.target.parent))
        os.chmod(self.staging, _file_mode(0o777))
        return self.staging

    def abort(self) -> None:
        """Remove the staging folder, and the parents :meth:`begin` made if empty."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        for folder in self._created:
            try:
                folder.rmdir()
            except OSError:
                break

    def commit(self) -> None:
        """Swap the staging folder in place of the target, under the parent's lock."""
        assert self.staging is not None, "begin() first"
        staging, target = self.staging, self.target
        write_manifest(staging)  # what this run wrote, before anyone's files join it
        with _locked(target.parent):
            _tidy(target)
            _check_target(target, self.shown, self.inputs, self.force)
            if not os.path.lexists(target):
                os.rename(staging, target)
                self.staging = None
                return
            nested = nested_sets(target)  # another run's set inside this folder: kept
            clash = next((n for n in nested if os.path.lexists(staging / n)), None)
            if clash is not None:  # checked before anything moves: nothing is lost
                raise OutputError(f"{_escaped(str(self.shown / clash))} holds the files of "
                                  "another compplan run, and this run writes a folder of that "
                                  "name: write the output to another folder")
            for name in nested:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                os.rename(target / name, staging / name)
            if self.force:
                _move_foreign(target, staging)
            if _EXCHANGE and _exchange(staging, target):
                old = staging
            else:
                old = staging.with_name(staging.name.replace("-new-", "-old-", 1))
                os.rename(target, old)
                os.rename(staging, target)
        self.staging = None
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def output_folder(path: str | Path, *, force: bool = False,
                  inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Write a set of output files as one transaction: the old set or the new, never a mix.

    Parameters
    ----------
    path : str or Path
        The output folder. Made if absent; replaced whole if it holds only files
        compplan writes (:data:`KNOWN_OUTPUTS`, in subfolders too). A symbolic link
        to a folder is followed.
    force : bool
        Accept a folder holding other files: they are kept, moved into the new set.
    inputs : iterable of path
        Inputs of the run (the case folder, a plan file): the output folder may not
        be or hold one of them.

    Yields
    ------
    Path
        The staging folder: write every file of the run into it (``write_atomic``,
        ``write_json``, subfolders). On a normal exit it replaces the target; on any
        exception it is removed and the old set stays as it was.

    Raises
    ------
    OutputError
        The folder is a file, a case folder, the current folder, holds an input, or
        holds files compplan did not write (without ``force``).
    OSError
        A file could not be written (disk full, permissions): the old set is intact.

    Examples
    --------
    >>> with output_folder("plans/fy27", inputs=["cases/fy27"]) as folder:  # doctest: +SKIP
    ...     write_json(folder / "plan.json", doc)
    """
    transaction = OutputFolder(path, force=force, inputs=inputs)
    staging = transaction.begin()
    try:
        yield staging
    except BaseException:
        transaction.abort()
        raise
    try:
        transaction.commit()
    except BaseException:
        transaction.abort()
        raise


def check_output_file(path: str | Path, *, suffixes: tuple[str, ...] = (),
                      inputs: Iterable[str | Path] = (), stdout: bool = False) -> Path | None:
    """Check where a single output file may go; ``None`` means standard output (``-``).

    Refuses an empty name, ``-`` where standard output makes no sense, a wrong
    extension, an existing target that is not a regular file (a folder, a FIFO, a
    device, a symbolic link), a file of a case folder's inputs, and any of ``inputs``.

    Parameters
    ----------
    path : str or Path
        The file as given on the command line.
    suffixes : tuple of str
        Allowed extensions, lower case with the dot (``(".xlsx",)``); empty: any.
    inputs : iterable of path
        Files this run reads: the output may not be one of them.
    stdout : bool
        ``-`` means standard output.

    Returns
    -------
    Path or None
        The path to write, or None for standard output.

    Raises
    ------
    OutputError
        With the reason.
    """
    text = str(path)
    if text == "":
        raise OutputError("the output file name is empty: name a file")
    if text == "-":
        if stdout:
            return None
        raise OutputError("'-' (standard output) is not possible for this file: name a file")
    out = Path(text)
    if suffixes and out.suffix.lower() not in suffixes:
        raise OutputError(f"{_escaped(text)}: the file name must end in "
                          f"{' or '.join(suffixes)}")
    if os.path.lexists(out):
        mode = os.lstat(out).st_mode
        if not stat.S_ISREG(mode):
            raise OutputError(f"{_escaped(text)} is {_describe(mode)}, not a regular file; "
                              "name a new file" + (" (or - for standard output)" if stdout
                                                   else ""))
    absolute = Path(os.path.abspath(out))
    for given in inputs:
        source = Path(os.path.abspath(given))
        if absolute == source or (os.path.exists(out) and source.exists()
                                  and os.path.samefile(out, source)):
            raise OutputError(f"{_escaped(text)} is an input of this run: writing it would "
                              "overwrite it; name another file")
    if _is_case_folder(absolute.parent) and out.name.lower() in CASE_INPUTS:
        raise OutputError(f"{_escaped(text)} is an input file of the case in "
                          f"{absolute.parent}: name another file")
    return out
