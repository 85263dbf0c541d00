"""Atomic output directories and JSON files: a failed run leaves nothing half-written.

:class:`StagedDir` collects a run's files in a hidden sibling directory and moves it
into place only when the run succeeded; on any error the staging directory is
removed and an earlier output directory of the same name is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO


def dumps(obj: Any) -> str:
    """Stable JSON text: fixed key order as built, two-space indent, trailing newline."""
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` whole when the block ends without error:
    written to a temporary file in the same directory, then renamed over ``path``; a
    reader (or a killed writer) sees the old file or the new one, never a part. The
    file is opened normally, so it gets the usual permissions (umask), not 0600."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        with tmp.open("xb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically (see :func:`open_atomic`)."""
    with open_atomic(path) as fh:
        fh.write(data)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Writes ``obj`` as :func:`dumps` text to ``path`` atomically."""
    write_bytes_atomic(path, dumps(obj).encode("utf-8"))


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
