"""hetsim replay --verify: re-simulation from result.json, compared event by event."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scheduler.mechanism
from cluster import parse_cluster
from des.config import (
    SaturationConfig,
    SimConfig,
    WindowConfig,
    WorkloadConfig,
    config_from_dict,
)
from des.provenance import code_fingerprint, file_sha256
from hetsim.cli import main
from hetsim.verify import verify
from scheduler import registry
from tests.cli_helpers import run_cli


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verify")
    trace = root / "trace.tsv"
    main(["trace", "--seed", "2", "--rate", "0.3", "--jobs", "30", "-o", str(trace)])
    out = root / "run"
    argv = ["run", "--policy", "max_min_fairness", "--cluster", "2:2:2", "--trace", str(trace)]
    argv += ["--window", "5:25", "--timeout", "600", "--events", "--quiet", "--out", str(out)]
    main(argv)
    return out


@pytest.fixture
def copy(recorded: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "run"
    shutil.copytree(recorded, dest)
    return dest


def _lines(run: Path) -> list[str]:
    return (run / "events.jsonl").read_text().splitlines()


def test_the_result_records_provenance(recorded: Path) -> None:
    """result.json holds the trace's SHA-256, the code fingerprint and package versions."""
    result = json.loads((recorded / "result.json").read_text())
    prov = result["provenance"]
    assert prov["trace_sha256"] == file_sha256(result["config"]["workload"]["trace_path"])
    assert prov["code_fingerprint"] == code_fingerprint()
    assert prov["packages"]["numpy"] == np.__version__


