"""The reference's older 7-field trace format (its Philly-derived per-VC traces).

Tab separated, no header: job_type, command, num_steps_arg, needs_data_dir,
total_steps, arrival_time, scale_factor. The job type and steps are the trace's own
(the reference drew them), so no template is drawn and no duration is converted.
"""

from __future__ import annotations

from collections.abc import Iterator

from workloads.traces.record import TraceFormat, TraceRecord
from workloads.traces.rows import Row, check_width, tsv_rows

FIELDS = (
    "job_type",
    "command",
    "num_steps_arg",
    "needs_data_dir",
    "total_steps",
    "arrival_time",
    "scale_factor",
)


def rows(path: str) -> Iterator[Row]:
    return tsv_rows(path, FIELDS)


def parse(row: Row, time_unit: str) -> TraceRecord:
    check_width(row)
    if row.text("needs_data_dir") not in ("0", "1"):
        row.fail("needs_data_dir", f"must be 0 or 1, not {row.raw('needs_data_dir')!r}")
    steps = row.number("total_steps")
    if steps <= 0:
        row.fail("total_steps", f"must be > 0, not {row.raw('total_steps')!r}")
    return TraceRecord(
        line=row.line,
        job_key=str(row.line),
        submit_s=row.number("arrival_time"),
        duration_s=None,
        num_gpus=row.integer("scale_factor", minimum=1),
        job_type=row.text("job_type"),
        total_steps=steps,
    )


def sniff(head: str) -> bool:
    return head.count("\t") == len(FIELDS) - 1


FORMAT = TraceFormat("gavel7", "the reference's 7-field Philly-derived TSV", rows, parse, sniff)
