"""Per-round telemetry: one row per round, collected into growing numpy columns.

The round process hands :meth:`TelemetryCollector.record` each round's plan reduced to
arrays (busy GPUs per type, the occupied GPUs, the running job ids) and a few counters;
the collector appends them to preallocated column arrays that double when full, so a
round costs a handful of array stores and no per-round dicts. :meth:`columns` returns
the finished table (column name -> array) for the output code to write; the columns are
documented in docs/telemetry.md.

The phase of a round is decided from the measurement window's arrivals: ``warmup``
before the window's first job arrived, ``measurement`` until its last one arrived,
``drain`` after that. When the run ended saturated, the rounds from the first completion
the monitor's verdict rests on are relabelled ``saturated``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from cluster import Topology
from des.config import SaturationConfig, WindowConfig
from des.jobrecords import CompletionLog
from des.monitor import Verdict
from scheduler.jobstate import ActiveJobs
from scheduler.mechanism import Dispatch, RoundPlan

PHASES = ("warmup", "measurement", "drain", "saturated")
WARMUP, MEASUREMENT, DRAIN, SATURATED = range(4)
HOUR = 3600.0
_INITIAL_ROWS = 4096


class _Reduced(NamedTuple):
    """A round's dispatches, the job set's version then, and what they come to."""

    dispatches: tuple[Dispatch, ...]
    version: int
    busy: npt.NDArray[np.int64]
    fragmented: npt.NDArray[np.int64] | None
    running: int


class Fragmentation:
    """Free GPUs that no waiting job can use because of server contiguity, per type.

    A waiting job of ``s`` GPUs runnable on a type could use any free GPU of that type
    if contiguity did not matter, as long as the type has ``s`` free GPUs. With
    contiguity it can use only the free GPUs of a server with ``s`` free GPUs (``s`` no
    larger than a server), or of a wholly free server when the type has enough wholly
    free servers (larger jobs take whole servers). A free GPU counts as fragmented when
    some waiting job could use it without contiguity and none can with it.
    """

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.server_of = np.asarray(topology.server_of)
        self.server_size = np.array([len(g) for g in topology.gpus_of_server], dtype=np.int64)
        self.server_type = np.asarray(topology.type_of_server, dtype=np.int64)
        self.num_servers = topology.num_servers
        self.contiguity = any(size > 1 for size in topology.gpus_per_server)

    def __call__(
        self,
        occupied: npt.NDArray[np.bool_],
        waiting_sizes: npt.NDArray[np.int64],
        waiting_runnable: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.int64]:
        """``occupied[gpu]``: the GPU runs something this round; ``waiting_sizes[j]`` and
        ``waiting_runnable[j, type]``: the waiting jobs' GPU counts and the types they
        can run on. Returns the fragmented free GPUs per type."""
        topo = self.topology
        out = np.zeros(topo.num_types, dtype=np.int64)
        if not self.contiguity or waiting_sizes.size == 0:
            return out
        free_per_server = np.bincount(self.server_of[~occupied], minlength=self.num_servers).astype(
            np.int64
        )
        for k in range(topo.num_types):
            servers = np.asarray(topo.servers_of_type[k], dtype=np.int64)
            free = free_per_server[servers]
            total_free = int(free.sum())
            sizes = np.unique(waiting_sizes[waiting_runnable[:, k]])
            sizes = sizes[sizes <= total_free]
            if total_free == 0 or sizes.size == 0:
                continue
            per_server = int(topo.gpus_per_server[k])
            whole = free == self.server_size[servers]
            usable = np.zeros(servers.size, dtype=bool)
            for s in sizes.tolist():
                if s <= per_server:
                    usable |= free >= s
                elif int(whole.sum()) >= math.ceil(s / per_server):
                    usable |= whole
            out[k] = total_free - int(free[usable].sum())
        return out


class TelemetryCollector:
    """Collects one row per round; :meth:`columns` gives the table."""

    def __init__(
        self,
        topology: Topology,
        jobs: ActiveJobs,
        window: WindowConfig | None,
        saturation: SaturationConfig,
    ) -> None:
        self.jobs = jobs
        self.num_gpus = topology.num_gpus
        self.type_names = topology.gpu_types
        self.counts = np.array(topology.counts, dtype=np.int64)
        self.window = window
        self.saturation = saturation
        self.fragmentation = Fragmentation(topology)
        self.window_arrived = 0
        self.solver_names: list[str] = []
        self._solver_codes: dict[str, int] = {}
        self._n = 0
        # The finish time the completion rate is measured from, and at how many
        # completions it was read (it changes only when one more job finishes).
        self._rate_from = (-1, 0.0)
        # The last round's reduction (see :meth:`observe`).
        self._last: _Reduced | None = None
        self._alloc(_INITIAL_ROWS)

    def _alloc(self, rows: int) -> None:
        m = len(self.type_names)
        old = self.__dict__.get("_cols")
        cols: dict[str, npt.NDArray[Any]] = {
            "time_s": np.zeros(rows),
            "round": np.zeros(rows, dtype=np.int64),
            "busy": np.zeros((rows, m), dtype=np.int32),
            "fragmented": np.zeros((rows, m), dtype=np.int32),
            "active_jobs": np.zeros(rows, dtype=np.int32),
            "running_jobs": np.zeros(rows, dtype=np.int32),
            "jobs_arrived": np.zeros(rows, dtype=np.int64),
            "jobs_completed": np.zeros(rows, dtype=np.int64),
            "completion_rate_per_h": np.zeros(rows),
            "solved": np.zeros(rows, dtype=bool),
            "solver": np.zeros(rows, dtype=np.int16),
            "solve_wall_s": np.zeros(rows),
            "phase": np.zeros(rows, dtype=np.int8),
        }
        if old is not None:
            for name, arr in old.items():
                cols[name][: self._n] = arr[: self._n]
        self._cols = cols

    def job_arrived(self, job_id: int) -> None:
        """Called at every arrival (the phase follows the window's arrivals)."""
        if self.window is not None and job_id in self.window:
            self.window_arrived += 1

    def _phase(self) -> int:
        window = self.window
        if window is None:
            return MEASUREMENT
        if self.window_arrived == 0:
            return WARMUP
        return MEASUREMENT if self.window_arrived < window.size else DRAIN

    def _solver_code(self, solvers: Sequence[str | None]) -> int:
        """0: no solve this round; else 1 + the index of the solver chain's name."""
        name = "+".join(s or "none" for s in solvers)
        code = self._solver_codes.get(name)
        if code is None:
            self.solver_names.append(name)
            code = self._solver_codes[name] = len(self.solver_names)
        return code

    def observe(
        self,
        plan: RoundPlan,
        time_s: float,
        round_no: int,
        jobs_arrived: int,
        completed: CompletionLog,
    ) -> None:
        """Reduces a round's plan to arrays and records it (the round process's hook).
        ``completed``: the tracker's list of completions so far (read, not copied).

        A round that reuses the last one's slices (the same dispatches) with the same
        active jobs has the same busy GPUs, running jobs and fragmentation: those are
        reused too."""
        jobs = self.jobs
        dispatches = plan.dispatches
        last = self._last
        if last is None or last.dispatches is not dispatches or last.version != jobs.version:
            last = self._last = _Reduced(dispatches, jobs.version, *self._reduce(dispatches))
        solve = None
        if plan.solve is not None:
            sols = plan.solve.allocation.solves
            solve = ([s.solver for s in sols], sum(s.seconds for s in sols))
        self.record(time_s, round_no, last.busy, last.fragmented, len(jobs), last.running,
                    jobs_arrived, completed, solve)  # fmt: skip

    def _reduce(
        self, dispatches: tuple[Dispatch, ...]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64] | None, int]:
        """Busy GPUs per type, fragmented GPUs per type (None without contiguity) and the
        number of running jobs of a round's dispatches."""
        per_type = [0] * len(self.type_names)
        running: list[int] = []
        for d in dispatches:
            per_type[d.type_index] += len(d.gpus)
            running.append(d.job_id)
            if d.partner >= 0:
                running.append(d.partner)
        busy = np.array(per_type, dtype=np.int64)
        frag = None
        if self.fragmentation.contiguity:
            jobs = self.jobs
            occupied = np.zeros(self.num_gpus, dtype=bool)
            for d in dispatches:
                occupied[list(d.gpus)] = True
            waiting = ~np.isin(jobs.ids, running)
            frag = self.fragmentation(
                occupied, jobs.scale_factors[waiting], jobs.throughputs[waiting] > 0
            )
        return busy, frag, len(running)

    def record(
        self,
        time_s: float,
        round_no: int,
        busy: npt.NDArray[np.int64],
        fragmented: npt.NDArray[np.int64] | None,
        active_jobs: int,
        running_jobs: int,
        jobs_arrived: int,
        completed: CompletionLog,
        solve: tuple[Sequence[str | None], float] | None,
    ) -> None:
        """Appends one round: busy and fragmented GPUs per type (None: no contiguity,
        so none), counters, the completions so far, and the solvers and wall seconds of
        this round's allocation solve (None when the allocation was not solved)."""
        i = self._n
        if i == self._cols["time_s"].shape[0]:
            self._alloc(2 * i)
        c = self._cols
        c["time_s"][i] = time_s
        c["round"][i] = round_no
        c["busy"][i] = busy
        if fragmented is not None:
            c["fragmented"][i] = fragmented
        c["active_jobs"][i] = active_jobs
        c["running_jobs"][i] = running_jobs
        c["jobs_arrived"][i] = jobs_arrived
        done = len(completed)
        c["jobs_completed"][i] = done
        w = self.saturation.window_completions
        rate = math.nan
        if done > w:
            if self._rate_from[0] != done:
                self._rate_from = (done, completed.finish_at(done - w - 1))
            first = self._rate_from[1]
            if time_s > first:
                rate = w * HOUR / (time_s - first)
        c["completion_rate_per_h"][i] = rate
        if solve is not None:
            c["solved"][i] = True
            c["solver"][i] = self._solver_code(solve[0])
            c["solve_wall_s"][i] = solve[1]
        c["phase"][i] = self._phase()
        self._n = i + 1

    def __len__(self) -> int:
        return self._n

    def evidence_completions(self, verdict: Verdict) -> int:
        """How many of the last completions the monitor's verdict rests on."""
        cfg = self.saturation
        if verdict.reason == "queue_growth":
            return cfg.growth_windows * cfg.window_completions
        if verdict.reason == "starved":
            return cfg.starve_completions
        return cfg.window_completions

    def columns(
        self, verdict: Verdict | None = None, completed: CompletionLog | None = None
    ) -> dict[str, npt.NDArray[Any]]:
        """The table, column name -> 1-D array, in documented order. With a verdict the
        rounds from the first completion it rests on (or from its span's start, for a
        verdict that rests on a span of time) are marked ``saturated``."""
        n = self._n
        c = {name: arr[:n] for name, arr in self._cols.items()}
        phase = c["phase"].copy()
        if verdict is not None and verdict.since is not None:
            phase[c["time_s"] >= verdict.since] = SATURATED
        elif verdict is not None:
            back = self.evidence_completions(verdict)
            # fewer completions than the verdict's span: it rests on all of them
            start = completed[max(0, len(completed) - back)].finish if completed else 0.0
            phase[c["time_s"] >= start] = SATURATED
        out: dict[str, npt.NDArray[Any]] = {
            "round": c["round"],
            "time_s": c["time_s"],
        }
        for k, name in enumerate(self.type_names):
            busy = c["busy"][:, k]
            out[f"busy_{name}"] = busy
            out[f"util_{name}"] = busy / self.counts[k] if self.counts[k] else np.zeros(n)
        out["active_jobs"] = c["active_jobs"]
        out["running_jobs"] = c["running_jobs"]
        out["waiting_jobs"] = c["active_jobs"] - c["running_jobs"]
        out["jobs_arrived"] = c["jobs_arrived"]
        out["jobs_completed"] = c["jobs_completed"]
        out["completion_rate_per_h"] = c["completion_rate_per_h"]
        out["solved"] = c["solved"]
        names = np.array(["", *self.solver_names], dtype=object)
        out["solver"] = names[c["solver"]]
        out["solve_wall_s"] = c["solve_wall_s"]
        out["phase"] = np.array(PHASES, dtype=object)[phase]
        for k, name in enumerate(self.type_names):
            out[f"fragmented_{name}"] = c["fragmented"][:, k]
        return out
