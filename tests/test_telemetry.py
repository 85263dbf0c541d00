"""Per-round telemetry: the fragmentation figure, the collector, and whole runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from cluster import Topology, parse_cluster
from des.config import SaturationConfig, SimConfig, WindowConfig, WorkloadConfig
from des.simulation import Simulation
from des.telemetry import PHASES, Fragmentation, TelemetryCollector
from hetsim.telemetry_file import read_telemetry, write_telemetry
from scheduler.jobstate import ActiveJobs
from tests.cli_helpers import run_cli


def _frag(gpus_per_server: int, occupied: list[int], sizes: list[int], total: int = 8) -> int:
    topo = Topology(parse_cluster(f"{total}:0:0", gpus_per_server=gpus_per_server))
    occ = np.zeros(topo.num_gpus, dtype=bool)
    occ[occupied] = True
    runnable = np.ones((len(sizes), topo.num_types), dtype=bool)
    return int(Fragmentation(topo)(occ, np.array(sizes, dtype=np.int64), runnable)[0])


def test_fragmentation_counts_free_gpus_split_across_servers() -> None:
    """Two servers of 4 with 2 free each: a 4-GPU job can use none of the 4 free GPUs."""
    assert _frag(4, [0, 1, 4, 5], [4]) == 4


def test_fragmentation_is_zero_when_a_waiting_job_fits() -> None:
    """A 2-GPU job fits on either half-free server: nothing is fragmented."""
    assert _frag(4, [0, 1, 4, 5], [2, 4]) == 0


def test_fragmentation_counts_only_servers_no_waiting_job_can_use() -> None:
    """Server 0 has 1 free GPU, server 1 has 4: a 2-GPU job uses server 1 only."""
    assert _frag(4, [0, 1, 2], [2]) == 1


def test_large_jobs_need_whole_free_servers() -> None:
    """An 8-GPU job needs two whole 4-GPU servers; 6 free GPUs on one and a half do not
    serve it, and it is not fragmentation when the type lacks the GPUs altogether."""
    assert _frag(4, [0, 1], [8]) == 0  # 6 free < 8: not for want of contiguity
    assert _frag(4, [0, 1], [8], total=12) == 2  # two whole servers serve it, 2 stranded


def test_no_contiguity_or_no_waiting_job_means_no_fragmentation() -> None:
    """One GPU per server, or nothing waiting: the figure is 0."""
    assert _frag(1, [0, 1, 4, 5], [4]) == 0
    assert _frag(4, [0, 1, 4, 5], []) == 0


def test_fragmentation_ignores_jobs_that_cannot_run_on_the_type() -> None:
    """A waiting job with no throughput on the type does not make its GPUs fragmented."""
    topo = Topology(parse_cluster("8:0:0", gpus_per_server=4))
    occ = np.zeros(8, dtype=bool)
    occ[[0, 1, 4, 5]] = True
    runnable = np.zeros((1, topo.num_types), dtype=bool)
    assert Fragmentation(topo)(occ, np.array([4]), runnable)[0] == 0


@settings(max_examples=60, deadline=None)
@given(
    per_server=st.sampled_from([1, 2, 4, 8]),
    occupied=st.lists(st.booleans(), min_size=16, max_size=16),
    sizes=st.lists(st.sampled_from([1, 2, 4, 8]), max_size=6),
)
def test_fragmented_gpus_are_free_and_vanish_without_contiguity(
    per_server: int, occupied: list[bool], sizes: list[int]
) -> None:
    """Fragmented GPUs are never more than the free ones, and 0 when a 1-GPU job waits
    or servers hold one GPU."""
    topo = Topology(parse_cluster("16:0:0", gpus_per_server=per_server))
    occ = np.array(occupied)
    runnable = np.ones((len(sizes), topo.num_types), dtype=bool)
    frag = int(Fragmentation(topo)(occ, np.array(sizes, dtype=np.int64), runnable)[0])
    assert 0 <= frag <= int((~occ).sum())
    if per_server == 1 or 1 in sizes:
        assert frag == 0


def test_collector_grows_past_its_first_allocation() -> None:
    """Rows beyond the preallocated block are kept, in order, with their values."""
    topo = Topology(parse_cluster("2:2:0"))
    tel = TelemetryCollector(topo, ActiveJobs(topo.num_types), None, SaturationConfig())
    n = 9000
    for r in range(n):
        solve = (["ecos"], 0.5) if r % 7 == 0 else None
        tel.record(r * 360.0, r + 1, np.array([r % 3, 1, 0]), None, 5, 3, r, [], solve)
    cols = tel.columns()
    assert len(tel) == n
    assert np.array_equal(cols["round"], np.arange(1, n + 1))
    assert np.array_equal(cols["busy_v100"], np.arange(n) % 3)
    assert cols["util_p100"][-1] == 0.5
    assert np.array_equal(cols["waiting_jobs"], np.full(n, 2))
    assert cols["solved"].sum() == len(range(0, n, 7))
    assert set(cols["solver"]) == {"", "ecos"}
    assert np.isnan(cols["completion_rate_per_h"]).all()  # no completions
    assert set(cols["phase"]) == {"measurement"}


def _config(**kw: object) -> SimConfig:
    base: dict[str, object] = {
        "policy": "max_min_fairness_perf",
        "cluster": parse_cluster("8:8:8", gpus_per_server=4),
        "workload": WorkloadConfig(rate_per_hour=0.6, multi_gpu=True, max_jobs=40),
        "window": WindowConfig(10, 30),
        "seed": 1,
    }
    base.update(kw)
    return SimConfig(**base)  # type: ignore[arg-type]


def test_a_run_records_one_row_per_round_matching_its_events() -> None:
    """Rows match the trace's round_started events; phases run warm-up, measurement,
    drain; the counters end where the run ended."""
    sim = Simulation(_config(), telemetry=True)
    with capture_logs() as logs:
        outcome = sim.run()
    assert sim.telemetry is not None
    cols = sim.telemetry.columns(outcome.saturation, outcome.completions)
    rounds = [e for e in logs if e["event"] == "round_started"]
    assert len(cols["round"]) == outcome.rounds == len(rounds)
    busy = cols["busy_v100"] + cols["busy_p100"] + cols["busy_k80"]
    assert busy.tolist() == [e["busy_gpus"] for e in rounds]
    assert cols["active_jobs"].tolist() == [e["active_jobs"] for e in rounds]
    assert cols["time_s"].tolist() == [e["sim_time"] for e in rounds]
    assert cols["jobs_completed"][-1] <= len(outcome.completions)
    solves = [e for e in logs if e["event"] == "allocation_solved"]
    assert int(cols["solved"].sum()) == len(solves)
    codes = [PHASES.index(p) for p in cols["phase"]]
    assert codes == sorted(codes) and codes[0] == 0 and "drain" in cols["phase"]
    assert (cols["waiting_jobs"] >= 0).all()
    rate = cols["completion_rate_per_h"]
    assert np.isnan(rate[0]) and (rate[~np.isnan(rate)] > 0).all()


def test_a_saturated_run_marks_its_last_rounds_saturated() -> None:
    """An overloaded run ends saturated and its telemetry ends in the saturated phase."""
    config = _config(
        cluster=parse_cluster("1:1:0"),
        workload=WorkloadConfig(rate_per_hour=4.0),
        window=WindowConfig(0, 100_000),
        saturation=SaturationConfig(window_completions=10, growth_windows=4),
    )
    sim = Simulation(config, telemetry=True)
    outcome = sim.run()
    assert outcome.end_reason == "saturated"
    assert sim.telemetry is not None
    phases = sim.telemetry.columns(outcome.saturation, outcome.completions)["phase"]
    assert phases[-1] == "saturated" and phases[0] != "saturated"


def test_without_telemetry_nothing_is_collected() -> None:
    """The default Simulation collects nothing."""
    sim = Simulation(_config(workload=WorkloadConfig(rate_per_hour=0.6, max_jobs=5)))
    sim.run()
    assert sim.telemetry is None


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_the_table_round_trips_through_its_file(tmp_path: Path, fmt: str) -> None:
    """What is written is read back column for column."""
    sim = Simulation(
        _config(window=None, workload=WorkloadConfig(0.6, max_jobs=15)), telemetry=True
    )
    outcome = sim.run()
    assert sim.telemetry is not None
    cols = sim.telemetry.columns(outcome.saturation, outcome.completions)
    back = read_telemetry(write_telemetry(tmp_path, cols, fmt))
    assert list(back) == list(cols)
    for name, values in cols.items():
        if values.dtype == object:
            assert back[name].tolist() == values.tolist(), name
        else:
            assert np.allclose(back[name], values, equal_nan=True), name


def test_cli_writes_parquet_by_default_csv_on_request_and_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--telemetry picks the file; the same run gives the same table bar wall time."""
    base = ["run", "--policy", "fifo_perf", "--cluster", "2:2:2", "--rate", "1.0"]
    base += ["--max-jobs", "12", "--quiet"]
    for name, flag in (("a", "parquet"), ("b", "parquet"), ("c", "csv"), ("d", "none")):
        code, _, err = run_cli([*base, "--telemetry", flag, "--out", str(tmp_path / name)], capsys)
        assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [
        ".hetsim-run",
        "jobs.parquet",
        "result.json",
    ]
    a = read_telemetry(tmp_path / "a" / "telemetry.parquet")
    b = read_telemetry(tmp_path / "b" / "telemetry.parquet")
    c = read_telemetry(tmp_path / "c" / "telemetry.csv")
    rounds = json.loads((tmp_path / "a" / "result.json").read_text())["rounds"]
    assert len(a["round"]) == rounds
    assert list(a) == list(b) == list(c)
    for name in a:
        if name != "solve_wall_s":
            assert _same(a[name], b[name]) and _same(a[name], c[name]), name


def _same(x: np.ndarray, y: np.ndarray) -> bool:
    if x.dtype == object or y.dtype == object:
        return bool(x.tolist() == y.tolist())
    return bool(np.allclose(x, y, equal_nan=True))


def test_cli_rejects_an_unknown_telemetry_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad --telemetry value is one line and exit 2, and no directory."""
    code, _, err = run_cli(
        [
            "run",
            "--policy",
            "fifo",
            "--rate",
            "1",
            "--telemetry",
            "xml",
            "--out",
            str(tmp_path / "x"),
        ],
        capsys,
    )
    assert code == 2 and "telemetry" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
