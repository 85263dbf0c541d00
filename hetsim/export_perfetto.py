"""A run's event trace as a native Perfetto trace (``.pftrace``), for the Perfetto UI.

Reads ``DIR/events.jsonl`` (and the cluster's server size from ``DIR/result.json``)
and writes TracePackets with the ``perfetto`` package's protobuf classes, streamed
through its ``StreamingTraceProtoBuilder``:

- a track per GPU type, a child track per server, a child track per GPU; each slice
  is a job's stint on that GPU (from its ``job_placed`` to the event that ended it),
  named ``job N``, with the model, GPU count, total steps and steps per round as
  arguments. Jobs sharing GPUs (space sharing) go on extra lanes of the GPU
  (``GPU 3 (lane 2)``), since slices on one track must nest;
- counter tracks: utilisation per GPU type (busy GPUs / GPUs), active jobs, waiting
  jobs (active - running), at each round start;
- instant events on a ``scheduler`` track: allocation solves (solvers, number of
  jobs, attempts; solve wall times are not in the deterministic event trace),
  solver fallbacks, unrunnable jobs, the saturation verdict, stalls, timeouts;
- flows linking the stints of one job (on its first GPU of each stint).

Timestamps are nanoseconds of simulated time. Changes at one instant are written
ends first, so a GPU handed from one job to another never has overlapping slices.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import (
    CounterDescriptor,
    TracePacket,
    TrackDescriptor,
    TrackEvent,
)
from perfetto.trace_builder.proto_builder import StreamingTraceProtoBuilder

from hetsim.errors import InputError
from hetsim.output import open_atomic
from hetsim.replay import iter_events

NS = 1_000_000_000
SEQUENCE_ID = 1
SCHEDULER_UUID = 10
ACTIVE_UUID = 11
WAITING_UUID = 12
TYPE_UUID = 1_000
UTIL_UUID = 2_000
SERVER_UUID = 1_000_000
GPU_UUID = 10_000_000
MAX_LANES = 64
INSTANT_EVENTS = (
    "solver_fallback",
    "job_unrunnable",
    "saturation_detected",
    "run_stalled",
    "wall_clock_timeout",
)


def ns(sim_time: float) -> int:
    """Simulated seconds as integer nanoseconds."""
    return round(sim_time * NS)


@dataclass
class _Stint:
    gpus: tuple[int, ...]
    lanes: tuple[int, ...]


@dataclass
class Layout:
    """The cluster as tracks: types, servers, GPUs (hetsim's numbering)."""

    gpu_types: tuple[str, ...]
    counts: tuple[int, ...]
    per_server: tuple[int, ...]
    type_of: list[int] = field(default_factory=list)
    server_of: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = 0
        for k, (count, size) in enumerate(zip(self.counts, self.per_server, strict=True)):
            for i in range(count):
                self.type_of.append(k)
                self.server_of.append(server + i // max(size, 1))
            server += -(-count // max(size, 1))

    @property
    def num_servers(self) -> int:
        return (self.server_of[-1] + 1) if self.server_of else 0


def gpu_uuid(gpu: int, lane: int) -> int:
    return GPU_UUID + gpu * MAX_LANES + lane


class PerfettoWriter:
    """Turns events, in order, into TracePackets on a stream."""

    def __init__(self, stream: BinaryIO, layout: Layout) -> None:
        self.builder = StreamingTraceProtoBuilder(stream)
        self.layout = layout
        self.packets = 0
        self.slices = 0
        self.tracks = 0
        self.models: dict[int, tuple[str, int, float]] = {}
        self.stints: dict[int, _Stint] = {}
        self.lanes_made: set[tuple[int, int]] = set()
        self.lane_busy: set[tuple[int, int]] = set()
        self.flows: set[int] = set()
        self.pending_begins: list[tuple[dict[str, Any], float]] = []
        self.pending_time: float | None = None
        self.round_time: float | None = None
        self._first = True
        self._tracks()

    # -- packets -----------------------------------------------------------------------

    def _packet(self) -> TracePacket:
        p = TracePacket()
        p.trusted_packet_sequence_id = SEQUENCE_ID
        if self._first:
            p.sequence_flags = TracePacket.SEQ_INCREMENTAL_STATE_CLEARED
            self._first = False
        return p

    def _write(self, p: TracePacket) -> None:
        self.builder.write_packet(p)
        self.packets += 1

    def _track(
        self,
        uuid: int,
        name: str,
        parent: int | None = None,
        counter: bool = False,
        unit: str = "",
    ) -> None:
        p = self._packet()
        d = p.track_descriptor
        d.uuid = uuid
        d.name = name
        if parent is not None:
            d.parent_uuid = parent
        d.child_ordering = TrackDescriptor.EXPLICIT
        d.sibling_order_rank = uuid % 1_000_000
        if counter:
            d.counter.SetInParent()
            if unit:
                d.counter.unit_name = unit
            else:
                d.counter.unit = CounterDescriptor.UNIT_COUNT
        self._write(p)
        self.tracks += 1

    def _tracks(self) -> None:
        lay = self.layout
        self._track(SCHEDULER_UUID, "scheduler")
        self._track(ACTIVE_UUID, "active jobs", counter=True)
        self._track(WAITING_UUID, "waiting jobs", counter=True)
        for k, name in enumerate(lay.gpu_types):
            if lay.counts[k]:
                self._track(TYPE_UUID + k, name.upper())
                self._track(UTIL_UUID + k, f"{name} utilisation", TYPE_UUID + k, True, "fraction")
        seen: set[int] = set()
        for gpu, server in enumerate(lay.server_of):
            k = lay.type_of[gpu]
            if server not in seen:
                seen.add(server)
                self._track(
                    SERVER_UUID + server, f"{lay.gpu_types[k]} server {server}", TYPE_UUID + k
                )
            self._lane_track(gpu, 0)

    def _lane_track(self, gpu: int, lane: int) -> None:
        if (gpu, lane) in self.lanes_made:
            return
        self.lanes_made.add((gpu, lane))
        name = f"GPU {gpu}" if lane == 0 else f"GPU {gpu} (lane {lane + 1})"
        self._track(gpu_uuid(gpu, lane), name, SERVER_UUID + self.layout.server_of[gpu])

    def _event(self, t: float, kind: int, track: int, name: str = "") -> TracePacket:
        p = self._packet()
        p.timestamp = ns(t)
        e = p.track_event
        e.type = kind
        e.track_uuid = track
        if name:
            e.name = name
        return p

    def _counter(self, t: float, track: int, value: float) -> None:
        p = self._event(t, TrackEvent.TYPE_COUNTER, track)
        p.track_event.double_counter_value = float(value)
        self._write(p)

    def _instant(self, t: float, name: str, args: dict[str, Any]) -> None:
        p = self._event(t, TrackEvent.TYPE_INSTANT, SCHEDULER_UUID, name)
        _annotate(p.track_event, args)
        self._write(p)

    # -- stints ------------------------------------------------------------------------

    def _end(self, job_id: int, t: float) -> None:
        stint = self.stints.pop(job_id, None)
        if stint is None:
            return
        for gpu, lane in zip(stint.gpus, stint.lanes, strict=True):
            self._write(self._event(t, TrackEvent.TYPE_SLICE_END, gpu_uuid(gpu, lane)))
            self.lane_busy.discard((gpu, lane))

    def _begin(self, ev: dict[str, Any], t: float) -> None:
        job_id = int(ev["job_id"])
        gpus = tuple(int(g) for g in ev["gpus"])
        lane = 0
        while any((g, lane) in self.lane_busy for g in gpus):
            lane += 1
        if lane >= MAX_LANES:
            raise ValueError(f"more than {MAX_LANES} jobs share GPU(s) {gpus}")
        model, scale, total = self.models.get(job_id, ("?", len(gpus), 0.0))
        for i, gpu in enumerate(gpus):
            self._lane_track(gpu, lane)
            self.lane_busy.add((gpu, lane))
            p = self._event(t, TrackEvent.TYPE_SLICE_BEGIN, gpu_uuid(gpu, lane), f"job {job_id}")
            e = p.track_event
            e.categories.append("job")
            _annotate(
                e,
                {
                    "model": model,
                    "gpus": scale,
                    "total_steps": total,
                    "steps_per_round": float(ev.get("steps") or 0.0),
                    "partner": ev.get("partner"),
                },
            )
            if i == 0:
                flow = job_id + 1
                e.flow_ids.append(flow)
                self.flows.add(flow)
            self._write(p)
            self.slices += 1
        self.stints[job_id] = _Stint(gpus, (lane,) * len(gpus))

    def _flush(self) -> None:
        for ev, t in self.pending_begins:
            self._begin(ev, t)
        self.pending_begins.clear()
        if self.round_time is not None and self.round_time == self.pending_time:
            self._utilisation(self.round_time)
            self.round_time = None

    def _utilisation(self, t: float) -> None:
        """Busy GPUs over GPUs, per type, once the round's placements are made."""
        lay = self.layout
        busy = [0] * len(lay.gpu_types)
        for gpu in {g for g, _ in self.lane_busy}:
            busy[lay.type_of[gpu]] += 1
        for k, count in enumerate(lay.counts):
            if count:
                self._counter(t, UTIL_UUID + k, busy[k] / count)

    # -- the event stream --------------------------------------------------------------

    def feed(self, ev: dict[str, Any]) -> None:
        """One event of ``events.jsonl``, in file order."""
        name = ev["event"]
        t = float(ev["sim_time"])
        if self.pending_time is not None and t != self.pending_time:
            self._flush()
        self.pending_time = t
        if name == "job_placed":
            self._end(int(ev["job_id"]), t)
            self.pending_begins.append((ev, t))
        elif name in ("job_preempted", "job_completed"):
            self._end(int(ev["job_id"]), t)
        elif name == "job_arrived":
            self.models[int(ev["job_id"])] = (
                str(ev["model"]),
                int(ev["scale_factor"]),
                float(ev.get("total_steps") or 0.0),
            )
        elif name == "round_started":
            self.round_time = t
            self._counter(t, ACTIVE_UUID, ev["active_jobs"])
            self._counter(t, WAITING_UUID, ev["active_jobs"] - ev["running_jobs"])
        elif name == "allocation_solved":
            self._instant(
                t,
                "allocation_solved",
                {
                    "jobs": ev.get("jobs"),
                    "solvers": ",".join(str(s) for s in ev.get("solvers") or []),
                    "failed": ev.get("failed"),
                    "attempts": len(ev.get("attempts") or []),
                },
            )
        elif name in INSTANT_EVENTS:
            args = {k: v for k, v in ev.items() if k not in ("event", "sim_time", "level")}
            self._instant(t, name, args)

    def close(self, end: float) -> None:
        self._flush()
        for job_id in sorted(self.stints):
            self._end(job_id, end)


def _annotate(event: TrackEvent, args: dict[str, Any]) -> None:
    for key, value in args.items():
        if value is None:
            continue
        a = event.debug_annotations.add()
        a.name = key
        if isinstance(value, bool):
            a.bool_value = value
        elif isinstance(value, int):
            a.int_value = value
        elif isinstance(value, float):
            a.double_value = value
        else:
            a.string_value = value if isinstance(value, str) else json.dumps(value)


def _layout(run_dir: Path, first: dict[str, Any]) -> Layout:
    types = tuple(str(t) for t in first["gpu_types"])
    counts = tuple(int(c) for c in first["gpu_counts"])
    per_server = (1,) * len(types)
    result = run_dir / "result.json"
    if result.is_file():
        try:
            cluster = json.loads(result.read_text(encoding="utf-8"))["config"]["cluster"]
            per_server = tuple(int(v) for v in cluster["gpus_per_server"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise InputError(
                "unreadable cluster", source=str(result), field="config.cluster"
            ) from None
    return Layout(types, counts, per_server)


@dataclass(frozen=True)
class ExportStats:
    packets: int
    tracks: int
    slices: int
    bytes: int


def export(run_dir: str | os.PathLike[str], out: str | os.PathLike[str]) -> ExportStats:
    """Writes ``out`` from ``run_dir``'s events, streamed to a temporary file that
    replaces ``out`` only when the export succeeded."""
    root = Path(run_dir)
    path = root / "events.jsonl"
    if not path.is_file():
        raise InputError("no events.jsonl (run with --events to write one)", source=str(root))
    with open_atomic(out) as fh:
        writer: PerfettoWriter | None = None
        end = 0.0
        for lineno, ev in iter_events(path):
            if writer is None:
                if ev["event"] != "run_started":
                    raise InputError(
                        "the first event is not run_started", source=str(path), line=lineno
                    )
                writer = PerfettoWriter(fh, _layout(root, ev))
            try:
                writer.feed(ev)
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(
                    f"bad {ev['event']} event ({exc})", source=str(path), line=lineno
                ) from None
            end = float(ev["sim_time"])
        if writer is None:
            raise InputError("empty trace", source=str(path))
        writer.close(end)
        size = fh.tell()
    return ExportStats(writer.packets, writer.tracks, writer.slices, size)
