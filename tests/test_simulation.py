"""Whole runs: small but real simulations end to end, through the Python API."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from cluster import Topology, load_cluster_toml, parse_cluster
from des.config import SaturationConfig, SimConfig, WindowConfig, WorkloadConfig
from des.result import build_result, strip_wall_clock
from des.simulation import Simulation
from workloads import (
    GeneratorConfig,
    Job,
    ThroughputTable,
    generate_n,
    load_throughputs,
    write_trace,
)


def _config(policy: str = "max_min_fairness_perf", **kw: object) -> SimConfig:
    base: dict[str, object] = {
        "policy": policy,
        "cluster": parse_cluster("4:4:4"),
        "workload": WorkloadConfig(rate_per_hour=0.3),
        "window": WindowConfig(20, 60),
        "seed": 1,
    }
    base.update(kw)
    return SimConfig(**base)  # type: ignore[arg-type]


def _run(config: SimConfig, **kw: object) -> dict[str, object]:
    return build_result(Simulation(config, **kw).run())  # type: ignore[arg-type]


def _run_logged(config: SimConfig) -> tuple[dict[str, object], list[dict[str, object]]]:
    with capture_logs() as logs:
        result = _run(config)
    return result, logs  # type: ignore[return-value]


@functools.cache
def _small(policy: str, seed: int = 1) -> tuple[dict[str, object], list[dict[str, object]]]:
    """The small run of ``_config(policy, seed=seed)`` and its events, run once for the
    module (tests read it, never change it)."""
    return _run_logged(_config(policy, seed=seed))


@pytest.mark.parametrize(
    "policy", ["max_min_fairness", "max_min_fairness_perf", "fifo", "fifo_perf"]
)
def test_small_run_completes_its_window(policy: str) -> None:
    """Every window job finishes; the averages and counters are consistent."""
    r, _ = _small(policy)
    assert r["end_reason"] == "window_complete"
    assert r["window_jobs_completed"] == r["window_jobs_total"] == 40
    assert r["window_jobs_unfinished"] == 0
    assert r["avg_jct_s"] is not None and r["avg_jct_s"] > 0
    assert r["jct_p50_s"] <= r["jct_p90_s"] <= r["jct_p99_s"]  # type: ignore[operator]
    util = r["utilization"]
    assert 0 < util["overall"] <= 1  # type: ignore[index]
    assert all(0 <= u <= 1 for u in util["per_type"].values())  # type: ignore[index]
    assert r["solver"]["failures"] == 0  # type: ignore[index]
    assert r["config"]["policy"] == policy  # type: ignore[index]


def test_jct_is_never_shorter_than_running_alone_on_the_fastest_gpu(
    throughputs: ThroughputTable,
) -> None:
    """No job finishes faster than its steps at its best throughput on any type."""
    cfg = _config(window=WindowConfig(0, 40))
    out = Simulation(cfg).run()
    jobs = {j.job_id: j for j in generate_n(GeneratorConfig(0.3, seed=1), throughputs, 400)}
    for c in out.completions:
        job = jobs[c.job_id]
        best = throughputs.isolated(job.model, job.scale_factor, cfg.cluster.gpu_types).max()
        assert c.jct >= job.total_steps / best - 1e-6


def test_same_config_and_seed_give_identical_results_and_events() -> None:
    """Determinism: results (bar wall-clock fields) and the event stream are identical."""
    runs = []
    for result, logs in (_small("max_min_fairness"), _run_logged(_config("max_min_fairness"))):
        runs.append((strip_wall_clock(result), logs))
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] == runs[1][1]
    assert len(runs[0][1]) > 100


def test_a_run_without_an_event_trace_gives_the_same_result() -> None:
    """With info events going nowhere the round events are not built at all; the
    result is the same as the traced run's, warnings still get out."""
    import structlog

    from hetsim.eventlog import configure_logging

    traced, logs = _small("max_min_fairness")
    assert any(e["event"] == "round_started" for e in logs)
    saved = structlog.get_config()
    try:
        configure_logging(None)  # the CLI without --events: warnings only
        plain = _run(_config("max_min_fairness"))
    finally:
        structlog.configure(**saved)
    assert strip_wall_clock(plain) == strip_wall_clock(traced)


