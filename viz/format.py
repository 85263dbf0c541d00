"""The GPUVIZ01 layout: header fields, record sizes, section alignment (docs/gpuviz01.md).

Every multi-byte value is little-endian; every section starts at an offset that is a
multiple of 8. The header is 256 bytes; round records have one fixed size so that round
``k`` is at ``rounds_offset + k * round_size``.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAGIC = b"GPUVIZ01"
HEADER_SIZE = 256
JOB_SIZE = 16
TYPE_SIZE = 32
NAME_SIZE = 32  # model and series names: NUL-padded UTF-8
ROUND_FIXED = 28
IDLE = 0xFFFFFFFF  # the job id of an idle GPU; also "no round" in job records
FLAG_QUEUE_COMPACT = 1  # queue lists are LEB128 varints of ascending-id deltas

JOB_FINISHED, JOB_UNRUNNABLE, JOB_IN_WINDOW = 1, 2, 4
ROUND_SOLVED = 1
PHASES = ("warmup", "measurement", "drain", "saturated")

# (name, struct code, offset): the header's fields in order; the rest is zero.
HEADER_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("magic", "8s", 0),
    ("header_size", "I", 8),
    ("flags", "I", 12),
    ("num_rounds", "I", 16),
    ("num_jobs", "I", 20),
    ("num_types", "I", 24),
    ("num_gpus", "I", 28),
    ("round_size", "I", 32),
    ("job_size", "I", 36),
    ("num_models", "I", 40),
    ("num_series", "I", 44),
    ("round_s", "d", 48),
    ("file_size", "Q", 56),
    ("meta_offset", "Q", 64),
    ("meta_size", "Q", 72),
    ("types_offset", "Q", 80),
    ("models_offset", "Q", 88),
    ("jobs_offset", "Q", 96),
    ("job_stats_offset", "Q", 104),
    ("rounds_offset", "Q", 112),
    ("series_offset", "Q", 120),
    ("series_names_offset", "Q", 128),
    ("queue_index_offset", "Q", 136),
    ("queue_offset", "Q", 144),
    ("queue_size", "Q", 152),
    ("body_crc32", "I", 160),
    ("reserved", "I", 164),
)
HEADER_STRUCT = struct.Struct("<" + "".join(code for _, code, _ in HEADER_FIELDS))
assert HEADER_STRUCT.size == 168
NUM_SECTIONS = 10
SECTION_CRC_OFFSET = 168  # uint32 CRC-32 of each section, in Header.sections() order
SECTION_CRC_STRUCT = struct.Struct(f"<{NUM_SECTIONS}I")
HEADER_CRC_OFFSET = 252  # uint32 CRC-32 of header bytes [0, 252)

JOB_STRUCT = struct.Struct("<IIIBBH")
assert JOB_STRUCT.size == JOB_SIZE
ROUND_HEAD = struct.Struct("<dIIIIBBH")
assert ROUND_HEAD.size == ROUND_FIXED
TYPE_STRUCT = struct.Struct("<16sIIII")
assert TYPE_STRUCT.size == TYPE_SIZE


def align8(x: int) -> int:
    """The next multiple of 8 at or after ``x``."""
    return (x + 7) & ~7


def round_size(num_types: int, num_gpus: int) -> int:
    """Bytes per round record: 28 + 2 per type + 4 per GPU, rounded up to 8."""
    return align8(ROUND_FIXED + 2 * num_types + 4 * num_gpus)


def job_stats_size(num_types: int) -> int:
    """Bytes per job-stats record: arrival and finish (float64), rounds run per type."""
    return align8(16 + 4 * num_types)


@dataclass(frozen=True)
class Header:
    """The decoded 256-byte header."""

    magic: bytes
    header_size: int
    flags: int
    num_rounds: int
    num_jobs: int
    num_types: int
    num_gpus: int
    round_size: int
    job_size: int
    num_models: int
    num_series: int
    round_s: float
    file_size: int
    meta_offset: int
    meta_size: int
    types_offset: int
    models_offset: int
    jobs_offset: int
    job_stats_offset: int
    rounds_offset: int
    series_offset: int
    series_names_offset: int
    queue_index_offset: int
    queue_offset: int
    queue_size: int
    body_crc32: int
    reserved: int = 0
    section_crc32: tuple[int, ...] = (0,) * NUM_SECTIONS
    header_crc32: int = 0

    @property
    def compact_queue(self) -> bool:
        return bool(self.flags & FLAG_QUEUE_COMPACT)

    def sections(self) -> list[tuple[str, int, int]]:
        """(name, offset, size) of every section, in file order."""
        m, n, r = self.num_types, self.num_jobs, self.num_rounds
        return [
            ("meta", self.meta_offset, self.meta_size),
            ("types", self.types_offset, m * TYPE_SIZE),
            ("models", self.models_offset, self.num_models * NAME_SIZE),
            ("jobs", self.jobs_offset, n * self.job_size),
            ("job_stats", self.job_stats_offset, n * job_stats_size(m)),
            ("rounds", self.rounds_offset, r * self.round_size),
            ("series_names", self.series_names_offset, self.num_series * NAME_SIZE),
            ("series", self.series_offset, self.num_series * r * 4),
            ("queue_index", self.queue_index_offset, (r + 1) * 8),
            ("queue", self.queue_offset, self.queue_size),
        ]


def pack_header(header: Header) -> bytes:
    """The 256 header bytes, ending with the CRC-32 of the bytes before it."""
    values = [getattr(header, name) for name, _, _ in HEADER_FIELDS]
    head = HEADER_STRUCT.pack(*values) + SECTION_CRC_STRUCT.pack(*header.section_crc32)
    head = head.ljust(HEADER_CRC_OFFSET, b"\0")
    return head + zlib.crc32(head).to_bytes(4, "little")


def unpack_header(data: bytes) -> Header:
    """The header from the first 256 bytes (no checks beyond the length)."""
    values = HEADER_STRUCT.unpack_from(data, 0)
    crcs = SECTION_CRC_STRUCT.unpack_from(data, SECTION_CRC_OFFSET)
    (crc,) = struct.unpack_from("<I", data, HEADER_CRC_OFFSET)
    fields = dict(zip((name for name, _, _ in HEADER_FIELDS), values, strict=True))
    return Header(**fields, section_crc32=crcs, header_crc32=crc)


def name_bytes(name: str, size: int) -> bytes:
    """A NUL-padded UTF-8 name, cut to ``size`` bytes on a character boundary."""
    raw = name.encode("utf-8")
    while len(raw) > size:
        name = name[:-1]
        raw = name.encode("utf-8")
    return raw.ljust(size, b"\0")


def read_name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")
