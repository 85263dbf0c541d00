"""Microsoft ITP cluster traces (``cluster0N.csv``): ``job_id,submission_time,duration,num_gpu``.

Times are integer seconds since the start of collection; every job completed (the
trace has only finished jobs of at least 600 s); no model and no GPU type is given.
"""

from __future__ import annotations

from collections.abc import Iterator

from workloads.traces.record import TraceFormat, TraceRecord
from workloads.traces.rows import Row, check_width, csv_rows

COLUMNS = ("job_id", "submission_time", "duration", "num_gpu")


def rows(path: str) -> Iterator[Row]:
    return csv_rows(path, COLUMNS)


def parse(row: Row, time_unit: str) -> TraceRecord:
    check_width(row)
    return TraceRecord(
        line=row.line,
        job_key=row.text("job_id"),
        submit_s=row.number("submission_time"),
        duration_s=row.number("duration"),
        num_gpus=row.integer("num_gpu"),
    )


def sniff(head: str) -> bool:
    return [c.strip() for c in head.split(",")] == list(COLUMNS)


FORMAT = TraceFormat(
    "itp", "Microsoft ITP cluster CSV (" + ",".join(COLUMNS) + ")", rows, parse, sniff
)
