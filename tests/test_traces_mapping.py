"""Tests for how trace jobs become hetsim jobs: the GPU-count rule, the seeded template
draw, total steps, mapping files, selection and arrival scaling."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetsim.errors import InputError
from tests.trace_files import CLUSTER, FIXTURES, write_csv
from workloads import ThroughputTable, read_trace, write_trace
from workloads.traces import TraceJobs, TraceOptions
from workloads.traces.catalog import Catalog, round_count

HEADER = "job_id,submission_time,duration,num_gpu"


def itp(tmp_path: Path, rows: list[tuple[int, int, int]]) -> Path:
    lines = [f"j{i},{submit},{duration},{gpus}" for i, (submit, duration, gpus) in enumerate(rows)]
    return write_csv(tmp_path / "itp.csv", HEADER, lines)


def trace(path: Path, table: ThroughputTable, **options: object) -> TraceJobs:
    return TraceJobs(path, "itp", TraceOptions(**options), table, CLUSTER)  # type: ignore[arg-type]


@given(
    count=st.integers(1, 4096),
    supported=st.sets(st.sampled_from([1, 2, 3, 4, 6, 8, 16]), min_size=1),
)
def test_round_count_is_nearest_supported(count: int, supported: set[int]) -> None:
    """The rounded count is supported, unchanged when supported, the largest above the
    largest, and no supported count is nearer in powers of two."""
    new = round_count(count, sorted(supported))
    assert new in supported
    if count in supported:
        assert new == count
    if count > max(supported):
        assert new == max(supported)
    else:
        gap = abs(math.log2(new) - math.log2(count))
        assert all(abs(math.log2(s) - math.log2(count)) >= gap - 1e-12 for s in supported)


def test_round_count_cases() -> None:
    """3 -> 4 (tie goes up), 12 -> 8 (no 16), 64 -> 8, 5 -> 4."""
    assert [round_count(c, [1, 2, 4, 8]) for c in (3, 5, 6, 12, 64)] == [4, 4, 8, 8, 8]


def test_catalog_counts_follow_the_throughput_file(throughputs: ThroughputTable) -> None:
    """Every template runs on 1 GPU; only distributed ones on 2, 4 and 8."""
    catalog = Catalog(throughputs, CLUSTER, "v100")
    assert catalog.counts == (1, 2, 4, 8)
    assert "A3C" in catalog.by_count[1] and "A3C" not in catalog.by_count[8]


def test_draw_is_seeded_and_steps_are_duration_times_throughput(
    tmp_path: Path, throughputs: ThroughputTable
) -> None:
    """The same seed draws the same templates, another seed others; every template runs
    at the job's GPU count and total steps = duration x its V100 throughput."""
    rows = [(i * 100, 600 + 37 * i, (1, 2, 4, 8)[i % 4]) for i in range(200)]
    path = itp(tmp_path, rows)
    first = list(trace(path, throughputs, seed=3))
    assert first == list(trace(path, throughputs, seed=3))
    assert [j.model for j in first] != [j.model for j in trace(path, throughputs, seed=4)]
    for job, (_, duration, gpus) in zip(first, rows, strict=True):
        rate = throughputs.isolated(job.model, gpus, ("v100",))[0]
        assert job.scale_factor == gpus
        assert job.total_steps == pytest.approx(duration * rate)
        assert throughputs.has(job.model, gpus, CLUSTER)
    k80 = list(trace(path, throughputs, seed=3, reference_type="k80"))
    assert k80[0].total_steps == pytest.approx(
        rows[0][1] * throughputs.isolated(k80[0].model, 1, ("k80",))[0]
    )


