"""The sliding-window saturation monitor: ends an overloaded run and says why.

Four verdicts: *stalled* (completions all but stopped at full utilisation),
*queue_growth* (arrivals outpace completions: the work waiting grows by far over
the last few hundred arrivals, whatever the cluster's size, or the job count grows
slightly but for thousands of completions)
and *starved* (a few window jobs get no
GPU time at all while every later job overtakes them, so the window never completes
although the queue is stable: AlloX's shortest-first assignment does this under high
load, and so do the reference's zero-throughput allocations under ``--quirks gavel``)
and *held_up* (the window still unfinished after the run lasted ``drain_limit`` times
as long as the window took to arrive, the GPUs full all the while: an overload too
mild to tell from noise, serving the window's last jobs a trickle).

:class:`SaturationDetector` is the pure decision over a stream of completion records;
:func:`saturation_monitor` is the SimPy process that feeds it from the completion
tracker's store (and on a timer, so that a run where nothing completes any more is
caught too) and triggers the run's stop event.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy
import structlog

from des.config import SaturationConfig, WindowConfig

log = structlog.get_logger()

HOUR = 3600.0
# Stalled also needs fewer completions than this fraction of the arrivals in the same
# span: a small cluster that finishes few jobs because few arrive is not stalled.
STALL_ARRIVAL_FRACTION = 0.5
# A mild overload ends a run only if fewer than this fraction of the window jobs left
# one horizon ago have finished since.
WINDOW_DRAINING = 0.5


@dataclass(frozen=True, slots=True)
class Observation:
    """The cluster's state at a completion (or a timer tick).

    ``busy_gpu_s``: GPU-seconds of work finished so far; ``active``: jobs admitted and
    not finished; ``completions``, ``arrivals``: jobs finished and arrived so far;
    ``window_left``: jobs of the measurement window not finished yet (None: no window);
    ``window_service_gpu_s``: GPU-seconds of service window jobs have received so far;
    ``backlog_gpu_s``: GPU-seconds of work the active jobs still need, each on its
    fastest type.
    """

    time: float
    completions: int
    active: int
    busy_gpu_s: float
    arrivals: int
    window_left: int | None = None  # measurement-window jobs not yet finished
    window_service_gpu_s: float = 0.0  # GPU time given to window jobs so far
    backlog_gpu_s: float = 0.0  # work the active jobs still need, on their fastest type


@dataclass(frozen=True)
class Verdict:
    """Why a run is saturated: a short reason code, a sentence, and when; ``since``:
    when the span the verdict rests on began, for a verdict that rests on a span of
    time rather than on the last completions (None)."""

    reason: str
    message: str
    time: float
    since: float | None = None


class SaturationDetector:
    """Decides saturation from observations; knows nothing of SimPy."""

    def __init__(
        self,
        config: SaturationConfig,
        total_gpus: int,
        window: WindowConfig | None = None,
        *,
        arrival_order: bool = False,
    ) -> None:
        self.config = config
        self.total_gpus = total_gpus
        self.window = window
        # (window jobs left, their service, completions) when the window last made progress
        self._window_mark: tuple[int, float, int] | None = None
        # The first observation after the window's last arrival.
        self._window_arrived: Observation | None = None
        w = config.window_completions
        self._recent: deque[Observation] = deque(maxlen=w + 1)
        # The observation at each block boundary (every w completions), enough for the
        # growth horizon of growth_windows blocks.
        self._marks: deque[Observation] = deque(maxlen=config.growth_windows + 1)
        # Per horizon of h arrivals, with the utilisation it asks for: the observations
        # of the last two spans of h. A policy that serves in ``arrival_order`` (FIFO)
        # completes its window however the work after it grows, so the longer horizons,
        # which call a mild overload, are not asked of it.
        self._horizons: list[tuple[int, float]] = []
        h = config.overload_arrivals
        while h >= config.overload_min_arrivals:
            self._horizons.append((h, config.min_utilization))
            h //= 2
        h = 2 * config.overload_arrivals
        while not arrival_order and h <= config.overload_long_arrivals:
            self._horizons.insert(0, (h, config.overload_long_min_utilization))
            h *= 2
        # (since the last h arrivals ago, since h arrivals before that)
        self._since: list[tuple[deque[Observation], deque[Observation]]] = [
            (deque(), deque()) for _ in self._horizons
        ]

    @property
    def horizons(self) -> tuple[tuple[int, float], ...]:
        """The overload rule's horizons, in arrivals, longest first, each with the
        utilisation it asks for."""
        return tuple(self._horizons)

    def _utilization(self, a: Observation, b: Observation) -> float:
        """The GPUs' busy fraction between two observations, at most 1: work is counted
        when its slice ends, so a span shorter than a round can hold more than the span's
        own GPU time (a round's work finished in it)."""
        span = b.time - a.time
        if span <= 0 or self.total_gpus == 0:
            return 0.0
        return min(1.0, (b.busy_gpu_s - a.busy_gpu_s) / (span * self.total_gpus))

    def observe(self, obs: Observation, *, completion: bool = True) -> Verdict | None:
        """Feeds one observation; returns a verdict the first time saturation is seen."""
        cfg = self.config
        closed = False
        if completion:
            self._recent.append(obs)
            last = self._marks[-1] if self._marks else None
            if last is None or obs.completions - last.completions >= cfg.window_completions:
                self._marks.append(obs)
                closed = last is not None
        stalled = self._stalled(obs)
        if stalled is not None:
            return stalled
        outpaced = self._outpaced(obs)
        if outpaced is not None:
            return outpaced
        if closed:
            growing = self._growing(obs)
            if growing is not None:
                return growing
        if completion:
            starved = self._starved(obs)
            if starved is not None:
                return starved
        return self._held_up(obs)

    def _stalled(self, now: Observation) -> Verdict | None:
        cfg = self.config
        if len(self._recent) <= cfg.window_completions:
            return None
        first = self._recent[0]
        span_h = (now.time - first.time) / HOUR
        if span_h <= 0:
            return None
        completions = now.completions - first.completions
        arrivals = now.arrivals - first.arrivals
        rate = completions / span_h
        util = self._utilization(first, now)
        if (
            rate < cfg.min_completion_rate_per_h
            and completions < STALL_ARRIVAL_FRACTION * arrivals
            and util >= cfg.min_utilization
        ):
            return Verdict(
                "stalled",
                f"completion rate {rate:.3f} jobs/h over the last {completions} "
                f"completions is below {cfg.min_completion_rate_per_h} jobs/h at "
                f"{util:.1%} utilisation while {arrivals} jobs arrived",
                now.time,
            )
        return None

    def _growing(self, now: Observation) -> Verdict | None:
        cfg = self.config
        if len(self._marks) <= cfg.growth_windows:
            return None
        start = self._marks[0]
        util = self._utilization(start, now)
        if util < cfg.min_utilization or now.active <= self.total_gpus:
            return None
        arrivals = now.arrivals - start.arrivals
        completions = now.completions - start.completions
        growth = now.active - start.active
        noise = math.sqrt(arrivals + completions)
        if growth < cfg.growth_min_fraction * arrivals or growth < cfg.growth_z * noise:
            return None
        return Verdict(
            "queue_growth",
            f"active jobs rose from {start.active} to {now.active} over the last "
            f"{completions} completions ({growth / max(arrivals, 1):.1%} of "
            f"{arrivals} arrivals, {growth / max(noise, 1e-9):.1f} sigma) at "
            f"{util:.1%} utilisation: arrivals outpace completions",
            now.time,
        )

    def _outpaced(self, now: Observation) -> Verdict | None:
        """The work waiting grew by a good part of what the whole cluster can do over
        each of the last two spans of ``h`` arrivals, at full utilisation with more jobs
        active than GPUs: arrivals bring work faster than the GPUs can do it. Each
        horizon of the ladder (``overload_arrivals`` halved down to
        ``overload_min_arrivals``) asks for the fraction scaled by
        ``sqrt(overload_arrivals / h)``, as the noise of the work that ``h`` arrivals
        bring is, so a gross overload is called after a hundred arrivals. Two spans in a
        row, because one long job of many GPUs can fill one span on its own.

        Unless the policy serves in arrival order, horizons also double up to
        ``overload_long_arrivals`` with the same scaling (12.5% at 6,400 arrivals) and a
        utilisation of ``overload_long_min_utilization``: a mild overload that LAS-like
        policies live with for thousands of hours, postponing their window's last jobs,
        on multi-GPU clusters that are full at about 98.5%."""
        verdict = None
        for (h, min_util), (recent, earlier) in zip(self._horizons, self._since, strict=True):
            for since in (recent, earlier):
                if since and since[-1].arrivals == now.arrivals:
                    since[-1] = now  # the later of two with as many arrivals is better
                else:
                    since.append(now)  # so at most 2h + 1 are kept
            while len(recent) > 1 and recent[1].arrivals <= now.arrivals - h:
                recent.popleft()
            mid = recent[0]  # the last observation at least h arrivals ago
            while len(earlier) > 1 and earlier[1].arrivals <= mid.arrivals - h:
                earlier.popleft()
            if verdict is None:
                verdict = self._outpaced_over(earlier[0], mid, now, h, min_util)
        return verdict

    def _window_held_up(self, mid: Observation, now: Observation) -> bool:
        """Every window job has arrived, and fewer than half of those unfinished at
        ``mid`` finished since: a mild overload ends a run whose window it holds up,
        not one whose window is still draining (single-GPU LAS at 5.6 jobs/h, whose
        window completes, grows its waiting work as fast in its last spans)."""
        window = self.window
        if window is None or now.window_left is None or mid.window_left is None:
            return False
        if mid.arrivals < window.end or now.window_left == 0:
            return False
        return now.window_left > mid.window_left * (1 - WINDOW_DRAINING)

    def _backlog_growth(self, start: Observation, end: Observation) -> float:
        """Growth of the work waiting over the span, as a fraction of the cluster's
        GPU time in it."""
        capacity = (end.time - start.time) * self.total_gpus
        return (end.backlog_gpu_s - start.backlog_gpu_s) / capacity if capacity > 0 else 0.0

    def _outpaced_over(
        self, start: Observation, mid: Observation, now: Observation, h: int, min_util: float
    ) -> Verdict | None:
        cfg = self.config
        if mid.arrivals - start.arrivals < h or now.arrivals - mid.arrivals < h:
            return None
        if now.active <= self.total_gpus:
            return None
        util = self._utilization(start, now)
        if util < min_util:
            return None
        if h > cfg.overload_arrivals and not self._window_held_up(mid, now):
            return None
        needed = cfg.overload_backlog_fraction * math.sqrt(cfg.overload_arrivals / h)
        first, last = self._backlog_growth(start, mid), self._backlog_growth(mid, now)
        if first < needed or last < needed:
            return None
        growth = now.backlog_gpu_s - start.backlog_gpu_s
        return Verdict(
            "queue_growth",
            f"the work waiting grew by {growth / HOUR:,.0f} GPU-hours in "
            f"{(now.time - start.time) / HOUR:.1f} h, {first:.0%} then {last:.0%} of what "
            f"the {self.total_gpus} GPUs can do in each half (at most {needed:.0%} per "
            f"{h} arrivals), while {now.arrivals - start.arrivals} jobs arrived and "
            f"{now.completions - start.completions} finished; active jobs rose from "
            f"{start.active} to {now.active} at {util:.1%} utilisation: arrivals outpace "
            f"the cluster",
            now.time,
        )

    def _starved(self, now: Observation) -> Verdict | None:
        """Unfinished window jobs that get no GPU time at all while every later job
        overtakes them: the policy starves them (a slow window job is not starved)."""
        window, left = self.window, now.window_left
        if window is None or left is None or left == 0 or now.arrivals < window.end:
            return None
        mark = self._window_mark
        if mark is None or mark[0] != left or mark[1] != now.window_service_gpu_s:
            self._window_mark = (left, now.window_service_gpu_s, now.completions)
            return None
        overtaken = now.completions - mark[2]
        if overtaken < self.config.starve_completions:
            return None
        return Verdict(
            "starved",
            f"{left} of {window.size} window jobs unfinished and given no GPU time while "
            f"the last {overtaken} other jobs finished: the policy starves them",
            now.time,
        )

    def _held_up(self, now: Observation) -> Verdict | None:
        """Unfinished window jobs after the run lasted ``drain_limit`` times as long as
        the window took to arrive, the GPUs full since: an overload that serves them a
        trickle and never lets the window complete."""
        window, left = self.window, now.window_left
        if window is None or left is None or now.arrivals < window.end:
            return None
        mark = self._window_arrived
        if mark is None:
            self._window_arrived = now
            return None
        limit = self.config.drain_limit
        # (a window that arrived at once, at the start, gives no time to scale)
        if left == 0 or limit == 0 or mark.time <= 0 or now.time < limit * mark.time:
            return None
        util = self._utilization(mark, now)
        if util < self.config.overload_long_min_utilization:
            return None
        return Verdict(
            "held_up",
            f"{left} of {window.size} window jobs still unfinished at "
            f"{now.time / HOUR:,.0f} h, {now.time / mark.time:.1f} times the "
            f"{mark.time / HOUR:,.0f} h the window took to arrive, at {util:.1%} "
            f"utilisation since: an overload that holds the window up",
            now.time,
            since=mark.time,
        )


def saturation_monitor(
    env: simpy.Environment,
    detector: SaturationDetector,
    completions: simpy.Store,
    snapshot: Callable[[], Observation],
    on_saturated: Callable[[Verdict], None],
    tick_s: float,
) -> Generator[simpy.Event, Any, None]:
    """SimPy process: observes every completion (and a periodic tick) until a verdict."""
    while True:
        get = completions.get()
        tick = env.timeout(tick_s)
        fired = yield get | tick
        if get in fired:
            verdict = detector.observe(fired[get], completion=True)
        else:
            get.cancel()
            verdict = detector.observe(snapshot(), completion=False)
        if verdict is not None:
            log.warning(
                "saturation_detected",
                sim_time=env.now,
                reason=verdict.reason,
                message=verdict.message,
            )
            on_saturated(verdict)
            return
