"""The trace formats by name, and telling a file's format from its first line.

``gavel`` (today's 10-field TSV) is read by :mod:`workloads.trace`; the others by
their modules here. Detection looks at the first non-blank line and names the
format only when exactly one matches; otherwise the user says ``--trace-format``.
"""

from __future__ import annotations

import os

from hetsim.errors import InputError
from workloads.trace import FIELDS as GAVEL_FIELDS
from workloads.traces import alibaba, gavel7, helios, itp, philly, tiresias
from workloads.traces.record import TraceFormat
from workloads.traces.rows import open_text

__all__ = ["FORMAT_NAMES", "GAVEL", "detect_format", "get_format"]

GAVEL = "gavel"
"""Gavel's 10-field TSV (the reference's current trace format)."""

_READERS: dict[str, TraceFormat] = {
    f.name: f
    for f in (
        itp.FORMAT,
        gavel7.FORMAT,
        tiresias.FORMAT,
        alibaba.FORMAT,
        philly.FORMAT,
        helios.FORMAT,
    )
}
FORMAT_NAMES: tuple[str, ...] = (GAVEL, *_READERS)


def get_format(name: str, *, source: str = "--trace-format") -> TraceFormat:
    """The reader of a format other than ``gavel``; InputError naming the known ones."""
    reader = _READERS.get(name)
    if reader is None:
        raise InputError(
            f"unknown trace format {name!r} (known: {', '.join(FORMAT_NAMES)})",
            source=source,
            field="trace_format",
        )
    return reader


def _first_line(path: str) -> str:
    with open_text(path) as f:
        try:
            for line in f:
                if line.strip():
                    return str(line).rstrip("\r\n")
        except UnicodeDecodeError:
            raise InputError("trace is not UTF-8 text", source=path) from None
    raise InputError("trace is empty", source=path)


def _sniff_gavel(head: str) -> bool:
    return head.count("\t") == len(GAVEL_FIELDS) - 1


def detect_format(path: str | os.PathLike[str]) -> str:
    """The one format whose first line ``path``'s first line looks like."""
    source = os.fspath(path)
    head = _first_line(source)
    found = [GAVEL] if _sniff_gavel(head) else []
    found += [name for name, reader in _READERS.items() if reader.sniff(head)]
    if len(found) == 1:
        return found[0]
    what = "no known format" if not found else f"several formats ({', '.join(found)})"
    raise InputError(
        f"cannot tell the trace's format from its first line ({what}); give --trace-format "
        f"({', '.join(FORMAT_NAMES)})",
        source=source,
        line=1,
        field="trace_format",
    )