def test_gpu_rules(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """3 and 64 GPUs: rounded (counted per change), dropped, or refused with the line."""
    path = itp(tmp_path, [(0, 600, 1), (10, 600, 3), (20, 600, 64), (30, 600, 2)])
    rounded = trace(path, throughputs)
    assert [j.scale_factor for j in rounded] == [1, 4, 8, 2]
    assert rounded.stats.gpu_counts_rounded == {"3->4": 1, "64->8": 1}
    dropped = trace(path, throughputs, gpu_rule="drop")
    assert [j.scale_factor for j in dropped] == [1, 2]
    assert dropped.stats.dropped == {"gpu_count": 2}
    with pytest.raises(InputError, match=r"itp\.csv:3: field 'num_gpus': .*3 GPUs"):
        trace(path, throughputs, gpu_rule="refuse")


def test_selection_and_scaling(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """Time range (hours after the first job), job count, arrival scale and target rate."""
    rows = [(1000 + 1800 * i, 600, 1) for i in range(20)]  # one job every half hour
    path = itp(tmp_path, rows)
    ranged = trace(path, throughputs, time_range_h=(1.0, 3.0))
    jobs = list(ranged)
    assert [j.arrival_time for j in jobs] == [0.0, 1800.0, 3600.0, 5400.0]
    assert ranged.stats.dropped == {"before_time_range": 2}
    assert ranged.stats.stopped == "time_range_end"
    assert len(list(trace(path, throughputs, max_jobs=5))) == 5
    half = list(trace(path, throughputs, arrival_scale=0.5))
    assert half[1].arrival_time == 900.0
    target = trace(path, throughputs, target_rate=6.0)
    assert target.summary()["native_rate_per_h"] == pytest.approx(2.0)
    assert target.arrival_scale == pytest.approx(1 / 3)
    assert target.summary()["replay_rate_per_h"] == pytest.approx(6.0)
    assert list(target)[-1].arrival_time == pytest.approx(19 * 600.0)


def test_passes_agree(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """The counts of the first pass are the jobs the second yields."""
    for path, fmt in (
        (FIXTURES / "helios_cluster_log.csv", "helios"),
        (FIXTURES / "philly_cluster_job_log.json", "philly"),
    ):
        for running in ("drop", "keep"):
            jobs = TraceJobs(path, fmt, TraceOptions(running=running), throughputs, CLUSTER)
            assert len(list(jobs)) == jobs.stats.jobs


def test_mapping_file_by_job_id_and_by_model(tmp_path: Path, throughputs: ThroughputTable) -> None:
    """A mapping file names job types by job id or by the trace's model name; jobs it
    does not name are drawn (counted), or refused with --unmapped refuse."""
    path = itp(tmp_path, [(0, 600, 1), (10, 600, 4)])
    mapping = write_csv(tmp_path / "map.csv", "job_id,model", ["j1,LM (batch size 20)"])
    mapped = trace(path, throughputs, mapping_path=str(mapping))
    assert list(mapped)[1].model == "LM (batch size 20)"
    assert mapped.stats.models == {"drawn": 1, "mapped": 1}
    with pytest.raises(InputError, match=r"itp\.csv:2: field 'job_id': 'j0' is not in"):
        trace(path, throughputs, mapping_path=str(mapping), unmapped="refuse")
    bad = write_csv(tmp_path / "bad.csv", "job_id,model", ["j1,GPT-5"])
    with pytest.raises(InputError, match=r"bad\.csv:2: field 'model': 'GPT-5'"):
        trace(path, throughputs, mapping_path=str(bad))
    tiresias = write_csv(
        tmp_path / "t.csv",
        "job_id,num_gpu,submit_time,duration,model_name",
        ["1,1,0,100,vgg19", "2,2,5,100,resnet50"],
    )
    by_model = write_csv(
        tmp_path / "m.csv", "trace_model,model", ["resnet50,ResNet-50 (batch size 64)"]
    )
    jobs = TraceJobs(
        tiresias, "tiresias", TraceOptions(mapping_path=str(by_model)), throughputs, CLUSTER
    )
    assert list(jobs)[1].model == "ResNet-50 (batch size 64)"
    assert jobs.stats.ignored == {"trace_model_names": 1}


def test_convert_round_trips_through_the_gavel_tsv(
    tmp_path: Path, throughputs: ThroughputTable
) -> None:
    """The converted TSV reads back as the same jobs (steps truncated as Gavel writes)."""
    jobs = list(
        TraceJobs(FIXTURES / "helios_cluster_log.csv", "helios", TraceOptions(), throughputs)
    )
    out = tmp_path / "out.tsv"
    assert write_trace(out, jobs) == len(jobs)
    again = read_trace(out, throughputs)
    assert [(j.model, j.scale_factor, j.arrival_time) for j in again] == [
        (j.model, j.scale_factor, j.arrival_time) for j in jobs
    ]
    assert [j.total_steps for j in again] == [float(int(j.total_steps)) for j in jobs]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"gpu_rule": "floor"}, "gpu_rule"),
        ({"time_range_h": (3.0, 1.0)}, "time_range_h"),
        ({"arrival_scale": 2.0, "target_rate": 1.0}, "target_rate"),
        ({"max_jobs": 0}, "max_jobs"),
        ({"target_rate": -1.0}, "target_rate"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], field: str) -> None:
    """Every bad option is one error naming it."""
    with pytest.raises(InputError, match=f"field '{field}'"):
        TraceOptions(**options).check()  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 50_000), st.integers(0, 70)),
        min_size=1,
        max_size=40,
    ),
    scale=st.floats(0.1, 10.0),
    seed=st.integers(0, 5),
)
def test_trace_jobs_invariants(
    tmp_path_factory: pytest.TempPathFactory,
    throughputs: ThroughputTable,
    rows: list[tuple[int, int, int]],
    scale: float,
    seed: int,
) -> None:
    """Whatever the rows: every row is a job or counted as dropped, ids count up from 0,
    arrivals start at 0 and are the submit gaps times the scale, GPU counts are ones
    the throughput file has, and the first pass counts the jobs the second yields."""
    rows = sorted(rows)
    path = itp(tmp_path_factory.mktemp("p"), rows)
    try:
        trace_jobs = trace(path, throughputs, arrival_scale=scale, seed=seed)
    except InputError as exc:
        assert "no job of the trace is left" in str(exc)
        assert all(duration == 0 or gpus == 0 for _, duration, gpus in rows)
        return
    jobs = list(trace_jobs)
    stats = trace_jobs.stats
    assert len(jobs) == stats.jobs == len(rows) - sum(stats.dropped.values())
    assert [j.job_id for j in jobs] == list(range(len(jobs)))
    kept = [r for r in rows if r[1] > 0 and r[2] > 0]
    assert jobs[0].arrival_time == 0.0
    for job, (submit, duration, gpus) in zip(jobs, kept, strict=True):
        assert job.arrival_time == pytest.approx((submit - kept[0][0]) * scale)
        assert job.duration_s == duration
        assert job.scale_factor in (1, 2, 4, 8)
        assert job.scale_factor == gpus or str(gpus) + "->" in "".join(stats.gpu_counts_rounded)
