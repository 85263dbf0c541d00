"""hetsim export perfetto: the trace read back with the same protobuf definitions."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import Trace, TrackEvent

from hetsim.cli import main
from hetsim.export_perfetto import ns
from tests.cli_helpers import run_cli


def _run(root: Path, name: str, *extra: str) -> Path:
    out = root / name
    argv = ["run", "--cluster", "2:2:2", "--rate", "0.4", "--seed", "3", "--max-jobs", "25"]
    main([*argv, *extra, "--events", "--quiet", "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("perfetto")
    return {
        "las": _run(root, "las", "--policy", "max_min_fairness", "--multi-gpu"),
        "packed": _run(root, "packed", "--policy", "max_min_fairness_packed"),
        "servers": _run(
            root, "servers", "--policy", "fifo", "--multi-gpu", "--gpus-per-server", "2"
        ),
    }


def _export(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Trace:
    out = tmp_path / "run.pftrace"
    code, text, err = run_cli(["export", "perfetto", str(run), "-o", str(out)], capsys)
    assert code == 0, err
    assert text.startswith(f"wrote {out}")
    return Trace.FromString(out.read_bytes())


def _events(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]


def _check_slices(trace: Trace, events: list[dict[str, Any]]) -> dict[int, str]:
    """Every placement is a slice on each of its GPUs; slices on a track never overlap."""
    names = {
        p.track_descriptor.uuid: p.track_descriptor.name
        for p in trace.packet
        if p.HasField("track_descriptor")
    }
    begins = Counter()
    open_on: dict[int, int] = {}
    for p in trace.packet:
        if not p.HasField("track_event"):
            continue
        e = p.track_event
        if e.type == TrackEvent.TYPE_SLICE_BEGIN:
            assert e.track_uuid not in open_on, f"overlap on {names[e.track_uuid]}"
            open_on[e.track_uuid] = p.timestamp
            gpu = int(names[e.track_uuid].split()[1])
            begins[(p.timestamp, e.name, gpu)] += 1
        elif e.type == TrackEvent.TYPE_SLICE_END:
            assert p.timestamp >= open_on.pop(e.track_uuid)
    assert not open_on
    placed = Counter()
    for ev in events:
        if ev["event"] == "job_placed":
            for g in ev["gpus"]:
                placed[(ns(ev["sim_time"]), f"job {ev['job_id']}", g)] += 1
    assert placed == begins
    return names


def test_tracks_slices_counters_instants_flows(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Multi-GPU LAS: a track per type, server and GPU; one slice per GPU of every
    placement at its time in ns; counters per round; solves as instants; flows."""
    events = _events(runs["las"])
    trace = _export(runs["las"], tmp_path, capsys)
    names = _check_slices(trace, events)
    descriptors = [p.track_descriptor for p in trace.packet if p.HasField("track_descriptor")]
    # scheduler, active, waiting; per type a type track and its utilisation; 6 servers; 6 GPUs
    assert len(descriptors) == 3 + 2 * 3 + 6 + 6
    by_uuid = {d.uuid: d for d in descriptors}
    gpu0 = next(d for d in descriptors if d.name == "GPU 0")
    server = by_uuid[gpu0.parent_uuid]
    assert server.name == "v100 server 0" and by_uuid[server.parent_uuid].name == "V100"
    assert sum(1 for d in descriptors if d.HasField("counter")) == 5
    rounds = sum(1 for e in events if e["event"] == "round_started")
    counters = Counter(
        names[p.track_event.track_uuid]
        for p in trace.packet
        if p.HasField("track_event") and p.track_event.type == TrackEvent.TYPE_COUNTER
    )
    assert counters["active jobs"] == counters["waiting jobs"] == rounds
    assert counters["k80 utilisation"] == rounds
    solves = sum(1 for e in events if e["event"] == "allocation_solved")
    instants = [
        p.track_event
        for p in trace.packet
        if p.HasField("track_event") and p.track_event.type == TrackEvent.TYPE_INSTANT
    ]
    assert sum(1 for e in instants if e.name == "allocation_solved") == solves
    first = next(e for e in instants if e.name == "allocation_solved")
    assert {a.name for a in first.debug_annotations} >= {"jobs", "solvers"}
    # one flow point per stint, on its first GPU
    flows: dict[int, int] = defaultdict(int)
    for p in trace.packet:
        for f in p.track_event.flow_ids:
            flows[f] += 1
    stints = Counter(e["job_id"] for e in events if e["event"] == "job_placed")
    assert flows == {j + 1: n for j, n in stints.items()}
    ts = [p.timestamp for p in trace.packet if p.HasField("track_event")]
    assert max(ts) == ns(events[-1]["sim_time"])


def test_space_sharing_goes_on_separate_lanes(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Jobs sharing GPUs get a second lane of the GPU, so slices still never overlap."""
    events = _events(runs["packed"])
    assert any(e["event"] == "job_placed" and e["partner"] is not None for e in events)
    names = _check_slices(_export(runs["packed"], tmp_path, capsys), events)
    assert any("(lane 2)" in n for n in names.values())


def test_servers_hold_their_gpus(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With 2 GPUs per server, each server track holds two GPU tracks."""
    trace = _export(runs["servers"], tmp_path, capsys)
    _check_slices(trace, _events(runs["servers"]))
    descriptors = [p.track_descriptor for p in trace.packet if p.HasField("track_descriptor")]
    by_uuid = {d.uuid: d for d in descriptors}
    children = Counter(by_uuid[d.parent_uuid].name for d in descriptors if d.name.startswith("GPU"))
    assert children == {f"{t} server {s}": 2 for t, s in (("v100", 0), ("p100", 1), ("k80", 2))}


def test_a_bad_event_line_is_one_line_and_exit_2(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed line of events.jsonl is named; no output file is left."""
    broken = tmp_path / "broken"
    broken.mkdir()
    lines = (runs["las"] / "events.jsonl").read_text().splitlines()
    lines[5] = "{not json"
    (broken / "events.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "x.pftrace"
    code, _, err = run_cli(["export", "perfetto", str(broken), "-o", str(out)], capsys)
    assert code == 2 and "events.jsonl:6" in err and err.count("\n") == 1
    assert not out.exists() and not list(tmp_path.glob(".x.pftrace.*"))
