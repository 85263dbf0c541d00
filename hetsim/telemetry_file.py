"""Writes and reads a run's per-round telemetry table (``telemetry.parquet`` or ``.csv``).

The table is built by :class:`des.telemetry.TelemetryCollector`; this module only turns
its columns into a file and back. Parquet is the default (typed, compact, read by pandas,
polars, DuckDB); CSV is on request (``--telemetry csv``). Both are written through a
temporary file, so a reader never sees half a table. The columns are in docs/telemetry.md.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hetsim.errors import InputError
from hetsim.output import write_bytes_atomic

FORMATS = ("parquet", "csv", "none")
FILE_NAMES = {"parquet": "telemetry.parquet", "csv": "telemetry.csv"}
STRING_COLUMNS = ("solver", "phase")  # typed explicitly when a CSV file is read


def to_table(columns: dict[str, npt.NDArray[Any]]) -> pa.Table:
    """The columns as an Arrow table (string columns dictionary-encoded)."""
    arrays = {}
    for name, values in columns.items():
        if values.dtype == object:
            arrays[name] = pa.array(values.tolist(), type=pa.string()).dictionary_encode()
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def write_telemetry(directory: Path, columns: dict[str, npt.NDArray[Any]], fmt: str) -> Path:
    """Writes the table as ``DIR/telemetry.parquet`` or ``DIR/telemetry.csv``."""
    table = to_table(columns)
    buf = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, buf, compression="zstd")
    elif fmt == "csv":
        plain = pa.table(
            {
                name: col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col
                for name, col in zip(table.column_names, table.columns, strict=True)
            }
        )
        pacsv.write_csv(plain, buf)
    else:
        raise ValueError(f"unknown telemetry format {fmt!r}")
    path = directory / FILE_NAMES[fmt]
    write_bytes_atomic(path, buf.getvalue())
    return path


def find_telemetry(directory: Path) -> Path | None:
    """The run directory's telemetry file, Parquet first; None when it has none."""
    for name in FILE_NAMES.values():
        if (directory / name).is_file():
            return directory / name
    return None


def read_telemetry(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The table as column name -> numpy array (strings as object arrays)."""
    try:
        if path.suffix == ".csv":
            types = {name: pa.string() for name in STRING_COLUMNS}
            convert = pacsv.ConvertOptions(column_types=types, strings_can_be_null=False)
            table = pacsv.read_csv(path, convert_options=convert)
        else:
            table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"not a readable telemetry table ({exc})", source=str(path)) from None
    out: dict[str, npt.NDArray[Any]] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(col.type) or pa.types.is_string(col.type):
            out[name] = np.array(
                ["" if v is None else v for v in col.cast(pa.string()).to_pylist()], dtype=object
            )
        elif pa.types.is_null(col.type):
            out[name] = np.full(len(col), np.nan)  # an all-NaN column in a CSV file
        else:
            out[name] = col.to_numpy(zero_copy_only=False)
    return out
