"""The Python API: hetsim.run, hetsim.load, hetsim.sweep and the Result tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import hetsim
from cluster import parse_cluster
from des.config import SimConfig, WindowConfig, WorkloadConfig
from hetsim.cli import main
from hetsim.errors import InputError

OPTIONS = {"policy": "max_min_fairness", "cluster": (2, 2, 2), "rate": 0.3, "seed": 2}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> hetsim.Result:
    out = tmp_path_factory.mktemp("api") / "run"
    return hetsim.run(**OPTIONS, window=(5, 25), out=out)


def test_run_returns_the_summary_and_writes_what_the_cli_writes(
    result: hetsim.Result, tmp_path: Path
) -> None:
    """hetsim.run(..., out=DIR) writes the same events.jsonl as `hetsim run` byte for byte."""
    assert result.end_reason == "window_complete" and result.window_jobs_completed == 20
    assert result.avg_jct_h == pytest.approx(result.avg_jct_s / 3600)
    assert result.config.policy == "max_min_fairness"
    cli_out = tmp_path / "cli"
    argv = ["run", "--policy", "max_min_fairness", "--cluster", "2:2:2", "--rate", "0.3"]
    main([*argv, "--seed", "2", "--window", "5:25", "--events", "--quiet", "--out", str(cli_out)])
    assert result.path is not None
    assert (result.path / "events.jsonl").read_bytes() == (cli_out / "events.jsonl").read_bytes()
    assert "avg JCT" in repr(result)
    with pytest.raises(AttributeError, match="no field 'nope'"):
        _ = result.nope


def test_jobs_table(result: hetsim.Result) -> None:
    """One row per job: times, JCT, GPU count, model and GPU-seconds per type."""
    jobs = result.jobs
    assert isinstance(jobs, pd.DataFrame)
    assert {"job_id", "model", "scale_factor", "arrival_s", "start_s", "finish_s", "jct_s"} <= set(
        jobs.columns
    )
    assert {"gpu_s_v100", "gpu_s_p100", "gpu_s_k80"} <= set(jobs.columns)
    window = jobs[(jobs.job_id >= 5) & (jobs.job_id < 25)]
    assert window.jct_s.mean() == pytest.approx(result.avg_jct_s, rel=1e-12)
    done = jobs.dropna(subset=["finish_s"])
    assert (done.start_s >= done.arrival_s).all() and (done.finish_s > done.start_s).all()
    assert (done.jct_s == done.finish_s - done.arrival_s).all()
    # held GPU-seconds: at least the busy GPU-seconds, at most GPU count x time in system
    held = done[["gpu_s_v100", "gpu_s_p100", "gpu_s_k80"]].sum(axis=1)
    assert (held <= done.scale_factor * done.jct_s + 1e-6).all() and (held > 0).all()
    total_busy = result.utilization["overall"] * 6 * result.sim_time_s
    assert jobs[["gpu_s_v100", "gpu_s_p100", "gpu_s_k80"]].to_numpy().sum() >= total_busy - 1e-6


def test_telemetry_from_events_and_from_parquet(result: hetsim.Result, tmp_path: Path) -> None:
    """Without telemetry.parquet, one row per round from the events; with it, the file."""
    tel = result.telemetry
    assert len(tel) == result.rounds
    assert (tel.waiting_jobs == tel.active_jobs - tel.running_jobs).all()
    assert tel["round"].tolist() == list(range(1, result.rounds + 1))
    assert (tel.busy_gpus <= 6).all()
    assert result.path is not None
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("result.json", "events.jsonl"):
        (copy / name).write_bytes((result.path / name).read_bytes())
    pd.DataFrame({"round": [1, 2], "sim_time": [0.0, 360.0]}).to_parquet(copy / "telemetry.parquet")
    assert hetsim.load(copy).telemetry["sim_time"].tolist() == [0.0, 360.0]


def test_load_and_run_from_a_config(result: hetsim.Result) -> None:
    """load(DIR) gives the same summary; run(SimConfig) the same numbers; no out = no dir."""
    assert result.path is not None
    assert hetsim.load(result.path).summary == result.summary
    config = SimConfig(
        policy="max_min_fairness",
        cluster=parse_cluster("2:2:2", gpus_per_server=1),
        workload=WorkloadConfig(rate_per_hour=0.3),
        window=WindowConfig(5, 25),
        seed=2,
    )
    again = hetsim.run(config, events=False)
    assert again.path is None and again.avg_jct_s == result.avg_jct_s
    # without events, jobs are the run's jobs.parquet: finished jobs, no placements
    plain = again.jobs
    full = result.jobs
    assert list(plain.columns) == [
        "job_id",
        "arrival_s",
        "finish_s",
        "jct_s",
        "scale_factor",
        "status",
        "in_window",
    ]
    window = plain[plain.in_window]
    assert float(window.jct_s.mean()) == result.avg_jct_s
    finished = full.dropna(subset=["finish_s"]).set_index("job_id")
    assert sorted(plain.job_id) == sorted(finished.index)
    assert (plain.set_index("job_id").jct_s == finished.jct_s.loc[plain.job_id]).all()
    with pytest.raises(InputError, match="no event trace"):
        _ = again.telemetry


def test_bad_options_are_input_errors() -> None:
    """Unknown options and bad values fail as the command line does."""
    with pytest.raises(InputError, match="unknown option 'speed'"):
        hetsim.run(**OPTIONS, speed=3)
    with pytest.raises(InputError, match=r"--rate: field .rate.: must be a number in"):
        hetsim.run(policy="fifo", rate=-1.0)
    with pytest.raises(InputError, match=r"result\.json"):
        hetsim.load("/nonexistent/run")


def test_sweep_returns_the_results_table(tmp_path: Path) -> None:
    """hetsim.sweep(FILE.toml) runs every point and returns results.csv as a DataFrame."""
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(
        'name = "tiny"\ntitle = "Tiny"\ntrace = "single-gpu"\npolicies = ["fifo"]\n'
        'rates = [0.2, 0.5]\nseeds = [0]\ncluster = "4:4:4"\nwindow = "10:20"\n'
    )
    table = hetsim.sweep(scenario, out=tmp_path / "out", jobs=1)
    assert list(table.rate) == [0.2, 0.5] and set(table.status) == {"ok"}
    assert (tmp_path / "out" / "results.csv").is_file()
    assert table.avg_jct_h.notna().all()


def test_stop_at_gives_the_state(tmp_path: Path) -> None:
    """run(stop_at=HOURS) ends there; the Result carries the state, also after load."""
    r = hetsim.run(policy="fifo", cluster="2:2:2", rate=0.4, seed=3, stop_at=20.0, events=False)
    assert r.end_reason == "stopped_at" and r.state is not None
    assert r.state["sim_time_h"] == 20.0 and r.state["active_jobs"] == len(r.state["jobs"])
    kept = hetsim.run(
        policy="fifo", cluster="2:2:2", rate=0.4, seed=3, stop_at=20.0, out=tmp_path / "s"
    )
    assert hetsim.load(tmp_path / "s").state == kept.state == r.state
