"""The command line as a user runs it: outputs, summaries, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from des.result import strip_wall_clock
from tests.cli_helpers import run_cli

SMALL = ["--cluster", "4:4:4", "--rate", "0.3", "--seed", "1", "--window", "10:30"]


def test_run_writes_result_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hetsim run` writes DIR/result.json with the documented fields and a short summary."""
    out = tmp_path / "r"
    code, stdout, _ = run_cli(
        ["run", "--policy", "max_min_fairness_perf", *SMALL, "--out", str(out)], capsys
    )
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    for key in (
        "avg_jct_s",
        "jct_p50_s",
        "jct_p90_s",
        "jct_p99_s",
        "window_jobs_completed",
        "window_jobs_total",
        "saturated",
        "saturation_reason",
        "utilization",
        "jobs_arrived",
        "jobs_completed",
        "rounds",
        "sim_time_s",
        "wall_time_s",
        "solver",
        "config",
    ):
        assert key in result, key
    assert set(result["solver"]) >= {"solves", "fallbacks", "failures", "time_s"}
    assert result["config"]["cluster"]["counts"] == [4, 4, 4]
    assert result["window_jobs_completed"] == 20
    assert "avg JCT" in stdout and "result.json" in stdout
    assert not (out / "events.jsonl").exists()


def test_no_job_classes_is_stored_in_the_config_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--no-job-classes` is part of the stored effective config (false), and the summary
    says the run was solved job by job; without it the config says true. Below 512 jobs
    the two give the same events."""
    runs = {}
    for name, extra in (("on", []), ("off", ["--no-job-classes"])):
        out = tmp_path / name
        argv = ["run", "--policy", "max_min_fairness_perf", *SMALL, *extra]
        code, stdout, _ = run_cli([*argv, "--events", "--out", str(out)], capsys)
        assert code == 0
        runs[name] = (json.loads((out / "result.json").read_text()), stdout, out)
    assert runs["on"][0]["config"]["job_classes"] is True
    assert runs["off"][0]["config"]["job_classes"] is False
    assert "job by job (no job classes)" in runs["off"][1]
    assert "job classes" not in runs["on"][1]
    assert (runs["on"][2] / "events.jsonl").read_bytes() == (
        runs["off"][2] / "events.jsonl"
    ).read_bytes()


def test_events_and_results_are_byte_identical_across_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same arguments, same seed: identical events.jsonl and result.json (bar wall time)."""
    texts = []
    for name in ("a", "b"):
        out = tmp_path / name
        code, _, _ = run_cli(
            [
                "run",
                "--policy",
                "max_min_fairness",
                *SMALL,
                "--events",
                "--quiet",
                "--out",
                str(out),
            ],
            capsys,
        )
        assert code == 0
        texts.append(
            (
                (out / "events.jsonl").read_bytes(),
                strip_wall_clock(json.loads((out / "result.json").read_text())),
                (out / "jobs.parquet").read_bytes(),
            )
        )
    assert texts[0][0] == texts[1][0]
    assert texts[0][1] == texts[1][1]
    assert texts[0][2] == texts[1][2]
    lines = texts[0][0].decode().splitlines()
    events = [json.loads(line) for line in lines]
    assert all(list(e)[:2] == ["event", "sim_time"] for e in events)
    assert events[0]["event"] == "run_started" and events[-1]["event"] == "run_ended"


def test_trace_command_writes_a_trace_the_run_command_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hetsim trace` then `hetsim run --trace` runs every job of the trace."""
    trace = tmp_path / "t.tsv"
    code, stdout, _ = run_cli(
        ["trace", "--seed", "0", "--rate", "0.3", "--jobs", "30", "-o", str(trace)], capsys
    )
    assert code == 0 and "wrote 30 jobs" in stdout
    assert len(trace.read_text().splitlines()) == 30
    out = tmp_path / "r"
    code, _, _ = run_cli(
        [
            "run",
            "--policy",
            "fifo_perf",
            "--cluster",
            "4:4:4",
            "--trace",
            str(trace),
            "--quiet",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert result["end_reason"] == "all_jobs_done"
    assert result["window_jobs_completed"] == result["window_jobs_total"] == 30


def _bad(tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    out = tmp_path / "never"
    code, _, err = run_cli([*argv, "--out", str(out)], capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("hetsim: error: ")
    assert not out.exists()
    assert not list(tmp_path.glob(".never*"))  # no staging left behind
    return err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--policy", "nope", "--rate", "2"], "field 'policy'"),
        (["--policy", "fifo", "--rate", "-1"], "field 'rate'"),
        (["--policy", "fifo", "--rate", "0"], "field 'rate'"),
        (["--policy", "fifo", "--rate", "abc"], "'--rate'"),
        (["--policy", "fifo", "--rate", "2", "--cluster", "36:36"], "field 'cluster'"),
        (["--policy", "fifo", "--rate", "2", "--cluster", "a:b:c"], "field 'cluster'"),
        (["--policy", "fifo", "--rate", "2", "--window", "9:3"], "field 'window'"),
        (["--policy", "fifo", "--rate", "2", "--solvers", "gurobi"], "field 'solvers'"),
        (["--policy", "fifo", "--rate", "2", "--gpus-per-server", "0"], "gpus-per-server"),
        (["--policy", "fifo"], "field 'rate'"),
        (["--policy", "fifo", "--rate", "2", "--ftf-isolated", "las"], "field 'ftf-isolated'"),
        (["--policy", "fifo", "--rate", "2", "--ftf-isolated", "x"], "'--ftf-isolated'"),
    ],
)
def test_bad_command_line_values_give_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    """Bad values on the command line: one line naming the field, exit 2, nothing written."""
    assert needle in _bad(tmp_path, ["run", *args], capsys)


def test_unknown_gpu_type_in_a_cluster_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cluster type the throughput file does not know is named with the file."""
    cluster = tmp_path / "c.toml"
    cluster.write_text("[types]\nv100 = 4\nh100 = 8\n")
    err = _bad(
        tmp_path, ["run", "--policy", "fifo", "--rate", "1", "--cluster", str(cluster)], capsys
    )
    assert "h100" in err and "simulation_throughputs.json" in err


