"""Helios (S-Lab HeliosData) ``cluster_log.csv``.

Columns ``job_id, user, vc, gpu_num, cpu_num, node_num, state, submit_time, start_time,
end_time, duration, queue``: times ``YYYY-MM-DD HH:MM:SS`` (read as UTC), duration in
seconds (end - start). States: COMPLETED (completed), CANCELLED and TIMEOUT (killed),
FAILED and NODE_FAIL (failed). ``gpu_num`` 0 is a CPU-only job. Only the columns read
here are required.
"""

from __future__ import annotations

from collections.abc import Iterator

from workloads.traces.record import TraceFormat, TraceRecord
from workloads.traces.rows import Row, check_width, csv_rows

REQUIRED = ("job_id", "vc", "gpu_num", "state", "submit_time", "duration")
_STATES = {
    "COMPLETED": "completed",
    "CANCELLED": "killed",
    "TIMEOUT": "killed",
    "FAILED": "failed",
    "NODE_FAIL": "failed",
}


def rows(path: str) -> Iterator[Row]:
    return csv_rows(path, REQUIRED)


def parse(row: Row, time_unit: str) -> TraceRecord:
    check_width(row)
    state = row.text("state")
    status = _STATES.get(state)
    if status is None:
        row.fail("state", f"unknown state {state!r} (known: {', '.join(_STATES)})")
    return TraceRecord(
        line=row.line,
        job_key=row.text("job_id"),
        submit_s=row.date("submit_time"),
        duration_s=row.number("duration"),
        num_gpus=row.integer("gpu_num"),
        status=status,
        vc=row.text("vc"),
    )


def sniff(head: str) -> bool:
    names = {c.strip() for c in head.split(",")}
    return set(REQUIRED) <= names and "gpu_num" in names


FORMAT = TraceFormat("helios", "Helios cluster_log.csv (S-Lab)", rows, parse, sniff, has_vc=True)
