"""numpy record types of the GPUVIZ01 sections and the queue's two encodings.

Shared by the encoder and the decoder so that both read the same layout; the sizes
match :mod:`viz.format` (asserted in the tests).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from viz.format import job_stats_size, round_size

JOB_DTYPE = np.dtype(
    [
        ("id", "<u4"),
        ("arrival_round", "<u4"),
        ("finish_round", "<u4"),
        ("gpus", "u1"),
        ("model", "u1"),
        ("flags", "<u2"),
    ]
)


def round_dtype(num_types: int, num_gpus: int) -> np.dtype[np.void]:
    """One round record: counters, busy GPUs per type, the job on each GPU, padding."""
    fields: list[tuple[str, str] | tuple[str, str, tuple[int, ...]]] = [
        ("time", "<f8"),
        ("round", "<u4"),
        ("active", "<u4"),
        ("running", "<u4"),
        ("completed", "<u4"),
        ("phase", "u1"),
        ("flags", "u1"),
        ("reserved", "<u2"),
        ("busy", "<u2", (num_types,)),
        ("gpu", "<u4", (num_gpus,)),
    ]
    size = round_size(num_types, num_gpus)
    dt = np.dtype(fields)
    if dt.itemsize < size:
        fields.append(("pad", f"V{size - dt.itemsize}"))
    return np.dtype(fields)


def job_stats_dtype(num_types: int) -> np.dtype[np.void]:
    """One job-stats record: arrival and finish times, rounds run on each type."""
    fields: list[tuple[str, str] | tuple[str, str, tuple[int, ...]]] = [
        ("arrival_s", "<f8"),
        ("finish_s", "<f8"),
        ("rounds_run", "<u4", (num_types,)),
    ]
    dt = np.dtype(fields)
    size = job_stats_size(num_types)
    if dt.itemsize < size:
        fields.append(("pad", f"V{size - dt.itemsize}"))
    return np.dtype(fields)


def encode_queues(
    queues: list[npt.NDArray[np.uint32]], compact: bool
) -> tuple[bytes, npt.NDArray[np.uint64]]:
    """The queue section's bytes and its index (byte offset of each round's list, plus
    the end). Raw: uint32 ids. Compact: LEB128 varints of the ascending ids' deltas (the
    first id as it is)."""
    lengths = np.array([q.size for q in queues], dtype=np.int64)
    flat = np.concatenate(queues).astype(np.uint64) if queues else np.zeros(0, np.uint64)
    if not compact:
        ends = np.cumsum(lengths * 4)
        return flat.astype("<u4").tobytes(), np.concatenate([[0], ends]).astype(np.uint64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if queues else np.zeros(0, np.int64)
    deltas = flat.copy()
    if flat.size:
        deltas[1:] -= flat[:-1]
        deltas[starts[lengths > 0]] = flat[starts[lengths > 0]]
    nbytes = np.ones(deltas.size, dtype=np.int64)
    for shift in (7, 14, 21, 28):
        nbytes += deltas >= (1 << shift)
    pos = np.concatenate([[0], np.cumsum(nbytes)[:-1]]) if deltas.size else nbytes
    out = np.zeros(int(nbytes.sum()), dtype=np.uint8)
    for b in range(5):
        sel = nbytes > b
        byte = (deltas[sel] >> np.uint64(7 * b)) & np.uint64(0x7F)
        more = (nbytes[sel] > b + 1).astype(np.uint64) << np.uint64(7)
        out[pos[sel] + b] = (byte | more).astype(np.uint8)
    per_round = np.zeros(len(queues), dtype=np.int64)
    if deltas.size:
        round_of = np.repeat(np.arange(len(queues)), lengths)
        np.add.at(per_round, round_of, nbytes)
    index = np.concatenate([[0], np.cumsum(per_round)]).astype(np.uint64)
    return out.tobytes(), index


def decode_varints(data: bytes) -> npt.NDArray[np.uint64]:
    """The LEB128 values in ``data`` (ValueError when the last one is cut off)."""
    b = np.frombuffer(data, dtype=np.uint8)
    if b.size == 0:
        return np.zeros(0, dtype=np.uint64)
    last = (b & 0x80) == 0
    if not last[-1]:
        raise ValueError("a varint runs past the end of its list")
    element = np.concatenate([[0], np.cumsum(last)[:-1]])
    starts = np.flatnonzero(np.concatenate([[True], last[:-1]]))
    shift = (np.arange(b.size) - starts[element]) * 7
    if shift.max() > 28:
        raise ValueError("a varint is longer than 5 bytes")
    values = np.zeros(int(last.sum()), dtype=np.uint64)
    np.add.at(values, element, (b & 0x7F).astype(np.uint64) << shift.astype(np.uint64))
    return values


def decode_queue(data: bytes, compact: bool) -> npt.NDArray[np.uint32]:
    """One round's waiting job ids from its bytes in the queue section."""
    if not compact:
        if len(data) % 4:
            raise ValueError(f"a raw queue list of {len(data)} bytes is not whole uint32s")
        return np.frombuffer(data, dtype="<u4").astype(np.uint32)
    values = np.cumsum(decode_varints(data))
    if values.size and values[-1] > 0xFFFFFFFF:
        raise ValueError("a queue id exceeds uint32")
    return values.astype(np.uint32)
