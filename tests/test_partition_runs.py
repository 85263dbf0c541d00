"""Whole runs with ``--partitions``: K = 1 is today's run byte for byte; K = 2 runs to
the end, is deterministic, replays, and reaches result.json, sweeps and scenario files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

import hetsim.cli
from des.config import config_from_dict
from hetsim import api
from hetsim.cli import summary_lines
from hetsim.errors import InputError
from sweep.executors import Backend
from sweep.spec import load_sweep
from tests.cli_helpers import run_cli

RUN = [
    "run",
    "--policy",
    "max_min_fairness_perf",
    "--cluster",
    "4:4:4",
    "--rate",
    "1.5",
    "--seed",
    "1",
    "--max-jobs",
    "40",
    "--events",
    "--quiet",
]


def _run(capsys: pytest.CaptureFixture[str], out: Path, *extra: str) -> dict[str, object]:
    code, _, err = run_cli([*RUN, *extra, "--out", str(out)], capsys)
    assert code == 0, err
    result: dict[str, object] = json.loads((out / "result.json").read_text())
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("partition-runs")


def test_one_partition_gives_byte_identical_events(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--partitions 1 is the exact path: the same events.jsonl as a run without it."""
    _run(capsys, runs / "plain")
    result = _run(capsys, runs / "k1", "--partitions", "1")
    assert result["config"]["partitions"] == 1  # type: ignore[index]
    plain = (runs / "plain" / "events.jsonl").read_bytes()
    assert plain == (runs / "k1" / "events.jsonl").read_bytes()
    assert plain.count(b"allocation_solved") > 10


def test_two_partitions_run_to_the_end_deterministically(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """K = 2 finishes the window, solves two programs per part, differs from the exact
    run, gives the same events twice, and replays event for event from result.json."""
    result = _run(capsys, runs / "k2", "--partitions", "2")
    _run(capsys, runs / "k2-again", "--partitions", "2")
    if not (runs / "plain").exists():
        _run(capsys, runs / "plain")
    assert result["config"]["partitions"] == 2  # type: ignore[index]
    assert config_from_dict(result["config"]).partitions == 2  # type: ignore[arg-type]
    assert result["window_jobs_completed"] == 40
    assert result["avg_jct_h"] is not None
    solver = result["solver"]
    assert solver["failures"] == 0  # type: ignore[index]
    # more than one part solved at some allocation (each part: max-min + tie-break)
    assert solver["program_solves"] > 2 * solver["solves"]  # type: ignore[index,operator]
    events = (runs / "k2" / "events.jsonl").read_bytes()
    assert events == (runs / "k2-again" / "events.jsonl").read_bytes()
    assert events != (runs / "plain" / "events.jsonl").read_bytes()
    code, _, err = run_cli(["replay", str(runs / "k2"), "--verify"], capsys)
    assert code == 0, err
    assert summary_lines(result, runs / "k2")[0].endswith("seed 1, solved in 2 partitions")
    plain = json.loads((runs / "plain" / "result.json").read_text())
    assert summary_lines(plain, runs / "plain")[0].endswith("seed 1")


SCENARIO = """\
name = "pop"
trace = "single-gpu"
policies = ["max_min_fairness_perf"]
rates = [1.0]
seeds = [1]
cluster = "4:4:4"
window = "0:6"
quirks = "none"
partitions = 2
"""


def test_a_scenario_and_the_sweep_option_set_the_partitions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scenario's ``partitions`` reaches every run's configuration and record;
    ``hetsim sweep --partitions`` overrides it."""

    @contextmanager
    def threads() -> Iterator[Backend]:
        with ThreadPoolExecutor(max_workers=1) as pool:
            yield Backend(pool, 1, "1 thread")

    monkeypatch.setattr(hetsim.cli, "open_backend", lambda jobs, dask: threads())
    scenario = tmp_path / "pop.toml"
    scenario.write_text(SCENARIO)
    spec = load_sweep(scenario)
    assert spec.partitions == 2
    assert spec.to_dict()["partitions"] == 2
    assert all(spec.config(key).partitions == 2 for key in spec.runs())
    out = tmp_path / "out"
    argv = ["sweep", str(scenario), "--out", str(out), "--jobs", "1", "--quiet"]
    code, _, err = run_cli([*argv, "--partitions", "3"], capsys)
    assert code == 0, err
    (record,) = [json.loads(p.read_text()) for p in (out / "runs").glob("*/*.json")]
    assert record["status"] == "ok"
    assert record["config"]["partitions"] == 3


def test_space_sharing_in_parts_runs_pairs(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A packed policy in two parts still runs pairs of jobs on shared GPUs (the parts'
    pairs come back in the whole problem's rows) and finishes every job."""
    out = runs / "packed"
    argv = [*RUN, "--policy", "max_min_fairness_packed", "--rate", "3", "--partitions", "2"]
    code, _, err = run_cli([*argv, "--out", str(out)], capsys)
    assert code == 0, err
    result = json.loads((out / "result.json").read_text())
    assert result["window_jobs_completed"] == 40
    placed = [json.loads(line) for line in (out / "events.jsonl").open()]
    shared = [e for e in placed if e["event"] == "job_placed" and e.get("partner") is not None]
    assert shared, "no pair ever shared GPUs"


def test_the_python_api_takes_partitions_as_an_int() -> None:
    """``hetsim.run(partitions=K)`` is checked as the option is."""
    config = api._config({"policy": "max_min_fairness", "rate": 1.0, "partitions": 4})
    assert config.partitions == 4
    with pytest.raises(InputError, match="--partitions: field 'partitions': must be an integer"):
        api._config({"policy": "max_min_fairness", "rate": 1.0, "partitions": 2.5})
