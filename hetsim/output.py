"""Atomic output files: a reader (or a killed writer) sees the old file or the new one.

A run's whole output directory is staged and committed by :mod:`hetsim.rundir`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from hetsim.errors import InputError, option_error


def dumps(obj: Any) -> str:
    """Stable JSON text: fixed key order as built, two-space indent, trailing newline."""
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def check_output_dir(path: Path, flag: str) -> bool:
    """Refuses (InputError naming ``flag``) a directory path that cannot be created or
    written: the current directory or a parent of it, one below a file, a symbolic
    link, an existing file, a read-only place. True if the directory exists."""
    target = Path(os.path.abspath(path))
    here = Path.cwd().resolve()
    if target.resolve() == here or target.resolve() in here.parents:
        raise option_error(flag, f"{path} is the current directory or holds it; give a new one")
    ancestor = next(p for p in (target, *target.parents) if p.exists() or p.is_symlink())
    if ancestor != target and not ancestor.is_dir():
        raise option_error(flag, f"cannot create {path}: {ancestor} is a file, not a directory")
    where = ancestor if ancestor != target else target.parent
    if not os.access(where, os.W_OK | os.X_OK):
        raise option_error(flag, f"cannot write in {where} (read-only or not permitted)")
    if ancestor != target:
        return False
    if target.is_symlink():
        raise option_error(flag, f"{path} is a symbolic link; give a directory")
    if not target.is_dir():
        raise option_error(flag, f"{path} exists and is not a directory")
    return True


def check_output_file(path: Path, flag: str) -> None:
    """Refuses (InputError naming ``flag``) a file path that cannot be written: a
    directory, a missing or non-directory parent, a read-only place."""
    parent = Path(os.path.abspath(path)).parent

    def bad(message: str) -> InputError:
        return option_error(flag, message)

    if path.is_dir():
        raise bad(f"{path} is a directory; give a file name")
    if not parent.exists():
        raise bad(f"cannot write {path}: no such directory {parent}")
    if not parent.is_dir():
        raise bad(f"cannot write {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise bad(f"cannot write in {parent} (read-only or not permitted)")


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
        # a clean-up that fails too (a read-only file system) must not hide the error
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically (see :func:`open_atomic`)."""
    with open_atomic(path) as fh:
        fh.write(data)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Writes ``obj`` as :func:`dumps` text to ``path`` atomically."""
    write_bytes_atomic(path, dumps(obj).encode("utf-8"))
