"""Tests for the trace readers: every format on its real sample or fixture, detection,
bad rows with file, line and field, --skip-bad-rows, and streaming memory."""

from __future__ import annotations

import itertools
import json
import re
import tracemalloc
from pathlib import Path

import pytest

from hetsim.errors import InputError
from tests.trace_files import CLUSTER, FIXTURES, shared, write_csv
from workloads import ThroughputTable
from workloads.traces import TraceJobs, TraceOptions, detect_format
from workloads.traces.formats import get_format

ITP_HEADER = "job_id,submission_time,duration,num_gpu"


def jobs_of(path: Path, fmt: str, throughputs: ThroughputTable, **options: object) -> TraceJobs:
    return TraceJobs(path, fmt, TraceOptions(**options), throughputs, CLUSTER)  # type: ignore[arg-type]


def where(path: Path, line: int, field: str) -> str:
    return re.escape(f"{path}:{line}: field '{field}'")


@pytest.mark.parametrize(
    ("relative", "fmt"),
    [
        ("microsoft_itp/cluster01.csv", "itp"),
        ("gavel_philly/0e4a51.trace", "gavel7"),
        ("tiresias/60_job.csv", "tiresias"),
        ("alibaba_openb_2023/openb_pod_list_default.csv", "alibaba-openb"),
    ],
)
def test_real_samples_are_detected(relative: str, fmt: str) -> None:
    """Each real sample's format is told from its first line."""
    assert detect_format(shared(relative)) == fmt


def test_fixtures_are_detected() -> None:
    """The Philly JSON and the Helios CSV are told from their first line."""
    assert detect_format(FIXTURES / "philly_cluster_job_log.json") == "philly"
    assert detect_format(FIXTURES / "helios_cluster_log.csv") == "helios"


def test_unknown_format_asks_for_trace_format(tmp_path: Path) -> None:
    """A first line no reader knows is one error naming the file and --trace-format."""
    path = write_csv(tmp_path / "x.csv", "a,b,c", ["1,2,3"])
    with pytest.raises(InputError, match=r"x\.csv:1: field 'trace_format'.*--trace-format"):
        detect_format(path)


def test_itp_cluster04_whole(throughputs: ThroughputTable) -> None:
    """ITP cluster04: 15,802 jobs, GPU counts above 8 rounded to 8, arrivals from 0."""
    trace = jobs_of(shared("microsoft_itp/cluster04.csv"), "itp", throughputs)
    jobs = list(trace)
    assert len(jobs) == trace.stats.jobs == 15_802
    assert jobs[0].arrival_time == 0.0
    assert trace.stats.gpu_counts_rounded == {"16->8": 182, "32->8": 254, "64->8": 6}
    assert {j.scale_factor for j in jobs} == {1, 2, 4, 8}
    assert all(b.arrival_time >= a.arrival_time for a, b in itertools.pairwise(jobs))
    assert trace.summary()["span_h"] == pytest.approx((5142627 - 5810) / 3600)


def test_gavel7_keeps_the_traces_job_types_and_steps(throughputs: ThroughputTable) -> None:
    """gavel7 jobs keep their job type and total steps; arrival times are the file's."""
    path = shared("gavel_philly/23dbec.trace")
    jobs = list(jobs_of(path, "gavel7", throughputs))
    first = path.read_text().splitlines()[0].split("\t")
    assert len(jobs) == 9
    assert (jobs[0].model, jobs[0].total_steps, jobs[0].scale_factor) == (
        first[0],
        float(first[4]),
        int(first[6]),
    )
    assert jobs[1].arrival_time == 11.0


