"""A run's output directory: what hetsim may replace, staging, and the atomic commit.

hetsim writes a run into a hidden staging directory beside its target,
``.NAME.staging-XXXX``, and moves it into place only when the run succeeded. Three
rules keep every file a user owns safe:

- :func:`check_target` refuses, before anything runs, a target that hetsim may not
  replace: an existing file, the current directory (or a parent of it), a symbolic
  link, a directory hetsim did not write, one that also holds files hetsim did not
  write, and (without ``force``) an earlier run's directory.
- A finished run's directory holds a marker, :data:`MARKER`, listing the files hetsim
  wrote there; only those are ever deleted, and only when ``force`` replaces them.
- A staging directory records the process that owns it (:data:`OWNER`); a later run
  to the same place removes the staging directories of processes that died (SIGKILL,
  a power cut) and leaves live ones alone. SIGINT and SIGTERM unwind normally and
  remove their own staging directory on the way out.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType

from hetsim.errors import InputError, option_error
from hetsim.output import check_output_dir, dumps

MARKER = ".hetsim-run"
"""In every finished run directory: JSON naming the files hetsim wrote there."""
OWNER = ".hetsim-staging"
"""In every staging directory: the owning process's pid and start time."""
LEGACY_FILES = ("result.json", "events.jsonl")
"""What a run directory held before the marker existed."""
ORPHAN_AGE_S = 60.0
"""A staging directory without an owner file is stale after this long (a live run
writes its owner file right after creating the directory)."""


def owned_files(directory: Path) -> set[str] | None:
    """The names hetsim wrote in ``directory`` (a finished run), or None if it is not
    a hetsim run directory: no marker, and not a result.json that hetsim wrote."""
    marker = directory / MARKER
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _legacy_files(directory)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("written_by") != "hetsim":
        return None
    files = data.get("files")
    if not isinstance(files, list):
        return None
    return {str(f) for f in files if isinstance(f, str) and "/" not in f} | {MARKER}


def _legacy_files(directory: Path) -> set[str] | None:
    try:
        result = json.loads((directory / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(result, dict) or "hetsim_version" not in result:
        return None
    return set(LEGACY_FILES)


def check_target(final: Path, flag: str, *, force: bool) -> None:
    """Refuses (InputError naming ``flag``) a target a run may not write or replace."""
    target = Path(os.path.abspath(final))
    if not check_output_dir(final, flag):
        return
    present = {p.name for p in target.iterdir()}
    if not present:
        return
    owned = owned_files(target)
    if owned is None:
        raise option_error(
            flag,
            f"{final} exists and is not a hetsim run directory; hetsim replaces only its "
            "own: give a new or empty directory",
        )
    foreign = sorted(present - owned)
    if foreign:
        raise option_error(
            flag,
            f"{final} holds files hetsim did not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); move them or give another directory",
        )
    if not force:
        raise option_error(flag, f"{final} holds an earlier run; give --force to replace it")


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a pid reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _alive(owner: str) -> bool:
    try:
        pid_text, _, started = owner.strip().partition(" ")
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _start_time(pid)
    return not (started and now is not None and now != started)


def remove_stale_staging(final: Path) -> list[Path]:
    """Deletes the staging directories for ``final`` whose process is gone; the list."""
    removed = []
    for path in final.parent.glob(f".{final.name}.staging-*"):
        if not path.is_dir() or path.is_symlink():
            continue
        try:
            owner = (path / OWNER).read_text(encoding="utf-8")
        except FileNotFoundError:
            try:
                stale = time.time() - path.stat().st_mtime > ORPHAN_AGE_S
            except OSError:
                continue
        except OSError:
            continue
        else:
            stale = not _alive(owner)
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class StagedDir:
    """A run directory that appears at ``final`` whole, or not at all.

    Use as a context manager; write files under :attr:`path`; call :meth:`commit` at
    the end. Leaving the block without committing (an exception, SIGINT, SIGTERM)
    removes everything staged, and the parent directories it created. Call
    :func:`check_target` first. Errors creating it are InputErrors naming ``flag``.
    """

    def __init__(self, final: str | os.PathLike[str], flag: str = "--out") -> None:
        self.final = Path(os.path.abspath(final))
        self.flag = flag
        self._created: list[Path] = []
        self._committed = False
        try:
            self._make_parents()
            remove_stale_staging(self.final)
            self.path = Path(
                tempfile.mkdtemp(prefix=f".{self.final.name}.staging-", dir=self.final.parent)
            )
            started = _start_time(os.getpid()) or ""
            (self.path / OWNER).write_text(f"{os.getpid()} {started}\n", encoding="utf-8")
        except OSError as exc:
            if hasattr(self, "path"):
                shutil.rmtree(self.path, ignore_errors=True)
            self._remove_parents()
            raise option_error(flag, f"cannot write {final}: {exc.strerror or exc}") from None

    def _make_parents(self) -> None:
        missing = [p for p in self.final.parents if not p.exists()]
        for parent in reversed(missing):
            parent.mkdir()
            self._created.append(parent)

    def _remove_parents(self) -> None:
        for parent in reversed(self._created):
            with contextlib.suppress(OSError):
                parent.rmdir()
        self._created.clear()

    def __enter__(self) -> StagedDir:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            shutil.rmtree(self.path, ignore_errors=True)
            self._remove_parents()

    def _keep_aside(self) -> Path:
        """Moves the staged output to a visible sibling, so that a finished run is not
        lost when its target can no longer be replaced."""
        kept = Path(tempfile.mkdtemp(prefix=f"{self.final.name}.run-", dir=self.final.parent))
        kept.rmdir()
        os.replace(self.path, kept)
        self._committed = True
        return kept

    def commit(self) -> None:
        """Writes the marker and moves the staged directory into place, replacing an
        earlier run there (whose own files only are deleted)."""
        (self.path / OWNER).unlink()
        files = sorted(p.name for p in self.path.iterdir())
        (self.path / MARKER).write_text(
            dumps({"written_by": "hetsim", "files": files}), encoding="utf-8"
        )
        old: Path | None = None
        owned: set[str] = set()
        if self.final.exists():
            # checked before the run; checked again in case files appeared meanwhile
            try:
                check_target(self.final, self.flag, force=True)
            except InputError as exc:
                kept = self._keep_aside()
                raise InputError(
                    f"{exc.message}; this run's output is kept in {kept}",
                    source=exc.source,
                    field=exc.field,
                ) from None
            owned = owned_files(self.final) or set()
            old = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.old-", dir=self.final.parent))
            old.rmdir()
            os.replace(self.final, old)
        os.replace(self.path, self.final)
        self._committed = True
        if old is not None:
            for name in owned:
                with contextlib.suppress(FileNotFoundError):
                    (old / name).unlink()
            old.rmdir()
