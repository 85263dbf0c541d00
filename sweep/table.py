"""A sweep's run records as one table: ``results.csv`` (and ``results.parquet``).

One row per run, sorted by policy (in the spec's order), server size (the
``gpus_per_server`` column: empty unless the sweep has that dimension), rate and seed.
Times are in hours except the wall and solver seconds (``solver_time_s``: the run's
wall time inside the allocation solvers, each attempt with its input conversion); a run
that did not finish any window job has empty JCT cells. Parquet is written too when
pyarrow is installed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hetsim.errors import InputError
from hetsim.output import write_bytes_atomic

RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"

COLUMNS: tuple[str, ...] = (
    "scenario",
    "trace",
    "policy",
    "gpus_per_server",
    "rate",
    "seed",
    "status",
    "saturated",
    "end_reason",
    "avg_jct_h",
    "jct_p50_h",
    "jct_p90_h",
    "jct_p99_h",
    "window_completed",
    "window_total",
    "utilization",
    "sim_time_h",
    "wall_time_s",
    "solver_solves",
    "solver_fallbacks",
    "solver_failures",
    "solver_time_s",
    "quirks",
    "error",
)
FLOAT_COLUMNS = frozenset(
    {
        "rate",
        "avg_jct_h",
        "jct_p50_h",
        "jct_p90_h",
        "jct_p99_h",
        "utilization",
        "sim_time_h",
        "wall_time_s",
        "solver_time_s",
    }
)
INT_COLUMNS = frozenset(
    {
        "gpus_per_server",
        "seed",
        "window_completed",
        "window_total",
        "solver_solves",
        "solver_fallbacks",
        "solver_failures",
    }
)
BOOL_COLUMNS = frozenset({"saturated"})
OPTIONAL_COLUMNS = frozenset({"gpus_per_server", "solver_time_s"})
"""Columns a results.csv written before they existed lacks (read as empty)."""
HOUR = 3600.0


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / HOUR


def row_of(record: dict[str, Any]) -> dict[str, Any]:
    """The table row of one run record."""
    key = record["key"]
    result = record.get("result") or {}
    solver = result.get("solver") or {}
    config = record.get("config") or {}
    worker = record.get("worker") or {}
    return {
        "scenario": record.get("sweep"),
        "trace": record.get("trace"),
        "policy": key["policy"],
        "gpus_per_server": key.get("gpus_per_server"),
        "rate": float(key["rate"]),
        "seed": int(key["seed"]),
        "status": record["status"],
        "saturated": bool(result.get("saturated", False)),
        "end_reason": result.get("end_reason"),
        "avg_jct_h": result.get("avg_jct_h"),
        "jct_p50_h": _hours(result.get("jct_p50_s")),
        "jct_p90_h": _hours(result.get("jct_p90_s")),
        "jct_p99_h": _hours(result.get("jct_p99_s")),
        "window_completed": result.get("window_jobs_completed"),
        "window_total": result.get("window_jobs_total"),
        "utilization": (result.get("utilization") or {}).get("overall"),
        "sim_time_h": _hours(result.get("sim_time_s")),
        "wall_time_s": result.get("wall_time_s", worker.get("wall_s")),
        "solver_solves": solver.get("solves"),
        "solver_fallbacks": solver.get("fallbacks"),
        "solver_failures": solver.get("failures"),
        "solver_time_s": solver.get("time_s"),
        "quirks": config.get("quirks"),
        "error": record.get("error"),
    }


def rows_of(
    records: Iterable[dict[str, Any]], policy_order: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Rows sorted by policy (``policy_order`` first, then by name), server size (with
    the sweep's ``gpus_per_server`` dimension), rate, seed."""
    rank = {name: i for i, name in enumerate(policy_order)}
    rows = [row_of(r) for r in records]
    rows.sort(
        key=lambda r: (
            rank.get(r["policy"], len(rank)),
            r["policy"],
            r["gpus_per_server"] or 0,
            r["rate"],
            r["seed"],
        )
    )
    return rows


def time_split(rows: Iterable[dict[str, Any]]) -> tuple[float, float]:
    """The runs' wall seconds summed, and the part of them spent in the solvers, over
    the rows that have both (a crashed run, or a row of an older results.csv without
    solver times, counts in neither)."""
    wall = solver = 0.0
    for row in rows:
        if row.get("wall_time_s") is not None and row.get("solver_time_s") is not None:
            wall += float(row["wall_time_s"])
            solver += float(row["solver_time_s"])
    return wall, solver


def csv_cell(value: Any) -> str:
    """A CSV cell: empty for None, true/false, floats round-trip exactly, one line."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value).replace("\n", " ")


def write_results(out_dir: Path, rows: list[dict[str, Any]]) -> list[Path]:
    """Writes results.csv (and results.parquet with pyarrow) atomically; the paths."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(row[c]) for c in COLUMNS])
    written = [out_dir / RESULTS_CSV]
    write_bytes_atomic(written[0], buffer.getvalue().encode("utf-8"))
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return written
    table = pa.Table.from_pylist([{c: row[c] for c in COLUMNS} for row in rows])
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    written.append(out_dir / RESULTS_PARQUET)
    write_bytes_atomic(written[1], sink.getvalue().to_pybytes())
    return written


def _parse(column: str, text: str, where: str) -> Any:
    if text == "":
        return None
    try:
        if column in FLOAT_COLUMNS:
            return float(text)
        if column in INT_COLUMNS:
            return int(text)
    except ValueError:
        raise InputError(f"not a number: {text!r}", source=where, field=column) from None
    if column in BOOL_COLUMNS:
        if text not in ("true", "false"):
            raise InputError(f"expected true or false, got {text!r}", source=where, field=column)
        return text == "true"
    return text


def read_results(path: Path) -> list[dict[str, Any]]:
    """Reads a results.csv back into typed rows (InputError naming file, line, column)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"no such file; `hetsim plot {path.parent} --rebuild` rebuilds it from the "
            "sweep's run records",
            source=str(path),
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", source=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text; is it a results.csv?", source=str(path)) from None
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise InputError("holds a NUL byte; is it a results.csv?", source=str(path), line=line)
    reader = csv.reader(io.StringIO(text))
    try:
        lines = list(reader)
    except csv.Error as exc:
        raise InputError(f"not CSV: {exc}", source=str(path), line=reader.line_num) from None
    header = lines[0] if lines else None
    if header is None:
        raise InputError("empty file; expected a header line", source=str(path), line=1)
    missing = [c for c in COLUMNS if c not in header and c not in OPTIONAL_COLUMNS]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}", source=str(path), line=1, field=missing[0]
        )
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        if not cells:
            continue
        if len(cells) != len(header):
            raise InputError(
                f"{len(cells)} cells, expected {len(header)}", source=f"{path}", line=number
            )
        where = f"{path}:{number}"
        row = dict.fromkeys(OPTIONAL_COLUMNS)
        row.update(
            {c: _parse(c, v, where) for c, v in zip(header, cells, strict=True) if c in COLUMNS}
        )
        if row["policy"] is None or row["rate"] is None or row["status"] is None:
            raise InputError("policy, rate and status are required", source=where, field="policy")
        rows.append(row)
    return rows
