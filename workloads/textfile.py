"""Reading a user's input file as text, with a one-line InputError when it cannot be read."""

from __future__ import annotations

import os

from hetsim.errors import InputError


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """The file's text; InputError naming the file when it is missing, unreadable or not UTF-8."""
    source = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror}", source=source) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not UTF-8 text", source=source) from exc
