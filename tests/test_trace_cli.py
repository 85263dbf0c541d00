"""Tests for real traces on the command line and in scenario files: run, convert, bad
rows, what result.json records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from des.result import strip_wall_clock
from hetsim.errors import InputError
from sweep.spec import load_sweep
from tests.cli_helpers import run_cli
from tests.trace_files import FIXTURES, write_csv

HEADER = "job_id,submission_time,duration,num_gpu"


def small_itp(tmp_path: Path, bad: str | None = None) -> Path:
    rows = [
        f"j{i},{5000 + 900 * i},{600 + 300 * (i % 7)},{(1, 2, 4, 16)[i % 4]}" for i in range(30)
    ]
    if bad is not None:
        rows[10] = bad
    return write_csv(tmp_path / "itp.csv", HEADER, rows)


def run_args(trace: Path, out: Path, *extra: str, quiet: bool = True) -> list[str]:
    return [
        "run", "--policy", "max_min_fairness_perf", "--cluster", "8:8:8", "--trace", str(trace),
        "--out", str(out), *(["--quiet"] if quiet else []), *extra,
    ]  # fmt: skip


def test_run_records_the_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run on a real trace (format detected) records what reading it did and the
    effective options; the terminal summary says what was changed."""
    trace = small_itp(tmp_path)
    code, _, err = run_cli(run_args(trace, tmp_path / "r", "--target-rate", "8"), capsys)
    assert code == 0, err
    result = json.loads((tmp_path / "r" / "result.json").read_text())
    assert result["end_reason"] == "all_jobs_done"
    assert result["jobs_completed"] == 30
    summary = result["trace"]
    assert summary["format"] == "itp"
    assert summary["gpu_counts_rounded"] == {"16->8": 7}
    assert summary["replay_rate_per_h"] == pytest.approx(8.0)
    options = result["config"]["workload"]["trace_options"]
    assert (options["target_rate"], options["gpu_rule"], options["seed"]) == (8.0, "round", 0)
    assert result["config"]["workload"]["trace_format"] == "itp"
    code, out, _ = run_cli(
        run_args(trace, tmp_path / "r2", "--target-rate", "8", quiet=False), capsys
    )
    assert code == 0
    assert "GPU counts rounded: 16->8 7" in out
    again = json.loads((tmp_path / "r2" / "result.json").read_text())
    assert strip_wall_clock(again) == strip_wall_clock(result)


def test_bad_row_is_one_line_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad row ends the run before it starts: one line with file, line and field,
    exit 2, no output directory; --skip-bad-rows runs and counts it."""
    trace = small_itp(tmp_path, bad="j10,14000,-3,1")
    code, _, err = run_cli(run_args(trace, tmp_path / "r"), capsys)
    assert code == 2
    assert err.strip() == f"hetsim: error: {trace}:12: field 'duration': must be >= 0, not '-3'"
    assert not (tmp_path / "r").exists()
    code, _, err = run_cli(run_args(trace, tmp_path / "r", "--skip-bad-rows"), capsys)
    assert code == 0, err
    result = json.loads((tmp_path / "r" / "result.json").read_text())
    assert (result["trace"]["bad_rows"], result["jobs_arrived"]) == (1, 29)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--gpu-count-rule", "refuse"], "field 'num_gpus': no job type of the throughput"),
        (["--time-range", "5:1"], "--time-range: field 'time_range_h'"),
        (["--target-rate", "1", "--arrival-scale", "2"], "give arrival_scale or target_rate"),
        (["--vc", "a"], "has no virtual clusters"),
        (["--trace-format", "helios"], "header lacks column 'vc'"),
    ],
)
def test_bad_trace_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    """Bad or ill-fitting trace options are one line and exit 2."""
    code, _, err = run_cli(run_args(small_itp(tmp_path), tmp_path / "r", *extra), capsys)
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_trace_options_on_a_gavel_tsv_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Gavel TSV has its jobs fully given: trace options on it are an error."""
    tsv = tmp_path / "g.tsv"
    assert run_cli(["trace", "--rate", "2", "--jobs", "5", "-o", str(tsv)], capsys)[0] == 0
    code, _, err = run_cli(run_args(tsv, tmp_path / "r", "--gpu-count-rule", "drop"), capsys)
    assert code == 2 and "trace options apply to real-trace formats" in err


