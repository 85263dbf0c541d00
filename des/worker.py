"""One SimPy process per GPU: the worker holds a lease on the job placed on its GPU.

A placement that stays from round to round is one lease, so a worker wakes only when
the job on its GPU changes (another job, or none because its job finished or was
preempted), not every round: a run costs events per change of placement, not per GPU
per round. The timing and crediting of each round's work is the completion tracker's;
the worker records what its GPU ran, since when, and for how long in all.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

IDLE = (-1, -1)


class GpuWorker:
    """The worker of one GPU; :meth:`run` is its process."""

    def __init__(self, env: simpy.Environment, gpu_id: int, type_index: int) -> None:
        self.env = env
        self.gpu_id = gpu_id
        self.type_index = type_index
        # The lease held now: (job, space-sharing partner or -1), (-1, -1) when idle,
        # and since when.
        self.lease: tuple[int, int] = IDLE
        self.since = 0.0
        self.busy_s = 0.0  # seconds of leases that have ended
        self.leases = 0  # leases taken
        self._wanted = IDLE
        self._wake: simpy.Event = env.event()

    def hold(self, job_id: int, partner: int = -1) -> None:
        """The job (and partner) placed on this GPU from now; wakes the worker only if
        that is not what it holds already."""
        wanted = (job_id, partner)
        if wanted == self._wanted:
            return
        self._wanted = wanted
        if not self._wake.triggered:
            self._wake.succeed()

    def release(self) -> None:
        """Nothing runs on this GPU from now."""
        self.hold(-1)

    def run(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        while True:
            yield self._wake
            self._wake = env.event()
            if self._wanted == self.lease:
                continue  # changed and changed back within the instant
            now = env.now
            if self.lease != IDLE:
                self.busy_s += now - self.since
            self.lease, self.since = self._wanted, now
            if self.lease != IDLE:
                self.leases += 1
