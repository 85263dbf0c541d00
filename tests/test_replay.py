"""Replaying an event trace: timelines, cluster state at a time, the cross-check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hetsim import replay
from hetsim.cli import main
from hetsim.errors import InputError


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replay") / "r"
    argv = ["run", "--policy", "max_min_fairness", "--cluster", "2:2:2", "--rate", "0.3"]
    argv += ["--seed", "2", "--window", "5:25", "--events", "--quiet", "--out", str(out)]
    main(argv)
    return out


def test_replayed_jcts_match_the_result(run_dir: Path) -> None:
    """The window average rebuilt from the trace equals result.json's."""
    rep = replay.load(run_dir)
    result = json.loads((run_dir / "result.json").read_text())
    avg, count = rep.window_average(5, 25)
    assert count == result["window_jobs_completed"] == 20
    assert avg == pytest.approx(result["avg_jct_s"], rel=1e-12)
    assert rep.end_reason == "window_complete"


def test_no_gpu_is_held_by_two_jobs_at_any_time(run_dir: Path) -> None:
    """At every round start, the reconstructed placements never share a GPU."""
    rep = replay.load(run_dir)
    rounds = [e["sim_time"] for e in rep.events if e["event"] == "round_started"]
    for t in rounds[::7]:
        held = [g for stint in rep.holding_at(t).values() for g in stint.gpus]
        assert len(held) == len(set(held))
        assert len(held) <= 6


def test_holding_matches_the_round_telemetry(run_dir: Path) -> None:
    """Just after a round starts, the jobs holding GPUs are the round's running jobs."""
    rep = replay.load(run_dir)
    for e in [e for e in rep.events if e["event"] == "round_started"][::11]:
        assert len(rep.holding_at(e["sim_time"])) == e["running_jobs"]


def test_job_timeline_reads_like_a_story(run_dir: Path) -> None:
    """A finished job's timeline has its arrival, placements and completion."""
    rep = replay.load(run_dir)
    story = rep.jobs[10]
    lines = replay.job_lines(story)
    assert lines[0].startswith("job 10:")
    assert any("arrived" in line for line in lines)
    assert any("completed" in line for line in lines)
    assert story.jct is not None and story.jct >= sum(story.held_seconds().values()) - 1e-6


def test_replay_command_reports_consistency(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hetsim replay DIR` says the trace and the result agree."""
    main(["replay", str(run_dir)])
    assert "consistent" in capsys.readouterr().out


def test_malformed_trace_names_file_and_line(tmp_path: Path) -> None:
    """A broken line or a missing field is reported with file, line and field."""
    f = tmp_path / "events.jsonl"
    f.write_text(
        '{"event": "run_started", "sim_time": 0}\n{"event": "job_placed", "sim_time": 1}\n'
    )
    with pytest.raises(InputError, match=r"events.jsonl:2: field 'job_id'"):
        replay.load(f)
    f.write_text('{"event": "run_started", "sim_time": 0}\nnot json\n')
    with pytest.raises(InputError, match=r"events.jsonl:2: not JSON"):
        replay.load(f)
    with pytest.raises(InputError, match="run with --events"):
        replay.load(tmp_path / "missing")
