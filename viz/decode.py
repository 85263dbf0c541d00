"""The GPUVIZ01 decoder and validator.

:func:`decode` turns the bytes back into :class:`RunData`; :func:`validate` checks a
file thoroughly (header, CRCs, section bounds and alignment, every round and queue
list against the job table) and :func:`summary` describes it. Every problem is a
:class:`VizFormatError` naming the section and the byte offset.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import numpy as np

from viz.format import (
    HEADER_CRC_OFFSET,
    HEADER_SIZE,
    IDLE,
    JOB_SIZE,
    MAGIC,
    NAME_SIZE,
    PHASES,
    TYPE_SIZE,
    TYPE_STRUCT,
    Header,
    read_name,
    round_size,
    unpack_header,
)
from viz.layout import JOB_DTYPE, decode_queue, job_stats_dtype, round_dtype
from viz.rundata import RunData


class VizFormatError(ValueError):
    """A file that is not valid GPUVIZ01: which section, at which byte, and why."""

    def __init__(self, section: str, offset: int, message: str) -> None:
        self.section = section
        self.offset = offset
        super().__init__(f"section '{section}' at offset {offset}: {message}")


def read_header(data: bytes) -> Header:
    """The header, checked: magic, sizes, CRC, and every section inside the file."""
    if len(data) < HEADER_SIZE:
        raise VizFormatError(
            "header", len(data), f"file is {len(data)} bytes, shorter than the header"
        )
    if data[:8] != MAGIC:
        raise VizFormatError("header", 0, f"magic is {data[:8]!r}, not {MAGIC!r}")
    h = unpack_header(data)
    if zlib.crc32(data[:HEADER_CRC_OFFSET]) != h.header_crc32:
        raise VizFormatError(
            "header", HEADER_CRC_OFFSET, "header CRC-32 mismatch (corrupted header)"
        )
    if h.header_size != HEADER_SIZE or h.job_size != JOB_SIZE:
        raise VizFormatError("header", 8, "unsupported header or job record size")
    if h.round_size != round_size(h.num_types, h.num_gpus):
        raise VizFormatError("header", 32, f"round_size {h.round_size} does not match the counts")
    if h.file_size != len(data):
        raise VizFormatError(
            "header", 56, f"file is {len(data)} bytes, the header says {h.file_size} (truncated?)"
        )
    end = HEADER_SIZE
    for name, offset, size in h.sections():
        if offset % 8:
            raise VizFormatError(name, offset, "section is not aligned to 8 bytes")
        if offset < end:
            raise VizFormatError(name, offset, "section overlaps the one before it")
        if offset + size > len(data):
            raise VizFormatError(name, offset, f"section of {size} bytes runs past the end")
        end = offset + size
    return h


def check_crcs(data: bytes, h: Header) -> None:
    """Each section's CRC-32, then the whole body's (padding included)."""
    for (name, offset, size), crc in zip(h.sections(), h.section_crc32, strict=True):
        if zlib.crc32(data[offset : offset + size]) != crc:
            raise VizFormatError(name, offset, "CRC-32 mismatch (corrupted contents)")
    if zlib.crc32(data[HEADER_SIZE:]) != h.body_crc32:
        raise VizFormatError("padding", HEADER_SIZE, "CRC-32 of the body mismatches")


def _names(data: bytes, offset: int, count: int) -> list[str]:
    return [
        read_name(data[offset + i * NAME_SIZE : offset + (i + 1) * NAME_SIZE]) for i in range(count)
    ]


def queue_bounds(data: bytes, h: Header) -> np.ndarray:
    """The queue index (byte offsets into the queue section, one more than rounds)."""
    index = np.frombuffer(data, dtype="<u8", count=h.num_rounds + 1, offset=h.queue_index_offset)
    bad = np.flatnonzero(np.diff(index.astype(np.int64)) < 0)
    if index.size and index[0] != 0:
        raise VizFormatError("queue_index", h.queue_index_offset, "the first offset is not 0")
    if bad.size:
        at = h.queue_index_offset + 8 * int(bad[0] + 1)
        raise VizFormatError("queue_index", at, f"offsets decrease at round index {bad[0] + 1}")
    if index.size and int(index[-1]) != h.queue_size:
        at = h.queue_index_offset + 8 * h.num_rounds
        raise VizFormatError("queue_index", at, "the last offset is not the queue's size")
    return index


def decode(data: bytes, *, check_crc: bool = True) -> RunData:
    """The file's contents (VizFormatError when it is not valid)."""
    h = read_header(data)
    if check_crc:
        check_crcs(data, h)
    m, g, n, r = h.num_types, h.num_gpus, h.num_jobs, h.num_rounds
    try:
        meta: dict[str, Any] = json.loads(data[h.meta_offset : h.meta_offset + h.meta_size])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VizFormatError("meta", h.meta_offset, f"not JSON ({exc})") from None
    types = [TYPE_STRUCT.unpack_from(data, h.types_offset + i * TYPE_SIZE) for i in range(m)]
    jobs = np.frombuffer(data, dtype=JOB_DTYPE, count=n, offset=h.jobs_offset)
    stats = np.frombuffer(data, dtype=job_stats_dtype(m), count=n, offset=h.job_stats_offset)
    rounds = np.frombuffer(data, dtype=round_dtype(m, g), count=r, offset=h.rounds_offset)
    series = np.frombuffer(data, dtype="<f4", count=h.num_series * r, offset=h.series_offset)
    index = queue_bounds(data, h)
    queues = []
    for k in range(r):
        a, b = int(index[k]), int(index[k + 1])
        try:
            queues.append(
                decode_queue(data[h.queue_offset + a : h.queue_offset + b], h.compact_queue)
            )
        except ValueError as exc:
            raise VizFormatError("queue", h.queue_offset + a, f"round index {k}: {exc}") from None
    return RunData(
        meta=meta,
        type_names=[read_name(t[0]) for t in types],
        counts=[int(t[1]) for t in types],
        gpus_per_server=[int(t[2]) for t in types],
        round_s=h.round_s,
        models=_names(data, h.models_offset, h.num_models),
        job_ids=jobs["id"].astype(np.uint32),
        job_arrival_round=jobs["arrival_round"].astype(np.uint32),
        job_finish_round=jobs["finish_round"].astype(np.uint32),
        job_gpus=jobs["gpus"].copy(),
        job_model=jobs["model"].copy(),
        job_flags=jobs["flags"].astype(np.uint16),
        job_arrival_s=stats["arrival_s"].astype(np.float64),
        job_finish_s=stats["finish_s"].astype(np.float64),
        job_rounds_run=stats["rounds_run"].astype(np.uint32).reshape(n, m),
        round_time=rounds["time"].astype(np.float64),
        round_no=rounds["round"].astype(np.uint32),
        round_active=rounds["active"].astype(np.uint32),
        round_running=rounds["running"].astype(np.uint32),
        round_completed=rounds["completed"].astype(np.uint32),
        round_phase=rounds["phase"].copy(),
        round_flags=rounds["flags"].copy(),
        round_busy=rounds["busy"].astype(np.uint16).reshape(r, m),
        round_gpu_job=rounds["gpu"].astype(np.uint32).reshape(r, g),
        queues=queues,
        series_names=_names(data, h.series_names_offset, h.num_series),
        series=series.astype(np.float32).reshape(h.num_series, r),
    )


