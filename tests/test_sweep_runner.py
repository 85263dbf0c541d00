"""The sweep runner: records as runs finish, resuming, crashes, dead workers, Dask, SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

import sweep.task
from sweep.executors import Backend, open_backend
from sweep.runner import (
    RUNS_DIR,
    SweepOutcome,
    load_records,
    plan,
    reusable,
    run_sweep,
    submission_order,
)
from sweep.spec import RunKey, SweepSpec, load_sweep

TINY = """\
name = "tiny"
trace = "single-gpu"
policies = ["max_min_fairness_perf", "fifo"]
rates = [0.2, 0.5]
seeds = [0]
cluster = "4:4:4"
window = "10:20"
budget_s = 120
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> SweepSpec:
    path = tmp_path_factory.mktemp("tiny") / "tiny.toml"
    path.write_text(TINY)
    return load_sweep(path)


@contextmanager
def _threads() -> Iterator[Backend]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield Backend(pool, 2, "2 threads")


def _files(out: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(out)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted((out / RUNS_DIR).glob("*/*.json"))
    }


@pytest.fixture(scope="module")
def tiny_done(
    tiny: SweepSpec, tmp_path_factory: pytest.TempPathFactory
) -> tuple[SweepOutcome, Path]:
    """The tiny sweep run once for the module; a test that adds to it works on a copy."""
    out = tmp_path_factory.mktemp("tiny-done") / "out"
    return run_sweep(tiny, out, _threads), out