def test_convert_then_run_the_same_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """trace convert writes the Gavel TSV of the very jobs a run on the trace replays."""
    trace = small_itp(tmp_path)
    tsv = tmp_path / "out.tsv"
    code, out, err = run_cli(
        ["trace", "convert", str(trace), "--target-rate", "8", "--seed", "2", "-o", str(tsv)],
        capsys,
    )
    assert code == 0, err
    assert "wrote 30 jobs" in out and "16->8 7" in out
    assert len(tsv.read_text().splitlines()) == 30
    a = run_args(trace, tmp_path / "a", "--target-rate", "8", "--seed", "2")
    b = ["run", "--policy", "max_min_fairness_perf", "--cluster", "8:8:8", "--trace", str(tsv),
         "--out", str(tmp_path / "b"), "--quiet", "--seed", "2"]  # fmt: skip
    assert run_cli(a, capsys)[0] == 0 and run_cli(b, capsys)[0] == 0
    ra = json.loads((tmp_path / "a" / "result.json").read_text())
    rb = json.loads((tmp_path / "b" / "result.json").read_text())
    assert rb["jobs_completed"] == ra["jobs_completed"] == 30
    assert rb["avg_jct_s"] == pytest.approx(ra["avg_jct_s"], rel=1e-3)


def test_convert_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing input and an undetectable format are one line each, exit 2."""
    out = str(tmp_path / "o.tsv")
    code, _, err = run_cli(["trace", "convert", str(tmp_path / "no.csv"), "-o", out], capsys)
    assert code == 2 and "no such file" in err
    odd = write_csv(tmp_path / "odd.csv", "a,b", ["1,2"])
    code, _, err = run_cli(["trace", "convert", str(odd), "-o", out], capsys)
    assert code == 2 and "--trace-format" in err
    assert not Path(out).exists()


def scenario(tmp_path: Path, body: str) -> Path:
    trace = small_itp(tmp_path)
    path = tmp_path / "s.toml"
    path.write_text(
        f'name = "t"\ntrace_file = "{trace.name}"\npolicies = ["fifo_perf"]\n'
        f'rates = [4.0, 8.0]\nseeds = [0]\ncluster = "8:8:8"\n{body}',
        encoding="utf-8",
    )
    return path


def test_scenario_on_a_trace_file(tmp_path: Path) -> None:
    """A scenario's rates are the trace's replay rates and its seed the draw's."""
    spec = load_sweep(scenario(tmp_path, 'window = "5:25"\n[trace_options]\nmax_jobs = 25\n'))
    assert spec.trace_format == "itp" and spec.trace == "real"
    config = spec.config(spec.runs()[1])
    options = config.workload.trace_options
    assert options is not None
    assert (options.target_rate, options.max_jobs, options.seed) == (8.0, 25, 0)
    assert config.workload.trace_path == str(tmp_path / "itp.csv")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("", "window"),
        ('window = "5:25"\ntrace = "multi-gpu"\n', "trace"),
        ('window = "5:25"\n[trace_options]\ntarget_rate = 3\n', "trace_options.target_rate"),
        ('window = "5:25"\n[trace_options]\ngpu_rule = "x"\n', "trace_options.gpu_rule"),
        ('window = "5:25"\n[trace_options]\nvcs = "a"\n', "trace_options.vcs"),
    ],
)
def test_bad_trace_scenarios(tmp_path: Path, body: str, field: str) -> None:
    """Every error of a trace scenario names the file and the key."""
    with pytest.raises(InputError, match=rf"s\.toml.*field '{field}'"):
        load_sweep(scenario(tmp_path, body))


def test_bundled_itp04_scenario_loads() -> None:
    """The bundled ITP scenario reads its shipped trace (with the licence beside it)."""
    import scenarios

    path = scenarios.path_of("itp04")
    assert path is not None
    spec = load_sweep(path, quick=True)
    assert spec.trace_options is not None and spec.trace_options.max_jobs == 100
    assert (path.parent / "traces" / "LICENSE-microsoft-itp").is_file()
    assert FIXTURES.is_dir()


def test_a_changed_trace_file_is_not_answered_by_old_records(tmp_path: Path) -> None:
    """A sweep record on a trace is reused only while the trace file is the same."""
    from sweep.task import run_fingerprint, simulator_fingerprint

    spec = load_sweep(scenario(tmp_path, 'window = "5:25"\n'))
    config = spec.config(spec.runs()[0])
    before = run_fingerprint(config)
    assert before != simulator_fingerprint() and before == run_fingerprint(config)
    trace = tmp_path / "itp.csv"
    trace.write_text(trace.read_text().replace(",600,", ",601,", 1))
    assert run_fingerprint(config) != before
