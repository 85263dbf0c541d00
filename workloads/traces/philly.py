"""Microsoft Philly's ``cluster_job_log``: one JSON list of jobs, read one job at a time.

A job has ``status`` (Pass: completed, Killed, Failed), ``vc``, ``jobid``,
``submitted_time`` and ``attempts``, a list of ``{start_time, end_time, detail: [{ip,
gpus: [...]}]}``; times are ``YYYY-MM-DD HH:MM:SS`` without a time zone (read as UTC).
The GPU count is the number of GPUs in the first attempt's detail; the duration is
the sum of the attempts' run times. A null last ``end_time`` means the job was still
running when the trace ended (status ``running``); a job with no attempt never ran.
"""

from __future__ import annotations

from collections.abc import Iterator

from workloads.traces.record import TraceFormat, TraceRecord
from workloads.traces.rows import Row, json_list_rows

_STATUS = {"Pass": "completed", "Killed": "killed", "Failed": "failed"}


def rows(path: str) -> Iterator[Row]:
    return json_list_rows(path)


def _attempt_row(row: Row, index: int, attempt: object) -> Row:
    if not isinstance(attempt, dict):
        row.fail(f"attempts[{index}]", "must be an object")
    return Row(row.source, row.line, {f"attempts[{index}].{k}": v for k, v in attempt.items()})


def _gpu_count(row: Row, first: Row) -> int:
    detail = first.fields.get("attempts[0].detail")
    if not isinstance(detail, list):
        row.fail("attempts[0].detail", "must be a list of {ip, gpus}")
    count = 0
    for machine in detail:
        gpus = machine.get("gpus") if isinstance(machine, dict) else None
        if not isinstance(gpus, list):
            row.fail("attempts[0].detail.gpus", "must be a list of GPU names")
        count += len(gpus)
    return count


def parse(row: Row, time_unit: str) -> TraceRecord:
    if "__not_object__" in row.fields:
        row.fail("job", "must be a JSON object")
    status_text = row.text("status")
    status = _STATUS.get(status_text)
    if status is None:
        row.fail("status", f"unknown status {status_text!r} (known: {', '.join(_STATUS)})")
    submit = row.date("submitted_time")
    attempts = row.raw("attempts")
    if not isinstance(attempts, list):
        row.fail("attempts", "must be a list")
    vc = row.text("vc")
    key = row.text("jobid")
    if not attempts:
        return TraceRecord(row.line, key, submit, None, 0, "never_ran", vc=vc)
    parts = [_attempt_row(row, i, a) for i, a in enumerate(attempts)]
    duration = 0.0
    start = parts[0].date("attempts[0].start_time")
    last = start
    for i, part in enumerate(parts):
        begin = part.date(f"attempts[{i}].start_time")
        end_field = f"attempts[{i}].end_time"
        if part.fields.get(end_field) is None:
            if i != len(parts) - 1:
                row.fail(end_field, "is null before the last attempt")
            # still running: 'start' becomes the time it would have started had it
            # run its attempts back to back, so trace end - start is its time so far
            status = "running"
            start = begin - duration
            last = max(last, begin)
            break
        end = part.date(end_field)
        if end < begin:
            row.fail(end_field, "is before the attempt's start_time")
        duration += end - begin
        last = max(last, end)
    return TraceRecord(
        line=row.line,
        job_key=key,
        submit_s=submit,
        duration_s=None if status == "running" else duration,
        num_gpus=_gpu_count(row, parts[0]),
        status=status,
        start_s=start,
        vc=vc,
        last_time_s=last,
    )


def sniff(head: str) -> bool:
    return head.lstrip().startswith(("[", "{"))


FORMAT = TraceFormat(
    "philly", "Microsoft Philly cluster_job_log (JSON)", rows, parse, sniff, has_vc=True
)
