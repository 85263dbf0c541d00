"""The Tiresias CSV family: ``job_id,num_gpu,submit_time,iterations,model_name,duration,interval``.

Columns are read by header name and the others ignored (other simulators add their
own); ``submit_time`` and ``duration`` are seconds, or milliseconds with
``time_unit="ms"``. ``model_name`` (e.g. ``vgg19``) is the trace's own vocabulary:
a mapping file can map it to a hetsim job type (column ``trace_model``).
"""

from __future__ import annotations

from collections.abc import Iterator

from workloads.traces.record import TraceFormat, TraceRecord
from workloads.traces.rows import Row, check_width, csv_rows

REQUIRED = ("job_id", "num_gpu", "submit_time", "duration")
_SCALE = {"s": 1.0, "ms": 1e-3}


def rows(path: str) -> Iterator[Row]:
    return csv_rows(path, REQUIRED)


def parse(row: Row, time_unit: str) -> TraceRecord:
    check_width(row)
    scale = _SCALE[time_unit]
    model = row.text("model_name", required=False) or None
    return TraceRecord(
        line=row.line,
        job_key=row.text("job_id"),
        submit_s=row.number("submit_time") * scale,
        duration_s=row.number("duration") * scale,
        num_gpus=row.integer("num_gpu"),
        trace_model=model,
    )


def sniff(head: str) -> bool:
    names = {c.strip() for c in head.split(",")}
    return set(REQUIRED) <= names and "submission_time" not in names


FORMAT = TraceFormat(
    "tiresias",
    "Tiresias CSV (job_id,num_gpu,submit_time,...,duration), seconds or ms",
    rows,
    parse,
    sniff,
    time_units=("s", "ms"),
)
