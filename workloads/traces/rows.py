"""Streaming row sources for trace files: CSV by header name, headerless TSV, a JSON list.

Each source yields :class:`Row` objects one at a time from an open file, so reading a
trace takes memory for one row (one JSON object) however long the file is. A
:class:`Row` knows its file and line, and its accessors raise the one-line
:class:`~hetsim.errors.InputError` naming the file, line and field.
"""

from __future__ import annotations

import calendar
import csv
import json
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from hetsim.errors import InputError

__all__ = ["Row", "csv_rows", "json_list_rows", "open_text", "tsv_rows"]

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Row:
    """One record of a trace file: its fields by name, and where it was read."""

    source: str
    line: int
    fields: Mapping[str, Any]

    def fail(self, field: str, message: str) -> NoReturn:
        raise InputError(message, source=self.source, line=self.line, field=field)

    def raw(self, field: str) -> Any:
        if field not in self.fields:
            self.fail(field, "missing")
        return self.fields[field]

    def text(self, field: str, *, required: bool = True) -> str:
        value = self.raw(field) if required else self.fields.get(field)
        if value is None:
            if required:
                self.fail(field, "is null")
            return ""
        text = str(value).strip()
        if required and not text:
            self.fail(field, "is empty")
        return text

    def number(self, field: str, *, minimum: float | None = 0.0) -> float:
        """A finite number (>= ``minimum`` unless None); empty, null or NaN is an error."""
        value = self.raw(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            self.fail(field, "is empty" if value is not None else "is null")
        if isinstance(value, bool):
            self.fail(field, f"must be a number, not {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(field, f"must be a number, not {value!r}")
        if not math.isfinite(number):
            self.fail(field, f"must be finite, not {value!r}")
        if minimum is not None and number < minimum:
            self.fail(field, f"must be >= {minimum:g}, not {value!r}")
        return number

    def integer(self, field: str, *, minimum: int = 0) -> int:
        number = self.number(field, minimum=minimum)
        if number != int(number):
            self.fail(field, f"must be a whole number, not {self.raw(field)!r}")
        return int(number)

    def date(self, field: str) -> float:
        """Seconds since 1970 of a ``YYYY-MM-DD HH:MM:SS`` time (read as UTC)."""
        text = self.text(field)
        try:
            return float(calendar.timegm(time.strptime(text, DATE_FORMAT)))
        except ValueError:
            self.fail(field, f"must be a time YYYY-MM-DD HH:MM:SS, not {text!r}")


def open_text(path: str | os.PathLike[str], what: str = "trace") -> Any:
    """The file opened for reading text (universal newlines kept for csv); InputError if
    it cannot be opened."""
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror}", source=os.fspath(path)) from exc


def _decode_guard(source: str, rows: Iterator[Row]) -> Iterator[Row]:
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        raise InputError("trace is not UTF-8 text", source=source) from exc


def csv_rows(
    path: str | os.PathLike[str], required: Sequence[str], delimiter: str = ","
) -> Iterator[Row]:
    """Rows of a CSV file with a header, fields by (stripped) header name; columns not in
    ``required`` are kept but may be absent. Blank lines are skipped."""
    source = os.fspath(path)
    return _decode_guard(source, _csv_rows(source, required, delimiter))


def _csv_rows(source: str, required: Sequence[str], delimiter: str) -> Iterator[Row]:
    with open_text(source) as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise InputError("trace is empty (no header line)", source=source) from None
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", source=source, line=1) from None
        for name in required:
            if name not in header:
                raise InputError(
                    f"header lacks column {name!r} (it has {', '.join(header)})",
                    source=source,
                    line=1,
                    field=name,
                )
        width = len(header)
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InputError(
                    f"malformed CSV: {exc}", source=source, line=reader.line_num
                ) from None
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            if len(values) != width:
                yield Row(source, reader.line_num, {"__width__": len(values), "__want__": width})
                continue
            yield Row(source, reader.line_num, dict(zip(header, values, strict=True)))


def tsv_rows(path: str | os.PathLike[str], names: Sequence[str]) -> Iterator[Row]:
    """Rows of a headerless tab-separated file, fields named by position."""
    source = os.fspath(path)
    return _decode_guard(source, _tsv_rows(source, names))


def _tsv_rows(source: str, names: Sequence[str]) -> Iterator[Row]:
    with open_text(source) as f:
        for lineno, raw in enumerate(f, start=1):
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            values = text.split("\t")
            if len(values) != len(names):
                yield Row(source, lineno, {"__width__": len(values), "__want__": len(names)})
                continue
            yield Row(source, lineno, dict(zip(names, values, strict=True)))


def check_width(row: Row) -> None:
    """Fails a row whose number of fields did not match the header."""
    if "__width__" in row.fields:
        row.fail(
            "fields", f"expected {row.fields['__want__']} fields, found {row.fields['__width__']}"
        )


def json_list_rows(path: str | os.PathLike[str]) -> Iterator[Row]:
    """The objects of a file holding one JSON list of objects, decoded one at a time.

    The line of a row is the line where its object starts. A row that is not an
    object gets the fields ``{"__not_object__": value}``.
    """
    source = os.fspath(path)
    return _decode_guard(source, _json_rows(source))


class _JsonStream:
    """A growing text buffer over a file, with the line number of the read position."""

    def __init__(self, f: Any, source: str) -> None:
        self.f = f
        self.source = source
        self.buf = ""
        self.pos = 0
        self.line = 1
        self.eof = False

    def more(self) -> bool:
        if self.eof:
            return False
        chunk = self.f.read(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def advance(self, new: int) -> None:
        self.line += self.buf.count("\n", self.pos, new)
        self.pos = new

    def peek(self) -> str:
        """The next non-blank character ('' at the end of the file)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos].isspace():
                self.advance(self.pos + 1)
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def fail(self, message: str) -> NoReturn:
        raise InputError(message, source=self.source, line=self.line)


def _json_rows(source: str) -> Iterator[Row]:
    decoder = json.JSONDecoder()
    with open_text(source) as f:
        stream = _JsonStream(f, source)
        if stream.peek() != "[":
            stream.fail("expected a JSON list of jobs ('[' first)")
        stream.advance(stream.pos + 1)
        first = True
        while True:
            char = stream.peek()
            if char == "]":
                return
            if char == "":
                stream.fail("the JSON list is not closed (the file ends early)")
            if not first:
                if char != ",":
                    stream.fail(f"expected ',' or ']' between jobs, found {char!r}")
                stream.advance(stream.pos + 1)
                stream.peek()
            first = False
            while True:
                try:
                    value, end = decoder.raw_decode(stream.buf, stream.pos)
                    break
                except json.JSONDecodeError as exc:
                    if not stream.more():
                        line = stream.line + stream.buf.count("\n", stream.pos, exc.pos)
                        raise InputError(
                            f"not valid JSON: {exc.msg}", source=source, line=line
                        ) from None
            lineno = stream.line
            stream.advance(end)
            fields = value if isinstance(value, dict) else {"__not_object__": value}
            yield Row(source, lineno, fields)