def test_an_unchanged_run_verifies_identical(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-running from the stored config reproduces every event; exit 0."""
    outcome = verify(recorded)
    assert outcome.identical and not outcome.notes
    assert outcome.events_compared == len(_lines(recorded))
    code, out, _ = run_cli(["replay", str(recorded), "--verify"], capsys)
    assert code == 0 and out.startswith("identical:")


def test_a_one_line_change_in_the_mechanism_is_caught_early(
    recorded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Coarser priority keys in the round mechanism: the first differing event is named
    (index, time, event, field, both values) and the re-run stops there; exit 1."""
    monkeypatch.setattr(scheduler.mechanism, "_key", lambda v: np.round(v.astype(np.float32), 1))
    outcome = verify(recorded)
    diff = outcome.difference
    assert diff is not None and diff.field is not None
    lines = _lines(recorded)
    assert 0 < diff.index == outcome.events_compared < len(lines) - 100
    theirs = json.loads(lines[diff.index])
    assert diff.event == theirs["event"] and diff.sim_time == theirs["sim_time"]
    assert diff.recorded == theirs[diff.field] != diff.rerun
    code, out, _ = run_cli(["replay", str(recorded), "--verify"], capsys)
    assert code == 1
    assert f"event {diff.index} (line {diff.index + 1})" in out and f"'{diff.field}'" in out


def test_an_edited_event_is_the_difference(copy: Path) -> None:
    """Changing one field of one recorded event is found at that line, that field."""
    lines = _lines(copy)
    k = next(i for i, line in enumerate(lines) if '"job_placed"' in line and i > 40)
    ev = json.loads(lines[k])
    ev["steps"] += 1
    lines[k] = json.dumps(ev)
    (copy / "events.jsonl").write_text("\n".join(lines) + "\n")
    diff = verify(copy).difference
    assert diff is not None
    assert (diff.index, diff.event, diff.field) == (k, "job_placed", "steps")
    assert diff.recorded == diff.rerun + 1


def test_a_truncated_or_longer_recording_differs_at_its_end(copy: Path) -> None:
    """Missing last events, or extra ones, are a difference at the first line past."""
    lines = _lines(copy)
    (copy / "events.jsonl").write_text("\n".join(lines[:-3]) + "\n")
    diff = verify(copy).difference
    assert diff is not None and diff.index == len(lines) - 3 and diff.field is None
    (copy / "events.jsonl").write_text("\n".join([*lines, lines[-1]]) + "\n")
    diff = verify(copy).difference
    assert diff is not None and diff.index == len(lines) and diff.field is None


def test_a_changed_trace_is_bad_input(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A trace whose hash differs from the recorded one: one line, exit 2."""
    result = json.loads((copy / "result.json").read_text())
    trace = Path(result["config"]["workload"]["trace_path"])
    changed = copy / "trace.tsv"
    changed.write_text(trace.read_text().replace("\t0.", "\t1.", 1))
    result["config"]["workload"]["trace_path"] = str(changed)
    (copy / "result.json").write_text(json.dumps(result))
    code, out, err = run_cli(["replay", str(copy), "--verify"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(changed) in err and "trace_sha256" in err


def test_a_changed_fingerprint_is_a_note(copy: Path) -> None:
    """Other recorded code or package versions are reported next to the verdict."""
    result = json.loads((copy / "result.json").read_text())
    result["provenance"]["code_fingerprint"] = "0" * 16
    result["provenance"]["packages"]["numpy"] = "0.0"
    (copy / "result.json").write_text(json.dumps(result))
    notes = verify(copy).notes
    assert any("simulator code differs" in n for n in notes)
    assert any("package numpy: 0.0" in n for n in notes)


def test_an_unknown_config_key_is_bad_input(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """result.json's config with a key SimConfig lacks: one line naming it, exit 2."""
    result = json.loads((copy / "result.json").read_text())
    result["config"]["workload"]["speed"] = 2
    (copy / "result.json").write_text(json.dumps(result))
    code, _, err = run_cli(["replay", str(copy), "--verify"], capsys)
    assert code == 2 and "unknown key 'speed'" in err and "result.json" in err


@pytest.mark.parametrize(
    "config",
    [
        SimConfig(
            policy="max_min_fairness_perf",
            cluster=parse_cluster("3:2:1", gpus_per_server=1),
            workload=WorkloadConfig(rate_per_hour=1.5, multi_gpu=True, max_jobs=50),
            window=WindowConfig(3, 9),
            seed=4,
            solvers=("scs", "ecos"),
            type_costs=(3.0, 2.0, 1.0),
            quirks="gavel",
        ),
        SimConfig(
            policy="fifo",
            cluster=parse_cluster("8:0:4", gpus_per_server=4),
            workload=WorkloadConfig(trace_path="t.tsv"),
            timeout_s=5.0,
        ),
    ],
)
def test_config_round_trips_through_its_dict(config: SimConfig) -> None:
    """config_from_dict(c.to_dict()) == c, through JSON too."""
    assert config_from_dict(json.loads(json.dumps(config.to_dict()))) == config


@st.composite
def configs(draw: st.DrawFn) -> SimConfig:
    policy = draw(st.sampled_from(registry.names()))
    spec = registry.get(policy)
    counts = draw(st.lists(st.integers(0, 8), min_size=3, max_size=3).filter(any))
    trace = draw(st.booleans())
    start = draw(st.integers(0, 100))
    return SimConfig(
        policy=policy,
        cluster=parse_cluster(
            ":".join(map(str, counts)), gpus_per_server=draw(st.sampled_from([1, 2, 4]))
        ),
        workload=WorkloadConfig(
            rate_per_hour=None if trace else draw(st.floats(0.1, 9.0)),
            multi_gpu=False if spec.single_gpu_only or trace else draw(st.booleans()),
            trace_path="t.tsv" if trace else None,
            max_jobs=draw(st.none() | st.integers(1, 10_000)),
        ),
        window=draw(st.none() | st.just(WindowConfig(start, start + draw(st.integers(1, 50))))),
        seed=draw(st.integers(0, 2**31 - 1)),
        solvers=tuple(draw(st.permutations(["ecos", "scs", "clarabel"]))),
        saturation=SaturationConfig(
            enabled=draw(st.booleans()), window_completions=draw(st.integers(2, 500))
        ),
        timeout_s=draw(st.none() | st.floats(1.0, 1e5)),
        quirks=draw(st.sampled_from(["none", "gavel"])),
        tie_break=draw(st.booleans()),
        job_classes=draw(st.booleans()),
        stop_at_s=draw(st.none() | st.floats(1.0, 1e7)),
    )


@settings(max_examples=60, deadline=None)
@given(configs())
def test_any_config_round_trips(config: SimConfig) -> None:
    """Whatever the configuration, what result.json stores reads back as the same one."""
    assert config_from_dict(json.loads(json.dumps(config.to_dict()))) == config
