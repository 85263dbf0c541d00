"""Atomic output directories and JSON files: a failed run leaves nothing half-written.

:class:`StagedDir` collects a run's files in a hidden sibling directory and moves it
into place only when the run succeeded; on any error the staging directory is
removed and an earlier output directory of the same name is left as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any


def dumps(obj: Any) -> str:
    """Stable JSON text: fixed key order as built, two-space indent, trailing newline."""
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Writes JSON to ``path`` through a temporary file in the same directory."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(obj)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StagedDir:
    """A directory that appears at ``final`` whole, or not at all.

    Use as a context manager; write files under :attr:`path`; call :meth:`commit` at
    the end. Leaving the block without committing (an exception, an early return)
    removes everything staged.
    """

    def __init__(self, final: str | os.PathLike[str]) -> None:
        self.final = Path(final)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(
            tempfile.mkdtemp(prefix=f".{self.final.name}.staging-", dir=self.final.parent)
        )
        self._committed = False

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

    def commit(self) -> None:
        """Moves the staged directory into place, replacing an earlier one."""
        old: Path | None = None
        if self.final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.old-", dir=self.final.parent))
            old.rmdir()
            os.replace(self.final, old)
        os.replace(self.path, self.final)
        self._committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
