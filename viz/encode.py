"""The GPUVIZ01 encoder: :class:`RunData` to bytes, deterministically.

Sections follow the header in a fixed order, each at an offset rounded up to 8 with
zero padding; the meta JSON has sorted keys, so the same run gives the same bytes.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from hetsim.output import write_bytes_atomic
from viz.format import (
    FLAG_QUEUE_COMPACT,
    HEADER_SIZE,
    JOB_SIZE,
    MAGIC,
    NAME_SIZE,
    TYPE_STRUCT,
    Header,
    align8,
    name_bytes,
    pack_header,
    round_size,
)
from viz.layout import JOB_DTYPE, encode_queues, job_stats_dtype, round_dtype
from viz.rundata import RunData, read_run


def _rounds(data: RunData) -> bytes:
    m, g = len(data.type_names), data.num_gpus
    rec = np.zeros(data.num_rounds, dtype=round_dtype(m, g))
    rec["time"] = data.round_time
    rec["round"] = data.round_no
    rec["active"] = data.round_active
    rec["running"] = data.round_running
    rec["completed"] = data.round_completed
    rec["phase"] = data.round_phase
    rec["flags"] = data.round_flags
    rec["busy"] = data.round_busy
    rec["gpu"] = data.round_gpu_job
    return rec.tobytes()


def _jobs(data: RunData) -> tuple[bytes, bytes]:
    jobs = np.zeros(data.job_ids.size, dtype=JOB_DTYPE)
    jobs["id"] = data.job_ids
    jobs["arrival_round"] = data.job_arrival_round
    jobs["finish_round"] = data.job_finish_round
    jobs["gpus"] = data.job_gpus
    jobs["model"] = data.job_model
    jobs["flags"] = data.job_flags
    stats = np.zeros(data.job_ids.size, dtype=job_stats_dtype(len(data.type_names)))
    stats["arrival_s"] = data.job_arrival_s
    stats["finish_s"] = data.job_finish_s
    stats["rounds_run"] = data.job_rounds_run
    return jobs.tobytes(), stats.tobytes()


def encode(data: RunData, *, compact_queue: bool = True) -> bytes:
    """The file's bytes."""
    meta = json.dumps(data.meta, sort_keys=True, separators=(",", ":")).encode("utf-8")
    first = 0
    types = b""
    for name, count, per_server in zip(
        data.type_names, data.counts, data.gpus_per_server, strict=True
    ):
        types += TYPE_STRUCT.pack(name_bytes(name, 16), count, per_server, first, 0)
        first += count
    models = b"".join(name_bytes(name, NAME_SIZE) for name in data.models)
    jobs, stats = _jobs(data)
    names = b"".join(name_bytes(name, NAME_SIZE) for name in data.series_names)
    series = np.ascontiguousarray(data.series, dtype="<f4").tobytes()
    queue, index = encode_queues(data.queues, compact_queue)
    parts = [
        ("meta", meta),
        ("types", types),
        ("models", models),
        ("jobs", jobs),
        ("job_stats", stats),
        ("rounds", _rounds(data)),
        ("series_names", names),
        ("series", series),
        ("queue_index", index.astype("<u8").tobytes()),
        ("queue", queue),
    ]
    body = bytearray()
    offsets: dict[str, int] = {}
    for name, blob in parts:
        pad = align8(HEADER_SIZE + len(body)) - HEADER_SIZE - len(body)
        body += b"\0" * pad
        offsets[name] = HEADER_SIZE + len(body)
        body += blob
    body += b"\0" * (align8(len(body)) - len(body))
    header = Header(
        magic=MAGIC,
        header_size=HEADER_SIZE,
        flags=FLAG_QUEUE_COMPACT if compact_queue else 0,
        num_rounds=data.num_rounds,
        num_jobs=int(data.job_ids.size),
        num_types=len(data.type_names),
        num_gpus=data.num_gpus,
        round_size=round_size(len(data.type_names), data.num_gpus),
        job_size=JOB_SIZE,
        num_models=len(data.models),
        num_series=len(data.series_names),
        round_s=data.round_s,
        file_size=HEADER_SIZE + len(body),
        meta_offset=offsets["meta"],
        meta_size=len(meta),
        types_offset=offsets["types"],
        models_offset=offsets["models"],
        jobs_offset=offsets["jobs"],
        job_stats_offset=offsets["job_stats"],
        rounds_offset=offsets["rounds"],
        series_offset=offsets["series"],
        series_names_offset=offsets["series_names"],
        queue_index_offset=offsets["queue_index"],
        queue_offset=offsets["queue"],
        queue_size=len(queue),
        body_crc32=zlib.crc32(body),
        section_crc32=tuple(zlib.crc32(blob) for _, blob in parts),
    )
    return pack_header(header) + bytes(body)


def encode_run(directory: Path, out: Path, *, compact_queue: bool = True) -> int:
    """Encodes the run in ``directory`` into ``out`` (atomically); returns its size."""
    blob = encode(read_run(directory), compact_queue=compact_queue)
    write_bytes_atomic(out, blob)
    return len(blob)
