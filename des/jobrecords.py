"""The finished jobs of a run, as columns that spill to a scratch file in chunks.

A long trace finishes far more jobs than are ever active at once. Keeping one Python
object per finished job made a run's memory grow with every job it had seen (about
100 bytes a job, and more in the list); here finished jobs are rows of a structured
array (:data:`RECORD`, 32 bytes), and every full chunk of :data:`CHUNK` rows is written
to an anonymous scratch file (deleted when the log is closed or collected) and dropped
from memory. Memory thus holds one chunk whatever the run's length; readers see every
row, in the order the jobs finished, wherever it lives.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np
import numpy.typing as npt

RECORD = np.dtype(
    [("job_id", "<i8"), ("arrival", "<f8"), ("finish", "<f8"), ("scale_factor", "<i8")]
)
CHUNK = 4096


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished job: when it arrived and finished, and its GPU count."""

    job_id: int
    arrival: float
    finish: float
    scale_factor: int

    @property
    def jct(self) -> float:
        return self.finish - self.arrival


class CompletionLog:
    """Finished jobs in the order they finished: append, count, index, read by chunks.

    ``chunk``: rows held in memory before they are spilled; ``scratch_dir``: where the
    scratch file goes (the system's temporary directory by default).
    """

    def __init__(self, chunk: int = CHUNK, scratch_dir: str | None = None) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        self._chunk = chunk
        self._scratch_dir = scratch_dir
        self._tail = np.zeros(chunk, dtype=RECORD)
        self._in_tail = 0
        self._spilled = 0  # rows in the scratch file
        self._file: IO[bytes] | None = None

    # -- writing -----------------------------------------------------------------------

    def append(self, done: Completion) -> None:
        """Adds one finished job (after every job that finished before it)."""
        row = self._tail[self._in_tail]
        row["job_id"] = done.job_id
        row["arrival"] = done.arrival
        row["finish"] = done.finish
        row["scale_factor"] = done.scale_factor
        self._in_tail += 1
        if self._in_tail == self._chunk:
            self._spill()

    def _spill(self) -> None:
        if self._file is None:
            # held open for the log's life, closed by close() (or when collected)
            self._file = tempfile.TemporaryFile(prefix="hetsim-jobs-", dir=self._scratch_dir)  # noqa: SIM115
        data = self._tail[: self._in_tail].tobytes()
        written = os.pwrite(self._file.fileno(), data, self._spilled * RECORD.itemsize)
        if written != len(data):  # pragma: no cover - a full disk raises instead
            raise OSError(f"short write to the job log's scratch file ({written} bytes)")
        self._spilled += self._in_tail
        self._in_tail = 0

    def close(self) -> None:
        """Deletes the scratch file; the log is empty afterwards."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._spilled = self._in_tail = 0

    # -- reading -----------------------------------------------------------------------

    def __len__(self) -> int:
        return self._spilled + self._in_tail

    @property
    def in_memory(self) -> int:
        """Rows held in memory now (at most one chunk)."""
        return self._in_tail

    def _rows(self, lo: int, hi: int) -> npt.NDArray[np.void]:
        """Rows ``lo:hi`` (0 <= lo <= hi <= len), from the scratch file and the tail."""
        parts = []
        if lo < self._spilled:
            assert self._file is not None
            end = min(hi, self._spilled)
            size = RECORD.itemsize
            data = os.pread(self._file.fileno(), (end - lo) * size, lo * size)
            parts.append(np.frombuffer(data, dtype=RECORD))
        if hi > self._spilled:
            parts.append(self._tail[max(lo, self._spilled) - self._spilled : hi - self._spilled])
        if len(parts) == 1:
            return parts[0].copy()
        return np.concatenate(parts) if parts else np.zeros(0, dtype=RECORD)

    def __getitem__(self, index: int) -> Completion:
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError(f"completion {index} of {n}")
        return Completion(*self._rows(i, i + 1).tolist()[0])

    def finish_at(self, index: int) -> float:
        """The finish time of completion ``index`` (0-based, in finishing order)."""
        return self[index].finish

    def chunks(self) -> Iterator[npt.NDArray[np.void]]:
        """Every row in finishing order, one chunk (a structured array) at a time."""
        n = len(self)
        for lo in range(0, n, self._chunk):
            yield self._rows(lo, min(n, lo + self._chunk))

    def __iter__(self) -> Iterator[Completion]:
        for rows in self.chunks():
            for row in rows.tolist():
                yield Completion(*row)

    def jcts(self, start: int | None = None, end: int | None = None) -> npt.NDArray[np.float64]:
        """JCTs (finish - arrival) in finishing order, of the jobs with ids in
        ``[start, end)`` when given (a measurement window), else of all."""
        out = []
        for rows in self.chunks():
            if start is not None and end is not None:
                ids = rows["job_id"]
                rows = rows[(ids >= start) & (ids < end)]
            out.append(rows["finish"] - rows["arrival"])
        return np.concatenate(out) if out else np.zeros(0)
