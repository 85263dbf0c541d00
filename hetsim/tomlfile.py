"""Reading TOML input files so that every error can name the file, line and key.

:func:`load` parses a file (a syntax error becomes an :class:`InputError` with
tomllib's line); :meth:`TomlFile.error` builds the error for a bad or missing key,
pointing at the line where the key (or its nearest parent) is written.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hetsim.errors import InputError

_KEY_PART = r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+'
_DOTTED = rf"(?:{_KEY_PART})(?:\s*\.\s*(?:{_KEY_PART}))*"
_HEADER = re.compile(rf"\s*\[\[?\s*({_DOTTED})\s*\]\]?")
_ASSIGN = re.compile(rf"\s*({_DOTTED})\s*=")
_PART = re.compile(_KEY_PART)
_DECODE_LINE = re.compile(r"at line (\d+)")


def _split_key(dotted: str) -> tuple[str, ...]:
    """``a."b.c".d`` -> ('a', 'b.c', 'd'); quoted parts lose their quotes."""
    parts = []
    for part in _PART.findall(dotted):
        if part[:1] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return tuple(parts)


def find_line(text: str, path: tuple[str, ...]) -> int | None:
    """The line (1-based) where the key ``path`` is set or its table opens, if found.

    A heuristic over the raw text: it follows ``[table]`` headers, ``key =``
    lines (dotted keys included) and inline tables; it gives up (None) rather
    than guess.
    """
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header is not None and not _ASSIGN.match(line):
            table = _split_key(header.group(1))
            if table == path:
                return number
            continue
        assign = _ASSIGN.match(line)
        if assign is None:
            continue
        full = table + _split_key(assign.group(1))
        if full == path:
            return number
        if path[: len(full)] == full:
            # the key may sit in an inline table on this line: ``a100 = { bogus = 1 }``
            rest = line[assign.end() :]
            wanted = re.escape(path[-1])
            if re.search(rf"(?:^|[{{,\s])[\"']?{wanted}[\"']?\s*=", rest):
                return number
    return None


@dataclass(frozen=True)
class TomlFile:
    """A parsed TOML file with its text, for errors that point at lines."""

    source: str
    text: str
    data: dict[str, Any]

    def error(self, key: tuple[str, ...], message: str) -> InputError:
        """An InputError for ``key``; a missing key points at its nearest written parent."""
        line = None
        for depth in range(len(key), 0, -1):
            line = find_line(self.text, key[:depth])
            if line is not None:
                break
        return InputError(message, source=self.source, line=line, field=".".join(key))


def load(path: str | Path, what: str = "file") -> TomlFile:
    """Reads and parses ``path``; unreadable or malformed files raise InputError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise InputError(f"cannot read the {what}: {reason}", source=source) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = _DECODE_LINE.search(str(err))
        line = int(found.group(1)) if found else max(1, len(text.splitlines()))
        message = str(err).split(" (at ")[0]
        raise InputError(f"malformed TOML: {message}", source=source, line=line) from None
    return TomlFile(source, text, data)
