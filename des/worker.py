"""One SimPy process per GPU: the worker holds a lease on the job placed on its GPU.

The worker's process follows its GPU's busy periods: it wakes when the GPU gets work
after standing idle and when it is left idle (its job finished, or was preempted and
nothing took its place), and counts the GPU's busy time. A placement that stays from
round to round is one lease, and a GPU handed from one job straight to another (the
usual case on a loaded cluster, where jobs move between GPUs every round) changes its
lease at that instant without an event: a run costs events per busy period, not per
change of placement nor per GPU per round. The timing and crediting of each round's
work is the completion tracker's; the worker records what its GPU ran, since when, and
for how long in all.
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
        self.busy_s = 0.0  # seconds of busy periods that have ended
        self.leases = 0  # leases taken
        self._busy_since = 0.0  # start of the busy period in progress
        self._wanted = IDLE
        self._wake: simpy.Event = env.event()

    def hold(self, job_id: int, partner: int = -1) -> None:
        """The job (and partner) placed on this GPU from now. From one job straight to
        another, the lease changes now; from idle to busy or back, the worker wakes."""
        wanted = (job_id, partner)
        if wanted == self._wanted:
            return
        self._wanted = wanted
        lease = self.lease
        if lease != IDLE and wanted != IDLE and wanted != lease:
            # a handover within a busy period: no event
            self.lease, self.since = wanted, self.env.now
            self.leases += 1
        elif not self._wake.triggered:
            self._wake.succeed()

    def release(self) -> None:
        """Nothing runs on this GPU from now."""
        self.hold(-1)

    def run(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        while True:
            yield self._wake
            self._wake = env.event()
            wanted = self._wanted
            if wanted == self.lease:
                continue  # changed and changed back within the instant, or handed over
            now = env.now
            if wanted == IDLE:
                self.busy_s += now - self._busy_since
            else:
                self._busy_since = now
                self.leases += 1
            self.lease, self.since = wanted, now