def validate(data: bytes) -> RunData:
    """Decodes and checks every record's consistency, then the CRCs (so a damaged
    record is named by its own offset where a check catches it); returns the contents."""
    run = decode(data, check_crc=False)
    h = unpack_header(data)
    m, g = h.num_types, h.num_gpus
    if sum(run.counts) != g:
        raise VizFormatError(
            "types", h.types_offset, f"type counts sum to {sum(run.counts)}, not {g}"
        )
    ids = run.job_ids
    if ids.size and (np.diff(ids.astype(np.int64)) <= 0).any():
        at = int(np.flatnonzero(np.diff(ids.astype(np.int64)) <= 0)[0]) + 1
        raise VizFormatError("jobs", h.jobs_offset + at * JOB_SIZE, "job ids are not ascending")
    bad_model = np.flatnonzero(run.job_model >= max(h.num_models, 1))
    if bad_model.size:
        at = h.jobs_offset + int(bad_model[0]) * JOB_SIZE + 13
        raise VizFormatError("jobs", at, "model index outside the model table")
    rs = h.round_size

    def at_round(k: int, field_offset: int = 0) -> int:
        return h.rounds_offset + k * rs + field_offset

    if run.num_rounds:
        back = np.flatnonzero(np.diff(run.round_time) < 0)
        if back.size:
            raise VizFormatError("rounds", at_round(int(back[0]) + 1), "time goes backwards")
        bad_phase = np.flatnonzero(run.round_phase >= len(PHASES))
        if bad_phase.size:
            raise VizFormatError("rounds", at_round(int(bad_phase[0]), 24), "unknown phase code")
        gpu_type = np.repeat(np.arange(m), run.counts)
        known = np.isin(run.round_gpu_job, ids) | (run.round_gpu_job == IDLE)
        if not known.all():
            k, gpu = (int(v[0]) for v in np.nonzero(~known))
            raise VizFormatError(
                "rounds", at_round(k, 28 + 2 * m + 4 * gpu), f"GPU {gpu} holds an unknown job id"
            )
        for t in range(m):
            busy = (run.round_gpu_job[:, gpu_type == t] != IDLE).sum(axis=1)
            wrong = np.flatnonzero(busy != run.round_busy[:, t])
            if wrong.size:
                raise VizFormatError(
                    "rounds",
                    at_round(int(wrong[0]), 28 + 2 * t),
                    "busy count disagrees with the GPUs",
                )
    index = queue_bounds(data, h)
    for k, queue in enumerate(run.queues):
        if queue.size and not np.isin(queue, ids).all():
            raise VizFormatError(
                "queue", h.queue_offset + int(index[k]), f"round index {k}: unknown job id"
            )
        if queue.size > 1 and (np.diff(queue.astype(np.int64)) <= 0).any():
            raise VizFormatError(
                "queue", h.queue_offset + int(index[k]), f"round index {k}: ids not ascending"
            )
    check_crcs(data, h)
    return run


def summary(data: bytes) -> list[str]:
    """A few lines describing the file (for ``hetsim viz inspect``)."""
    h = read_header(data)
    run = decode(data)
    cfg = run.meta.get("config", {})
    lines = [
        f"GPUVIZ01, {h.file_size:,} bytes; policy {cfg.get('policy')}, seed {cfg.get('seed')}, "
        f"end {run.meta.get('end_reason')}",
        f"  {h.num_rounds:,} rounds of {h.round_size} bytes, {h.num_jobs:,} jobs, "
        f"{h.num_gpus} GPUs: "
        + ", ".join(
            f"{t} {c} ({s}/server)"
            for t, c, s in zip(run.type_names, run.counts, run.gpus_per_server, strict=True)
        ),
        f"  queue section {'compact (varint deltas)' if h.compact_queue else 'raw uint32'}: "
        f"{sum(q.size for q in run.queues):,} waiting entries",
        "  sections:",
    ]
    lines += [
        f"    {name:13s} offset {off:>12,}  {size:>12,} bytes" for name, off, size in h.sections()
    ]
    if run.num_rounds:
        hours = run.round_time[-1] / 3600
        lines.append(f"  simulated time 0 - {hours:,.1f} h; series: {', '.join(run.series_names)}")
    return lines