def test_different_seeds_differ() -> None:
    """The seed reaches the workload: another seed, another result."""
    a, _ = _small("max_min_fairness_perf", seed=1)
    b = _run(_config(seed=2))
    assert a["avg_jct_s"] != b["avg_jct_s"]


def test_overloaded_run_ends_itself_as_saturated() -> None:
    """Far more work than the GPUs can do: the monitor ends the run long before its window."""
    cfg = _config(
        "max_min_fairness",
        cluster=parse_cluster("4:0:0"),
        workload=WorkloadConfig(rate_per_hour=1.0),
        window=WindowConfig(0, 3000),
        saturation=SaturationConfig(window_completions=10, growth_windows=10),
    )
    r = _run(cfg)
    assert r["end_reason"] == "saturated" and r["saturated"] is True
    assert r["saturation_reason"] == "queue_growth"
    assert r["window_jobs_completed"] < 300
    assert r["avg_jct_s"] is not None  # finished window jobs still averaged
    assert r["window_jobs_unfinished"] == 3000 - r["window_jobs_completed"]  # type: ignore[operator]


def test_a_single_gpu_buried_in_jobs_is_stalled() -> None:
    """Completions slower than 0.1 jobs/h on a fully busy GPU: the run ends as stalled."""
    cfg = _config(
        "max_min_fairness",
        cluster=parse_cluster("1:0:0"),
        workload=WorkloadConfig(rate_per_hour=1.0),
        window=WindowConfig(0, 3000),
        # the overload rule (which calls this gross overload first) off: the stall rule,
        # over the last 5 completions (at 10 it fires the same way, 4x later)
        saturation=SaturationConfig(
            window_completions=5, growth_windows=10, overload_backlog_fraction=1e9
        ),
    )
    r = _run(cfg)
    assert r["end_reason"] == "saturated" and r["saturation_reason"] == "stalled"
    assert "below 0.1 jobs/h" in r["saturation_message"]  # type: ignore[operator]


def test_saturation_can_be_switched_off() -> None:
    """With the monitor off, the wall-clock timeout is the last resort."""
    cfg = _config(
        "max_min_fairness",
        cluster=parse_cluster("4:0:0"),
        workload=WorkloadConfig(rate_per_hour=0.5),
        window=WindowConfig(0, 3000),
        saturation=SaturationConfig(enabled=False),
        timeout_s=1.0,
    )
    r = _run(cfg)
    assert r["end_reason"] == "timeout" and r["saturated"] is False


def test_a_job_no_gpu_type_can_run_is_reported_and_never_waited_for() -> None:
    """ResNet-50 (batch 128) on 2 GPUs cannot use K80s: on a K80-only cluster it is
    reported at arrival, counted, and the window completes without it."""
    jobs = [
        Job(0, "ResNet-50 (batch size 128)", 2, 1000.0, 0.0),
        Job(1, "ResNet-18 (batch size 16)", 1, 1000.0, 10.0),
    ]
    cfg = _config(
        cluster=parse_cluster("0:0:4"),
        workload=WorkloadConfig(rate_per_hour=1.0, multi_gpu=True),
        window=WindowConfig(0, 2),
    )
    with capture_logs() as logs:
        r = _run(cfg, jobs=jobs)
    assert r["end_reason"] == "window_complete"
    assert r["window_jobs_completed"] == 1 and r["window_jobs_unfinished"] == 1
    assert r["window_jobs_unrunnable"] == 1
    assert r["avg_jct_s"] is not None
    warned = [e for e in logs if e["event"] == "job_unrunnable"]
    assert [e["job_id"] for e in warned] == [0]


def test_an_8_gpu_job_on_4_gpu_types_is_unrunnable_not_a_hang() -> None:
    """Multi-GPU jobs larger than any type's GPU count never block a small cluster."""
    cfg = _config(
        cluster=parse_cluster("4:4:4"),
        workload=WorkloadConfig(rate_per_hour=0.3, multi_gpu=True),
        window=WindowConfig(0, 40),  # jobs 18 and 38 of seed 1 want 8 GPUs
        timeout_s=120.0,
    )
    r = _run(cfg)
    assert r["end_reason"] == "window_complete"
    assert r["window_jobs_unrunnable"] > 0
    assert r["window_jobs_completed"] + r["window_jobs_unrunnable"] == 40  # type: ignore[operator]