def _copy(done: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(done, out)
    return out


def test_every_run_is_recorded_and_a_rerun_reuses_them(
    tiny: SweepSpec, tiny_done: tuple[SweepOutcome, Path], tmp_path: Path
) -> None:
    first, done = tiny_done
    out = _copy(done, tmp_path)
    assert first.state.done == 4 and first.state.reused == 0 and first.state.errors == 0
    assert {r["status"] for r in first.records} == {"ok"}
    for record in first.records:
        # with quirks a job too slow for one step a round fails, as in the reference
        result = record["result"]
        assert result["window_jobs_completed"] + result["window_jobs_failed"] == 10
        assert record["config"]["policy"] == record["key"]["policy"]
    before = _files(out)
    assert len(before) == 4
    opened: list[Backend] = []
    second = run_sweep(tiny, out, _threads, on_backend=opened.append)
    assert second.state.reused == 4 and second.state.done == 0
    assert opened == []  # nothing to run: no executor is even started
    assert _files(out) == before


def test_reuse_rules() -> None:
    wanted = {"policy": "fifo", "seed": 0, "timeout_s": 100.0}
    code = "abc"

    def rec(status: str, **config: Any) -> dict[str, Any]:
        return {"status": status, "config": dict(wanted, **config), "simulator": code}

    assert reusable(rec("ok", timeout_s=5.0), wanted, code)  # the budget does not matter
    assert reusable(rec("saturated"), wanted, code)
    assert not reusable(rec("ok", seed=1), wanted, code)
    assert not reusable(rec("error"), wanted, code)
    assert reusable(rec("timeout", timeout_s=200.0), wanted, code)
    assert not reusable(rec("timeout", timeout_s=50.0), wanted, code)
    assert not reusable({"status": "ok", "simulator": code}, wanted, code)
    assert not reusable(rec("ok"), wanted, "other simulator code")


def test_long_runs_are_handed_out_first() -> None:
    """Runs go out longest first: by an earlier record's wall time when every run has
    one, else by rate, highest first; ties keep the spec's order."""
    keys = [RunKey(p, r, 0) for p in ("a", "b") for r in (0.5, 2.0, 1.0)]
    assert submission_order(keys, {}) == [
        RunKey("a", 2.0, 0),
        RunKey("b", 2.0, 0),
        RunKey("a", 1.0, 0),
        RunKey("b", 1.0, 0),
        RunKey("a", 0.5, 0),
        RunKey("b", 0.5, 0),
    ]
    walls = {key: float(i) for i, key in enumerate(keys)}
    assert submission_order(keys, walls) == keys[::-1]
    partly = {keys[0]: 1e6}  # not every run known: the rates decide
    assert submission_order(keys, partly) == submission_order(keys, {})
    assert submission_order([], {}) == []


def test_a_rerun_after_a_change_goes_by_the_earlier_wall_times(
    tiny: SweepSpec, tiny_done: tuple[SweepOutcome, Path], tmp_path: Path
) -> None:
    """Records a changed simulator cannot reuse still tell how long each run took: the
    rerun hands the longest out first; records and tables stay in the spec's order."""
    out = _copy(tiny_done[1], tmp_path)
    walls = {}
    for i, path in enumerate(sorted((out / RUNS_DIR).glob("*/*.json"))):
        record = json.loads(path.read_text())
        record["simulator"] = "older code"
        record["worker"]["wall_s"] = [30.0, 10.0, 40.0, 20.0][i]
        walls[RunKey(**record["key"])] = record["worker"]["wall_s"]
        path.write_text(json.dumps(record))
    todo, reused = plan(tiny, out)
    assert reused == 0
    assert todo == sorted(walls, key=lambda key: -walls[key])
    again = run_sweep(tiny, out, _threads)
    assert [RunKey(**r["key"]) for r in again.records] == tiny.runs()


def test_records_carry_the_simulator_fingerprint(tiny_done: tuple[SweepOutcome, Path]) -> None:
    outcome, _ = tiny_done
    assert {r["simulator"] for r in outcome.records} == {sweep.task.simulator_fingerprint()}


def test_a_changed_setting_reruns_only_what_it_changes(
    tiny: SweepSpec, tiny_done: tuple[SweepOutcome, Path], tmp_path: Path
) -> None:
    out = _copy(tiny_done[1], tmp_path)
    more_seeds = SweepSpec(**{**tiny.__dict__, "seeds": (0, 1)})
    again = run_sweep(more_seeds, out, _threads)
    assert again.state.reused == 4 and again.state.done == 4
    other = SweepSpec(**{**tiny.__dict__, "quirks": "none"})
    assert run_sweep(other, out, _threads).state.done == 4


def test_a_crashing_run_is_recorded_and_the_sweep_goes_on(
    tiny: SweepSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sweep.task.Simulation

    def exploding(config: Any, **kw: Any) -> Any:
        if config.policy == "fifo" and config.workload.rate_per_hour == 0.5:
            raise ZeroDivisionError("boom")
        return real(config, **kw)

    monkeypatch.setattr(sweep.task, "Simulation", exploding)
    out = tmp_path / "out"
    outcome = run_sweep(tiny, out, _threads)
    by_status = {r["status"] for r in outcome.records}
    assert by_status == {"ok", "error"} and outcome.state.errors == 1
    failed = next(r for r in outcome.records if r["status"] == "error")
    assert failed["key"] == {"policy": "fifo", "rate": 0.5, "seed": 0}
    assert failed["error"] == "ZeroDivisionError: boom"
    assert "exploding" in failed["traceback"]
    monkeypatch.setattr(sweep.task, "Simulation", real)
    retry = run_sweep(tiny, out, _threads)
    assert retry.state.reused == 3 and retry.state.done == 1 and retry.state.errors == 0


class _DeadPool(Executor):
    """An executor whose worker processes have died: every future fails that way."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_exception(BrokenProcessPool("a worker was killed"))
        return future


def test_a_dead_worker_costs_one_run_and_a_fresh_pool_takes_the_rest(
    tiny: SweepSpec, tmp_path: Path
) -> None:
    opened: list[str] = []

    def backends() -> AbstractContextManager[Backend]:
        if not opened:
            opened.append("dead")

            @contextmanager
            def dead() -> Iterator[Backend]:
                yield Backend(_DeadPool(), 2, "dead")

            return dead()
        opened.append("threads")
        return _threads()

    outcome = run_sweep(tiny, tmp_path / "out", backends)
    assert opened == ["dead", "threads"]
    statuses = sorted(r["status"] for r in outcome.records)
    assert statuses == ["error", "ok", "ok", "ok"]
    assert "worker process died" in next(
        r["error"] for r in outcome.records if r["status"] == "error"
    )


@pytest.mark.slow  # a whole-system run (CI runs the slow tests too)
def test_local_process_pool_and_dask_local_cluster_give_the_same_results(
    tiny: SweepSpec, tmp_path: Path
) -> None:
    """The same code path on a process pool and on a Dask LocalCluster."""
    pool = run_sweep(tiny, tmp_path / "pool", lambda: open_backend(2, None))
    seen: list[str] = []
    dask = run_sweep(
        tiny,
        tmp_path / "dask",
        lambda: open_backend(1, "local"),
        on_backend=lambda b: seen.append(b.description),
    )
    assert seen and "Dask" in seen[0]
    assert dask.state.done == 4 and dask.state.errors == 0

    def results(records: list[dict[str, Any]]) -> dict[str, Any]:
        return {json.dumps(r["key"], sort_keys=True): r["result"]["avg_jct_s"] for r in records}

    assert results(pool.records) == results(dask.records)


@pytest.mark.slow  # a whole-system run (CI runs the slow tests too)
def test_sigkill_midway_then_restart_loses_no_finished_run(tmp_path: Path) -> None:
    """Kill the whole sweep (runner and workers) with SIGKILL while runs are going; every
    file left is whole, and the same command finishes the sweep without redoing any."""
    scenario = tmp_path / "k.toml"
    scenario.write_text(
        TINY.replace("rates = [0.2, 0.5]", "rates = [0.2, 0.3, 0.4, 0.5]")
    )  # 8 runs of about a second each: the kill lands after 2 and well before 8
    out = tmp_path / "out"
    command = [sys.executable, "-m", "hetsim.cli", "sweep", str(scenario), "--out", str(out)]
    command += ["--jobs", "1"]
    proc = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    try:
        while len(list((out / RUNS_DIR).glob("*/*.json"))) < 2:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    survivors = _files(out)
    assert 2 <= len(survivors) < 8
    for name, (data, _) in survivors.items():
        record = json.loads(data)  # whole JSON, or the test fails here
        assert record["status"] == "ok", name
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = _files(out)
    assert len(after) == 8
    for name, stamp in survivors.items():
        assert after[name] == stamp  # not rewritten: reused, not redone
    assert f"{len(survivors)} reused" in done.stdout
    assert not list((out / RUNS_DIR).glob("*/.*.tmp"))
    assert len(load_records(out)) == 8
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 9
