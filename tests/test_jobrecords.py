"""The completion log (finished jobs spilled to a scratch file by chunks) and the
per-job table a run writes, DIR/jobs.parquet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from des.config import WindowConfig
from des.jobrecords import Completion, CompletionLog
from hetsim.jobs_file import read_jobs, write_jobs

ROOT = Path(__file__).resolve().parent.parent

completions = st.lists(
    st.tuples(
        st.integers(0, 10**9),
        st.floats(0, 1e7, allow_nan=False),
        st.floats(0, 1e7, allow_nan=False),
        st.sampled_from([1, 2, 4, 8]),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(completions, st.integers(1, 7))
def test_the_log_reads_back_every_row_in_order_whatever_the_chunk(
    rows: list[tuple[int, float, float, int]], chunk: int
) -> None:
    log = CompletionLog(chunk=chunk)
    expected = [Completion(*r) for r in rows]
    for c in expected:
        log.append(c)
    assert len(log) == len(expected)
    assert list(log) == expected
    assert [log[i] for i in range(len(log))] == expected
    assert [log[-i - 1] for i in range(len(log))] == expected[::-1]
    assert [log.finish_at(i) for i in range(len(log))] == [c.finish for c in expected]
    assert log.in_memory < chunk  # full chunks went to the scratch file
    assert log.jcts().tolist() == [c.finish - c.arrival for c in expected]
    inside = [c.finish - c.arrival for c in expected if 100 <= c.job_id < 10**6]
    assert log.jcts(100, 10**6).tolist() == inside
    sizes = [len(part) for part in log.chunks()]
    assert sum(sizes) == len(expected) and all(s <= chunk for s in sizes)
    log.close()
    assert len(log) == 0 and list(log) == []


def test_out_of_range_indices_raise_and_a_zero_chunk_is_refused() -> None:
    log = CompletionLog(chunk=2)
    for i in range(3):
        log.append(Completion(i, 0.0, 1.0 + i, 1))
    with pytest.raises(IndexError):
        log[3]
    with pytest.raises(IndexError):
        log[-4]
    assert log[-1].finish == 3.0
    with pytest.raises(ValueError, match="chunk"):
        CompletionLog(chunk=0)


def test_the_log_keeps_at_most_one_chunk_in_memory() -> None:
    """Memory does not grow with the rows: 200,000 rows take one 4,096-row chunk."""
    log = CompletionLog()
    for i in range(200_000):
        log.append(Completion(i, float(i), float(i) + 5.0, 1))
    assert log.in_memory == 200_000 % 4096
    assert log._tail.nbytes == 4096 * 32
    assert float(log.jcts().mean()) == 5.0
    assert log[123_456] == Completion(123_456, 123456.0, 123461.0, 1)
    log.close()


def test_jobs_file_has_completed_rows_in_order_then_failed_ones(tmp_path: Path) -> None:
    log = CompletionLog(chunk=3)
    done = [Completion(i, 10.0 * i, 10.0 * i + 7.5, 1 + i % 2) for i in range(8)]
    for c in done:
        log.append(c)
    failed = [Completion(42, 3.0, 90.0, 4)]
    path = write_jobs(tmp_path, log, failed, WindowConfig(2, 6))
    table = read_jobs(path).to_pylist()
    assert [r["job_id"] for r in table] == [*range(8), 42]
    assert [r["jct_s"] for r in table[:8]] == [7.5] * 8
    assert table[-1]["status"] == "failed" and table[-1]["jct_s"] is None
    assert {r["status"] for r in table[:8]} == {"completed"}
    assert [r["in_window"] for r in table] == [
        False,
        False,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert pq.ParquetFile(path).metadata.num_row_groups == 4  # one per chunk, one for failed


def test_a_run_writes_its_jobs_and_the_table_agrees_with_the_result(tmp_path: Path) -> None:
    """`hetsim run` writes DIR/jobs.parquet: its window rows give the result's average."""
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "hetsim.cli", "run", "--policy", "fifo_perf",
           "--cluster", "4:4:4", "--rate", "1.0", "--window", "20:60", "--quiet",
           "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=ROOT)
    result = json.loads((out / "result.json").read_text())
    table = read_jobs(out / "jobs.parquet")
    window = np.array(table.filter(table["in_window"])["jct_s"].to_pylist())
    assert window.size == result["window_jobs_completed"] == 40
    assert float(window.mean()) == result["avg_jct_s"]
    assert table.num_rows == result["jobs_completed"]


@pytest.mark.slow
def test_memory_stays_flat_as_finished_jobs_pile_up() -> None:
    """Peak memory after 3,000 and after 12,000 finished jobs (a light load, so few
    jobs are active at once) differs by far less than the 100 bytes a job that
    keeping a record object per job cost."""

    def peak(jobs: int) -> float:
        code = (
            "import resource\nfrom cluster import parse_cluster\n"
            "from des.config import SimConfig, WorkloadConfig\n"
            "from des.simulation import Simulation\n"
            "from hetsim.eventlog import configure_logging\nconfigure_logging(None)\n"
            "cfg = SimConfig(policy='fifo_perf', cluster=parse_cluster('40:40:40'),"
            f" workload=WorkloadConfig(rate_per_hour=1.0, max_jobs={jobs}), window=None)\n"
            "out = Simulation(cfg).run()\nassert len(out.completions) == "
            f"{jobs}, out.end_reason\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True
        )
        return float(done.stdout.split()[-1]) * 1024  # ru_maxrss is KiB on Linux

    grown = peak(12_000) - peak(3_000)
    assert grown < 9_000 * 40, f"peak grew {grown / 1e6:.1f} MB over 9,000 finished jobs"