def test_a_trace_replays_the_generated_run(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """The same jobs from a written trace give (nearly) the same result as generating them."""
    jobs = generate_n(GeneratorConfig(0.3, seed=1), throughputs, 40)
    path = tmp_path / "t.tsv"
    write_trace(path, jobs)
    generated = _run(_config(workload=WorkloadConfig(rate_per_hour=0.3, max_jobs=40), window=None))
    traced = _run(_config(workload=WorkloadConfig(trace_path=str(path)), window=None))
    assert traced["end_reason"] == generated["end_reason"] == "all_jobs_done"
    assert traced["window_jobs_completed"] == generated["window_jobs_completed"] == 40
    # A trace stores whole steps (the reference's %d), so durations differ by < 1 step.
    assert traced["avg_jct_s"] == pytest.approx(generated["avg_jct_s"], rel=5e-3)


def test_event_stream_tells_the_story() -> None:
    """Every event carries the simulated time; arrivals, placements, completions all appear."""
    _, logs = _small("max_min_fairness_perf")
    names = {e["event"] for e in logs}
    assert {
        "run_started",
        "job_arrived",
        "allocation_solved",
        "round_started",
        "job_placed",
        "job_completed",
        "run_ended",
    } <= names
    assert all("sim_time" in e for e in logs)
    times = [e["sim_time"] for e in logs]
    assert times == sorted(times)


@pytest.mark.parametrize("per_server", [2, 4, 8])
def test_multi_gpu_jobs_on_multi_gpu_servers(per_server: int) -> None:
    """With N GPUs per server, every job's GPUs sit on one server (or whole servers)."""
    cfg = _config(
        cluster=parse_cluster("8:8:8", gpus_per_server=per_server),
        workload=WorkloadConfig(rate_per_hour=0.3, multi_gpu=True),
        window=WindowConfig(10, 40),
    )
    topo = Topology(cfg.cluster)
    with capture_logs() as logs:
        r = _run(cfg)
    assert r["end_reason"] == "window_complete"
    placed = [e for e in logs if e["event"] == "job_placed"]
    assert any(len(e["gpus"]) > 1 for e in placed)
    for e in placed:
        servers = {int(topo.server_of[g]) for g in e["gpus"]}
        if len(e["gpus"]) <= per_server:
            assert len(servers) == 1, e
        else:
            assert len(servers) == len(e["gpus"]) // per_server, e


def test_a_user_defined_gpu_type(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """A cluster file may name any type its throughput file has (here an 'a100')."""
    raw = json.loads(Path(throughputs.source).read_text())
    raw["a100"] = {key: {"null": value["null"] * 2.0} for key, value in raw["v100"].items()}
    tp = tmp_path / "tp.json"
    tp.write_text(json.dumps(raw))
    spec = tmp_path / "c.toml"
    spec.write_text("[types]\na100 = 4\nk80 = 8\n")
    cfg = _config(
        cluster=load_cluster_toml(spec),
        workload=WorkloadConfig(rate_per_hour=0.3, throughputs_path=str(tp)),
    )
    r = _run(cfg, throughputs=load_throughputs(tp))
    assert r["end_reason"] == "window_complete"
    assert set(r["utilization"]["per_type"]) == {"a100", "k80"}  # type: ignore[index]
    assert r["utilization"]["per_type"]["a100"] > 0  # type: ignore[index]


def test_the_trace_is_written_through_the_files_buffer() -> None:
    """configure_logging's writer puts each event on its own line, every level alike, and
    never flushes the file itself (its directory is staged and kept only once closed)."""
    import io

    import structlog

    from hetsim.eventlog import configure_logging

    class Counting(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            Counting.flushes += 1
            super().flush()

    out = Counting()
    saved = structlog.get_config()
    try:
        configure_logging(out)
        log = structlog.get_logger()
        log.info("a_thing", sim_time=1.0, job_id=3)
        log.warning("a_warning", sim_time=2.0, message="")
    finally:
        structlog.configure(**saved)
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["a_thing", "a_warning"]
    assert lines[0].startswith('{"event": "a_thing", "sim_time": 1.0')
    assert Counting.flushes == 0
