"""hetsim run --stop-at HOURS: the run ends there and DIR/state.json holds the state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hetsim.cli import main
from tests.cli_helpers import run_cli

BASE = ["run", "--cluster", "2:2:2", "--rate", "0.4", "--seed", "3", "--multi-gpu"]
STOP_H = 30.0


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stop")
    out = {}
    for name, extra in (
        ("stopped", ["--stop-at", str(STOP_H)]),
        ("full", ["--max-jobs", "40"]),
        ("packed", ["--stop-at", str(STOP_H)]),
    ):
        policy = "max_min_fairness_packed" if name == "packed" else "max_min_fairness"
        argv = [a for a in BASE if not (name == "packed" and a == "--multi-gpu")]
        main([*argv, "--policy", policy, *extra, "--events", "--quiet", "--out", str(root / name)])
        out[name] = root / name
    return out


def _state(run: Path) -> dict:
    return json.loads((run / "state.json").read_text())


def test_the_run_ends_at_the_time_asked(runs: dict[str, Path]) -> None:
    """end_reason stopped_at at exactly STOP_H hours; the state is at that instant."""
    result = json.loads((runs["stopped"] / "result.json").read_text())
    assert result["end_reason"] == "stopped_at"
    assert result["sim_time_s"] == STOP_H * 3600 == _state(runs["stopped"])["sim_time_s"]
    assert result["config"]["stop_at_s"] == STOP_H * 3600


def test_the_events_are_a_prefix_of_the_full_run(runs: dict[str, Path]) -> None:
    """Stopping changes nothing before the stop: the same events as the full run's start."""
    stopped = (runs["stopped"] / "events.jsonl").read_text().splitlines()
    full = (runs["full"] / "events.jsonl").read_text().splitlines()
    assert json.loads(stopped[-1])["reason"] == "stopped_at"
    body = stopped[:-1]
    assert len(body) > 100 and full[: len(body)] == body


def test_state_is_consistent(runs: dict[str, Path]) -> None:
    """Steps add up, service fits in the time since arrival, no GPU is held twice, and
    the active jobs are those the events say have arrived and not finished."""
    for name in ("stopped", "packed"):
        state = _state(runs[name])
        t = state["sim_time_s"]
        events = [json.loads(x) for x in (runs[name] / "events.jsonl").read_text().splitlines()]
        arrived = {e["job_id"] for e in events if e["event"] == "job_arrived"}
        done = {e["job_id"] for e in events if e["event"] == "job_completed"}
        unrunnable = {e["job_id"] for e in events if e["event"] == "job_unrunnable"}
        jobs = state["jobs"]
        pending = {j["job_id"] for j in state["pending_jobs"]}
        assert {j["job_id"] for j in jobs} | pending == arrived - done - unrunnable
        assert all(j["arrival_s"] > t - 360.0 for j in state["pending_jobs"])
        assert state["active_jobs"] == len(jobs) > 0
        held: list[int] = []
        for j in jobs:
            assert j["done_steps"] + j["in_flight_steps"] + j["remaining_steps"] == pytest.approx(
                j["total_steps"]
            )
            assert sum(j["received_s"].values()) <= t - j["arrival_s"] + 1e-6
            assert set(j["allocation"]) == set(j["priority"]) == set(state["gpu_types"])
            if j["gpus"] is not None and (j["partner"] is None or j["job_id"] < j["partner"]):
                held.extend(j["gpus"])
                assert len(j["gpus"]) == j["scale_factor"]
        assert len(held) == len(set(held)) <= 6
        assert any(j["running_on"] for j in jobs)


def test_space_sharing_partners_hold_the_same_gpus(runs: dict[str, Path]) -> None:
    """A job running with a partner holds the partner's GPUs."""
    jobs = {j["job_id"]: j for j in _state(runs["packed"])["jobs"]}
    pairs = [j for j in jobs.values() if j["partner"] is not None]
    for j in pairs:
        assert (
            jobs[j["partner"]]["gpus"] == j["gpus"] and jobs[j["partner"]]["partner"] == j["job_id"]
        )


def test_a_stopped_run_verifies(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """replay --verify re-runs the stopped run from its stored config, identically."""
    code, out, _ = run_cli(["replay", str(runs["stopped"]), "--verify"], capsys)
    assert code == 0 and out.startswith("identical")


@pytest.mark.parametrize("value", ["0", "-2", "nan"])
def test_a_bad_stop_time_is_one_line_and_exit_2(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--stop-at must be a positive number of hours."""
    argv = [*BASE, "--policy", "fifo", "--stop-at", value, "--out", str(tmp_path / "x")]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "--stop-at" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()