def test_tiresias_sample_and_milliseconds(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """The Tiresias sample (CRLF) reads; the same jobs in ms with extra and reordered
    columns give the same jobs with --time-unit ms."""
    sample = shared("tiresias/60_job.csv")
    jobs = list(jobs_of(sample, "tiresias", throughputs))
    assert len(jobs) == 60
    assert (jobs[1].arrival_time, jobs[1].duration_s) == (30.0, 147.0)
    lines = sample.read_text().splitlines()[1:]
    rows = []
    for line in lines:
        job_id, gpus, submit, _iters, model, duration, _ = line.split(",")
        rows.append(f"{duration}000,extra,{gpus},{int(submit) * 1000},{job_id},{model}")
    other = write_csv(
        tmp_path / "ms.csv", "duration,their_column,num_gpu,submit_time,job_id,model_name", rows
    )
    again = list(jobs_of(other, "tiresias", throughputs, time_unit="ms"))
    assert again == jobs


def test_time_unit_ms_only_for_tiresias(throughputs: ThroughputTable) -> None:
    """--time-unit ms on a format with seconds only is refused, naming the option."""
    with pytest.raises(InputError, match="--time-unit: field 'time_unit'"):
        jobs_of(FIXTURES / "helios_cluster_log.csv", "helios", throughputs, time_unit="ms")


def test_alibaba_phases_fractions_and_cpu(throughputs: ThroughputTable) -> None:
    """Alibaba pods: Pending never ran, Running dropped by default (kept on request, to
    the trace's end), CPU-only dropped, fractional GPUs counted as whole ones."""
    path = shared("alibaba_openb_2023/openb_pod_list_default.csv")
    trace = jobs_of(path, "alibaba-openb", throughputs)
    stats = trace.stats
    assert stats.rows == 8152
    assert stats.dropped["never_ran"] == 897
    assert stats.dropped["running"] == 5193
    assert stats.kept["failed"] == 1870
    assert stats.jobs == 8152 - 897 - 5193 - stats.dropped["cpu_only"]
    assert stats.changed["fractional_gpu_as_whole"] > 0
    kept = jobs_of(path, "alibaba-openb", throughputs, running="keep", fractional="drop")
    assert kept.stats.kept["running"] == 5193
    assert kept.stats.dropped["fractional_gpu"] >= stats.changed["fractional_gpu_as_whole"]
    assert "fractional_gpu_as_whole" not in kept.stats.changed
    first = next(iter(kept))
    assert first.duration_s == 12537496.0  # openb-pod-0000: scheduled at 0, deleted at the end


def test_philly_fixture(throughputs: ThroughputTable) -> None:
    """Philly: GPU count of the first attempt, duration summed over attempts, a job with
    no attempt never ran, a running job dropped by default and kept to the trace's end."""
    path = FIXTURES / "philly_cluster_job_log.json"
    trace = jobs_of(path, "philly", throughputs)
    jobs = list(trace)
    assert [j.scale_factor for j in jobs] == [2, 1, 8, 4]  # 3 GPUs rounded to 4
    assert [j.duration_s for j in jobs] == [7200.0, 3600.0, 600.0, 3600.0]
    assert [j.arrival_time for j in jobs] == [0.0, 3600.0, 5400.0, 10800.0]
    assert trace.stats.dropped == {"never_ran": 1, "running": 1}
    assert trace.stats.kept == {"failed": 1, "killed": 1}
    kept = list(jobs_of(path, "philly", throughputs, running="keep"))
    assert kept[-1].duration_s == 1200.0  # 13:40 to the last recorded time, 14:00


def test_philly_vc_filter_and_failed_drop(throughputs: ThroughputTable) -> None:
    """--vc keeps one virtual cluster; --failed drop removes its failed job."""
    path = FIXTURES / "philly_cluster_job_log.json"
    trace = jobs_of(path, "philly", throughputs, vcs=("b436b2",), running="keep")
    assert [j.scale_factor for j in trace] == [8, 1]
    assert trace.stats.dropped["other_vc"] == 3
    with pytest.raises(InputError, match="no job of the trace is left"):
        jobs_of(path, "philly", throughputs, vcs=("b436b2",), failed="drop")


def test_helios_fixture(throughputs: ThroughputTable) -> None:
    """Helios: states mapped, CPU-only and zero-duration jobs dropped, 3 and 16 GPUs
    rounded, killed jobs dropped on request."""
    path = FIXTURES / "helios_cluster_log.csv"
    trace = jobs_of(path, "helios", throughputs)
    assert [j.scale_factor for j in trace] == [1, 8, 8, 2, 4, 4]
    assert trace.stats.dropped == {"cpu_only": 1, "zero_duration": 1}
    assert trace.stats.kept == {"failed": 2, "killed": 3}
    assert trace.stats.gpu_counts_rounded == {"16->8": 1, "3->4": 1}
    no_killed = jobs_of(path, "helios", throughputs, killed="drop")
    assert no_killed.stats.dropped["killed"] == 3
    with pytest.raises(InputError, match=where(path, 4, "num_gpus") + ".*CPU-only"):
        jobs_of(path, "helios", throughputs, cpu_only="refuse")
    with pytest.raises(InputError, match=where(path, 5, "num_gpus") + ".*16 GPUs"):
        jobs_of(path, "helios", throughputs, gpu_rule="refuse")


BAD_ITP = [
    ("j2,,600,1", "submission_time", "is empty"),
    ("j2,100,-5,1", "duration", "must be >= 0"),
    ("j2,100,nan,1", "duration", "must be finite"),
    ("j2,100,abc,1", "duration", "must be a number"),
    ("j2,100,600,1.5", "num_gpu", "whole number"),
    ("j2,100,600", "fields", "expected 4 fields, found 3"),
    ("j2,5,600,1", "submit time", "sorted by submit time"),
]


@pytest.mark.parametrize(("row", "field", "message"), BAD_ITP)
def test_bad_itp_rows(
    tmp_path: Path, throughputs: ThroughputTable, row: str, field: str, message: str
) -> None:
    """A bad row is one error naming the file, line and field; --skip-bad-rows counts it."""
    path = write_csv(tmp_path / "t.csv", ITP_HEADER, ["j1,10,600,1", row, "j3,200,700,2"])
    with pytest.raises(InputError, match=where(path, 3, field) + ".*" + re.escape(message)):
        jobs_of(path, "itp", throughputs)
    trace = jobs_of(path, "itp", throughputs, skip_bad_rows=True)
    assert trace.stats.bad_rows == 1
    assert trace.stats.first_bad_row is not None and field in trace.stats.first_bad_row
    assert [j.duration_s for j in trace] == [600.0, 700.0]


def test_bad_dates_and_nulls(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """Unparseable Helios dates and null Philly times name their line and field."""
    helios = FIXTURES / "helios_cluster_log.csv"
    lines = helios.read_text().splitlines()
    lines[3] = lines[3].replace("2020-04-01 00:20:00", "2020-13-45 00:20:00", 1)
    bad = tmp_path / "helios.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=where(bad, 4, "submit_time") + ".*YYYY-MM-DD"):
        jobs_of(bad, "helios", throughputs)
    data = json.loads((FIXTURES / "philly_cluster_job_log.json").read_text())
    data[1]["submitted_time"] = None
    philly = tmp_path / "philly.json"
    philly.write_text(json.dumps(data, indent=1))
    line = json.dumps(data, indent=1).splitlines().index(" {", 2) + 1
    with pytest.raises(InputError, match=where(philly, line, "submitted_time") + ".*null"):
        jobs_of(philly, "philly", throughputs)


def test_broken_json_names_the_line(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """A JSON list cut short is one error with the line where decoding failed."""
    text = (FIXTURES / "philly_cluster_job_log.json").read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(text[: text.index('"Failed"')])
    with pytest.raises(InputError, match=re.escape(f"{cut}:") + r"\d+: not valid JSON"):
        jobs_of(cut, "philly", throughputs)


def test_missing_column_names_it(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """A header without a needed column is an error at line 1 naming the column."""
    path = write_csv(tmp_path / "t.csv", "job_id,num_gpu,submit_time", ["1,1,0"])
    with pytest.raises(InputError, match=where(path, 1, "duration")):
        jobs_of(path, "tiresias", throughputs)


def test_unknown_format_name() -> None:
    """An unknown --trace-format lists the known ones."""
    with pytest.raises(InputError, match="known: gavel, itp, gavel7"):
        get_format("slurm")


def _itp_file(path: Path, rows: int) -> Path:
    with path.open("w") as f:
        f.write(ITP_HEADER + "\n")
        for i in range(rows):
            f.write(f"job-{i},{i * 30},{600 + (i * 7919) % 90000},{(1, 2, 4, 8, 16)[i % 5]}\n")
    return path


def _peak_bytes(path: Path, throughputs: ThroughputTable) -> tuple[int, int]:
    tracemalloc.start()
    try:
        trace = jobs_of(path, "itp", throughputs)
        count = sum(1 for _ in trace)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_streams(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """Peak memory reading 8,000 rows is that of 1,000 rows (plus a little), not 8x."""
    small = _peak_bytes(_itp_file(tmp_path / "small.csv", 1_000), throughputs)
    large = _peak_bytes(_itp_file(tmp_path / "large.csv", 8_000), throughputs)
    assert (small[0], large[0]) == (1_000, 8_000)
    assert large[1] < small[1] * 1.5 + 64_000


@pytest.mark.slow
def test_reading_400k_rows_streams(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """A generated 400,000-row trace reads in under 1 MB of peak memory (tracemalloc)."""
    count, peak = _peak_bytes(_itp_file(tmp_path / "big.csv", 400_000), throughputs)
    assert count == 400_000
    assert peak < 1_000_000
