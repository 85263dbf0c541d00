"""Alibaba's 2023 GPU pod list (``openb_pod_list_*.csv``, cluster-trace-gpu-v2023).

A pod arrives at ``creation_time`` and runs from ``scheduled_time`` to
``deletion_time`` (integer seconds from the trace start). ``pod_phase``: Succeeded
(completed), Failed, Running (still running at the trace's end: its deletion time is
the trace's end), Pending (never scheduled, no scheduled_time). ``gpu_milli`` is a
fraction of one GPU (per mille) for single-GPU pods; ``num_gpu`` 0 is a CPU-only pod.
``gpu_spec`` lists acceptable GPU models (``|``-separated; empty: any).
"""

from __future__ import annotations

from collections.abc import Iterator

from workloads.traces.record import TraceFormat, TraceRecord
from workloads.traces.rows import Row, check_width, csv_rows

COLUMNS = (
    "name",
    "num_gpu",
    "gpu_milli",
    "gpu_spec",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)
_PHASES = {
    "Succeeded": "completed",
    "Failed": "failed",
    "Running": "running",
    "Pending": "never_ran",
}


def rows(path: str) -> Iterator[Row]:
    return csv_rows(path, COLUMNS)


def parse(row: Row, time_unit: str) -> TraceRecord:
    check_width(row)
    phase = row.text("pod_phase")
    status = _PHASES.get(phase)
    if status is None:
        row.fail("pod_phase", f"unknown phase {phase!r} (known: {', '.join(_PHASES)})")
    submit = row.number("creation_time")
    num_gpus = row.integer("num_gpu")
    milli = row.number("gpu_milli")
    if milli > 1000:
        row.fail("gpu_milli", f"must be within 0-1000, not {row.raw('gpu_milli')!r}")
    fraction = milli / 1000.0 if num_gpus == 1 and milli > 0 else 1.0
    spec = row.text("gpu_spec", required=False)
    models = tuple(dict.fromkeys(m for m in spec.split("|") if m)) if spec else ()
    start: float | None = None
    duration: float | None = None
    end = row.number("deletion_time")
    if status != "never_ran":
        start = row.number("scheduled_time")
        if start < submit:
            row.fail("scheduled_time", f"is before creation_time ({start:g} < {submit:g})")
        if end < start:
            row.fail("deletion_time", f"is before scheduled_time ({end:g} < {start:g})")
        duration = end - start
    return TraceRecord(
        line=row.line,
        job_key=row.text("name"),
        submit_s=submit,
        duration_s=duration,
        num_gpus=num_gpus,
        status=status,
        gpu_fraction=fraction,
        start_s=start,
        gpu_models=models,
        last_time_s=end,
    )


def sniff(head: str) -> bool:
    names = {c.strip() for c in head.split(",")}
    return set(COLUMNS) <= names


FORMAT = TraceFormat("alibaba-openb", "Alibaba 2023 GPU pod list (openb)", rows, parse, sniff)
