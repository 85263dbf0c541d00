"""Writes and reads a run's per-job table, ``DIR/jobs.parquet``: one row per job that
finished or failed.

Rows come from the run's :class:`des.jobrecords.CompletionLog` one chunk at a time (one
Parquet row group each), so writing it never holds every job in memory. Columns:
``job_id, arrival_s, finish_s, jct_s, scale_factor, status`` (``completed`` or
``failed``; a failed job's ``finish_s`` is when it was dropped and its ``jct_s`` is
null) and ``in_window`` (the job is in the measurement window, or there is none).
Completed jobs come first, in the order they finished, then failed ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from des.config import WindowConfig
from des.jobrecords import Completion, CompletionLog

JOBS_FILE = "jobs.parquet"
SCHEMA = pa.schema(
    [
        ("job_id", pa.int64()),
        ("arrival_s", pa.float64()),
        ("finish_s", pa.float64()),
        ("jct_s", pa.float64()),
        ("scale_factor", pa.int64()),
        ("status", pa.dictionary(pa.int8(), pa.string())),
        ("in_window", pa.bool_()),
    ]
)


def _batch(
    ids: np.ndarray,
    arrival: np.ndarray,
    finish: np.ndarray,
    scale: np.ndarray,
    status: str,
    window: WindowConfig | None,
) -> pa.RecordBatch:
    n = ids.size
    jct = pa.array(finish - arrival) if status == "completed" else pa.nulls(n, pa.float64())
    inside = np.ones(n, dtype=bool) if window is None else window.contains(ids)
    statuses = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int8)), pa.array([status], type=pa.string())
    )
    return pa.RecordBatch.from_arrays(
        [pa.array(ids), pa.array(arrival), pa.array(finish), jct, pa.array(scale), statuses,
         pa.array(inside)],
        schema=SCHEMA,
    )  # fmt: skip


def write_jobs(
    directory: Path,
    completions: CompletionLog,
    failed: Sequence[Completion] = (),
    window: WindowConfig | None = None,
) -> Path:
    """Writes ``DIR/jobs.parquet`` (into a staging directory: readers see it whole)."""
    path = directory / JOBS_FILE
    with pq.ParquetWriter(path, SCHEMA, compression="zstd") as writer:
        for rows in completions.chunks():
            writer.write_batch(
                _batch(rows["job_id"], rows["arrival"], rows["finish"], rows["scale_factor"],
                       "completed", window)
            )  # fmt: skip
        if failed:
            writer.write_batch(
                _batch(
                    np.array([f.job_id for f in failed], dtype=np.int64),
                    np.array([f.arrival for f in failed]),
                    np.array([f.finish for f in failed]),
                    np.array([f.scale_factor for f in failed], dtype=np.int64),
                    "failed",
                    window,
                )
            )
    return path


def read_jobs(path: Path) -> pa.Table:
    """The table of a ``jobs.parquet`` file."""
    return pq.read_table(path)
