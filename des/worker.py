"""One SimPy process per GPU: it runs the slices the scheduler hands it.

A worker waits for a slice, runs it for the slice's duration and reports to the
completion tracker. Remaining work is never stored here: the scheduler derives it from
what the tracker credited.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from scheduler.mechanism import Dispatch


class GpuWorker:
    """The worker of one GPU; :meth:`run` is its process."""

    def __init__(
        self,
        env: simpy.Environment,
        gpu_id: int,
        type_index: int,
        on_slice_done: Callable[[Dispatch], None],
    ) -> None:
        self.env = env
        self.gpu_id = gpu_id
        self.type_index = type_index
        self.busy_s = 0.0
        self.slices = 0
        self._on_slice_done = on_slice_done
        self._next: simpy.Event = env.event()
        # The slice running now and when it started (None between slices).
        self.current: Dispatch | None = None
        self.started = 0.0

    def assign(self, dispatch: Dispatch) -> None:
        """Hands the worker its slice of the coming round."""
        self._next.succeed(dispatch)

    def run(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        while True:
            dispatch: Dispatch = yield self._next
            self._next = env.event()
            self.current, self.started = dispatch, env.now
            yield env.timeout(dispatch.duration)
            self.current = None
            self.busy_s += dispatch.duration
            self.slices += 1
            self._on_slice_done(dispatch)
