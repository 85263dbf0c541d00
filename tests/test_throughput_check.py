"""Tests for ``hetsim throughputs check``: a valid file, an added GPU type, what a
cluster and a trace lack, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.trace_files import shared, write_csv

SHIPPED = (
    Path(__file__).resolve().parent.parent / "workloads" / "data" / "simulation_throughputs.json"
)


def with_a100(tmp_path: Path, drop: str | None = None) -> Path:
    """The shipped file plus an 'a100' type measured at 2x the V100 (pairs left out)."""
    data = json.loads(SHIPPED.read_text())
    data["a100"] = {key: {"null": 2 * entry["null"]} for key, entry in data["v100"].items()}
    if drop is not None:
        del data["a100"][drop]
    path = tmp_path / "tp.json"
    path.write_text(json.dumps(data, indent=1))
    return path


def cluster_toml(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text("[types]\na100 = 8\nv100 = 8\n")
    return path


def test_shipped_file_serves_the_reference_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped file lacks nothing the generator needs on 36:36:36 (exit 0)."""
    code, out, _ = run_cli(["throughputs", "check", str(SHIPPED), "--cluster", "36:36:36"], capsys)
    assert code == 0
    assert "3 GPU types, 83 entries" in out and out.rstrip().endswith("nothing lacking")
    assert "k80: 83 entries (GPU counts 1, 2, 4, 8), 3 cannot run" in out


def test_added_gpu_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An A100 added from one's own measurements serves a cluster of A100s and V100s;
    with one entry missing, that entry is listed and the exit code is 1."""
    cluster = str(cluster_toml(tmp_path))
    code, out, _ = run_cli(
        ["throughputs", "check", str(with_a100(tmp_path)), "--cluster", cluster], capsys
    )
    assert code == 0, out
    assert "a100: 83 entries" in out and "0 pair entries" in out
    key = "('LM (batch size 20)', 4)"
    code, out, _ = run_cli(
        ["throughputs", "check", str(with_a100(tmp_path, drop=key)), "--cluster", cluster], capsys
    )
    assert code == 1
    assert f"the generator needs {key} on a100" in out


def test_cluster_type_the_file_lacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A cluster type the file does not have is what it lacks."""
    code, out, _ = run_cli(
        ["throughputs", "check", str(SHIPPED), "--cluster", str(cluster_toml(tmp_path))], capsys
    )
    assert code == 1 and "the generator needs GPU type 'a100'" in out


def test_trace_needs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A trace's GPU counts no job type has, and the job types it names that the file
    lacks, are listed."""
    trace = write_csv(tmp_path / "t.csv", "job_id,submission_time,duration,num_gpu",
                      ["a,0,600,1", "b,5,600,3", "c,9,600,3", "d,10,600,0"])  # fmt: skip
    code, out, _ = run_cli(
        ["throughputs", "check", str(SHIPPED), "--cluster", "4:4:4", "--trace", str(trace)], capsys
    )
    assert code == 1
    assert "1 GPUs: 1, 3 GPUs: 2" in out
    assert "the trace needs 2 jobs on 3 GPUs: no job type runs at that count" in out
    gavel7 = shared("gavel_philly/0e4a51.trace")
    code, out, _ = run_cli(
        ["throughputs", "check", str(SHIPPED), "--cluster", "36:36:36", "--trace", str(gavel7)],
        capsys,
    )
    assert code == 1
    assert "jobs of ('Recommendation (batch size 8192)', 4) on v100, p100, k80" in out


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed file, or --trace without --cluster, is one line and exit 2."""
    data = json.loads(SHIPPED.read_text())
    first = next(iter(data["v100"]))
    data["v100"][first]["null"] = -1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data, indent=1))
    code, _, err = run_cli(["throughputs", "check", str(bad)], capsys)
    assert code == 2 and "must be >= 0" in err and err.count("\n") == 1
    code, _, err = run_cli(["throughputs", "check", str(SHIPPED), "--trace", str(bad)], capsys)
    assert code == 2 and "--trace needs --cluster" in err
