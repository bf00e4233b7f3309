"""An output folder is one transaction: a reader sees the old set of files or the new one.

Every command that writes a folder of files (``optimise --out``, ``evaluate --out``,
``audit``, ``explain``, ``compare``, and new ones) adopts it in one line::

    with output_folder(out, force=force, inputs=[case.path]) as folder:
        write_json(folder / "plan.json", doc)        # write into the staging folder
        ...                                          # subfolders too: folder / role / ...

and single files (``report --out``, ``export --xlsx``, ``evaluate --write-plan``) are
checked with :func:`check_output_file` and written with ``write_atomic``. On the
command line, ``compplan.cli.common.output_set`` wraps :func:`output_folder` with the
exit-2 messages, and ``force_option`` adds ``--force``. A command writing file names
not yet in :data:`KNOWN_OUTPUTS` declares them once with :func:`register_outputs`, so
that its earlier files count as its own (not as someone else's) on the next run.

How a folder is replaced
------------------------
1. On entry the target is checked (not a file, not a case folder or an input, no
   files compplan did not write unless ``force``) and a staging folder is made beside
   it, ``.<name>.compplan-new-<pid>-<random>``, on the same file system.
2. The body writes the new set into the staging folder. Any exception (disk full,
   Ctrl-C, an error) removes the staging folder: the old set is untouched.
3. On exit, under an exclusive ``flock`` on the parent folder (so two runs into one
   folder commit one after the other), the target is checked again and the staging
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
#: A folder holding only these (and subfolders holding only these) may be replaced.
KNOWN_OUTPUTS: set[str] = {
    "plan.json", "plan.csv", "plan.md", "rep_rates.csv", "run.json", "infeasibility.json",
    "evaluation.json", "rep_payouts.csv", "compare.csv", "compare.md", "audit.json",
    "audit.md", "plan_explained.md", "plan_explained.html", "org_plan.json", "org_plan.md",
    "org_plan.csv", "audit_org.json", "audit_org.md", "pulse.json", "pulse.md", "pulse.csv",
    "report.html",
}
#: Folders of generated pages (``explain --per-rep``): any file with the suffix is ours.
OWN_FOLDERS = {"reps": ".html"}
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
    """Declare more file names as compplan's own outputs (for :func:`output_folder`)."""
    KNOWN_OUTPUTS.update(names)


def _ours(name: str) -> bool:
    """A file name compplan writes, or a temporary of one (``.plan.json.x8f2``)."""
    if name in KNOWN_OUTPUTS:
        return True
    return name.startswith(".") and any(name.startswith(f".{k}.") for k in KNOWN_OUTPUTS)


def foreign_entries(folder: Path) -> list[str]:
    """Entries of ``folder`` that compplan did not write (subfolders: any file in them).

    Returns
    -------
    list of str
        Relative paths, sorted; empty when the folder holds only compplan's outputs.
    """
    found = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False) and entry.name in OWN_FOLDERS:
            suffix = OWN_FOLDERS[entry.name]
            found += [f"{entry.name}/{inner.name}" for inner in os.scandir(entry.path)
                      if not (inner.is_file(follow_symlinks=False)
                              and inner.name.endswith(suffix))]
        elif entry.is_dir(follow_symlinks=False):
            found += [f"{entry.name}/{inner}" for inner in foreign_entries(Path(entry.path))]
        elif not (entry.is_file(follow_symlinks=False) and _ours(entry.name)):
            found.append(entry.name)
    return found


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
        if os.path.lexists(target) and os.path.isdir(target):
            for name in foreign_entries(entry):
                top = name.split("/")[0]
                if not os.path.lexists(target / top):
                    os.rename(entry / top, target / top)  # a --force run's kept files
        shutil.rmtree(entry, ignore_errors=True)


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
        with _locked(target.parent):
            _tidy(target)
            _check_target(target, self.shown, self.inputs, self.force)
            if not os.path.lexists(target):
                os.rename(staging, target)
                self.staging = None
                return
            if self.force:
                for name in foreign_entries(target):
                    top = name.split("/")[0]
                    if not os.path.lexists(staging / top):
                        os.rename(target / top, staging / top)
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