def test_malformed_cluster_file_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown key in a cluster file is reported with file, line and field."""
    cluster = tmp_path / "c.toml"
    cluster.write_text("[types]\nv100 = 4\n\ncolour = 'blue'\n")
    err = _bad(
        tmp_path, ["run", "--policy", "fifo", "--rate", "1", "--cluster", str(cluster)], capsys
    )
    assert f"{cluster}:4" in err and "colour" in err


def test_trace_with_a_bad_line_names_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A trace line with the wrong field count or a non-number is pinpointed."""
    trace = tmp_path / "t.tsv"
    good = "ResNet-18 (batch size 16)\tcmd\tdir\t--num_steps\t1\t1000\t1\t1\t-1.000000\t0.000000"
    trace.write_text(good + "\n" + "\t".join(good.split("\t")[:7]) + "\n")
    err = _bad(tmp_path, ["run", "--policy", "fifo", "--trace", str(trace)], capsys)
    assert f"{trace}:2" in err and "field" in err
    bad_number = good.replace("\t1000\t", "\tlots\t")
    trace.write_text(good + "\n" + bad_number + "\n")
    err = _bad(tmp_path, ["run", "--policy", "fifo", "--trace", str(trace)], capsys)
    assert f"{trace}:2" in err and "total_steps" in err


def test_throughput_file_missing_a_job_type_the_trace_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A trace job whose type the throughput file lacks is reported at its trace line."""
    tp = tmp_path / "tp.json"
    entry = {"null": 10.0}
    tp.write_text(
        json.dumps(
            {t: {"('ResNet-18 (batch size 16)', 1)": entry} for t in ("v100", "p100", "k80")}
        )
    )
    trace = tmp_path / "t.tsv"
    line = "{m}\tcmd\tdir\t-n\t1\t1000\t1\t1\t-1.000000\t{t}"
    trace.write_text(
        line.format(m="ResNet-18 (batch size 16)", t="0.0")
        + "\n"
        + line.format(m="A3C", t="5.0")
        + "\n"
    )
    err = _bad(
        tmp_path,
        ["run", "--policy", "fifo", "--trace", str(trace), "--throughputs", str(tp)],
        capsys,
    )
    assert f"{trace}:2" in err and "job_type" in err and "A3C" in err


def test_throughput_file_missing_a_generated_job_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Generated runs check up front that every job type they can draw has throughputs."""
    tp = tmp_path / "tp.json"
    tp.write_text(json.dumps({t: {"('A3C', 1)": {"null": 1.0}} for t in ("v100", "p100", "k80")}))
    err = _bad(
        tmp_path, ["run", "--policy", "fifo", "--rate", "1", "--throughputs", str(tp)], capsys
    )
    assert str(tp) in err and "ResNet-18" in err


def test_malformed_throughput_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Invalid JSON in a throughput file: file and line."""
    tp = tmp_path / "tp.json"
    tp.write_text('{\n  "v100": {\n    oops\n}\n')
    err = _bad(
        tmp_path, ["run", "--policy", "fifo", "--rate", "1", "--throughputs", str(tp)], capsys
    )
    assert f"{tp}:3" in err


def test_failed_run_leaves_an_earlier_output_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run that fails on bad input does not damage the output of an earlier run."""
    out = tmp_path / "r"
    code, _, _ = run_cli(["run", "--policy", "fifo", *SMALL, "--quiet", "--out", str(out)], capsys)
    assert code == 0
    before = (out / "result.json").read_bytes()
    code, _, _ = run_cli(["run", "--policy", "fifo", "--rate", "-2", "--out", str(out)], capsys)
    assert code == 2
    assert (out / "result.json").read_bytes() == before


def test_policies_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    """`hetsim policies` names every registered policy."""
    code, stdout, _ = run_cli(["policies"], capsys)
    assert code == 0
    for name in ("fifo", "fifo_perf", "max_min_fairness", "max_min_fairness_perf"):
        assert name in stdout
