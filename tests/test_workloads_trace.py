"""Tests for workloads.trace: reading and writing Gavel TSV traces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetsim.errors import InputError
from workloads import (
    GeneratorConfig,
    Job,
    ThroughputTable,
    format_job,
    generate_n,
    load_throughputs,
    read_trace,
    write_trace,
)
from workloads.trace import FIELDS

GOOD = "A3C\tpython3 main.py\tworkloads/rl\t--max_steps\t0\t1000\t1\t1\t-1.000000\t0.000000"
"""A well-formed line, used as the line before the bad one."""


@pytest.fixture(scope="module")
def table() -> ThroughputTable:
    """The shipped throughput table."""
    return load_throughputs()


def _line(**fields: str) -> str:
    values = dict(zip(FIELDS, GOOD.split("\t"), strict=True))
    values.update(fields)
    return "\t".join(values.values())


def _where(path: Path, line: int, field: str) -> str:
    return re.escape(f"{path}:{line}: field '{field}'")


def test_format_job_writes_reference_fields() -> None:
    """format_job writes ints truncated, SLO -1 for none, and times with %f."""
    job = Job(
        job_id=3,
        model="LM (batch size 5)",
        scale_factor=4,
        total_steps=1234.99,
        arrival_time=7152401.0094,
        command="python3 main.py",
        working_directory="lm",
        num_steps_arg="--steps",
    )
    assert format_job(job) == (
        "LM (batch size 5)\tpython3 main.py\tlm\t--steps\t1\t1234\t4\t1\t-1.000000\t7152401.009400"
    )
    assert format_job(Job(0, "A3C", 1, 5.0, 0.0, slo=2.5, needs_data_dir=False)).split("\t")[
        4:
    ] == ["0", "5", "1", "1", "2.500000", "0.000000"]


def test_format_job_rejects_tabs_in_text() -> None:
    """A tab or newline in a text field cannot be written to a TSV line."""
    with pytest.raises(ValueError, match="command"):
        format_job(Job(0, "A3C", 1, 5.0, 0.0, command="a\tb"))


def test_round_trip_of_generated_jobs(tmp_path: Path, table: ThroughputTable) -> None:
    """200 generated jobs survive write and read: models, counts, int steps, arrivals."""
    jobs = generate_n(GeneratorConfig(2.0, seed=0, multi_gpu=True), table, 200)
    path = tmp_path / "trace.txt"
    assert write_trace(path, jobs) == 200
    back = read_trace(path, table, ["v100", "p100", "k80"])
    assert [j.job_id for j in back] == list(range(200))
    assert [j.model for j in back] == [j.model for j in jobs]
    assert [j.scale_factor for j in back] == [j.scale_factor for j in jobs]
    assert [j.total_steps for j in back] == [int(j.total_steps) for j in jobs]
    for original, read in zip(jobs, back, strict=True):
        assert read.arrival_time == pytest.approx(original.arrival_time, abs=1e-6)
        assert read.command == original.command
        assert read.working_directory == original.working_directory
        assert read.num_steps_arg == original.num_steps_arg
        assert read.needs_data_dir == original.needs_data_dir
        assert read.priority_weight == 1.0
        assert read.slo is None
        assert read.duration_s is None


_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\t\n\r"),
    max_size=20,
)


@st.composite
def _jobs(draw: st.DrawFn) -> list[Job]:
    n = draw(st.integers(min_value=1, max_value=8))
    gaps = draw(st.lists(st.floats(0, 1e6), min_size=n, max_size=n))
    jobs = []
    now = 0.0
    for i, gap in enumerate(gaps):
        now += gap
        jobs.append(
            Job(
                job_id=i,
                model=draw(_text.filter(lambda s: s.strip() != "")),
                scale_factor=draw(st.integers(1, 64)),
                total_steps=draw(st.floats(1.0, 1e12)),
                arrival_time=now,
                priority_weight=float(draw(st.integers(1, 10))),
                slo=draw(st.none() | st.floats(0, 1e6)),
                command=draw(_text),
                working_directory=draw(_text),
                num_steps_arg=draw(_text),
                needs_data_dir=draw(st.booleans()),
            )
        )
    return jobs


@settings(max_examples=60, deadline=None)
@given(jobs=_jobs())
def test_round_trip_of_random_jobs(
    tmp_path_factory: pytest.TempPathFactory, jobs: list[Job]
) -> None:
    """Any writable jobs read back with the same fields, up to the format's rounding."""
    path = tmp_path_factory.mktemp("traces") / "t.tsv"
    write_trace(path, jobs)
    back = read_trace(path)
    assert len(back) == len(jobs)
    for original, read in zip(jobs, back, strict=True):
        assert (read.model, read.command, read.working_directory, read.num_steps_arg) == (
            original.model,
            original.command,
            original.working_directory,
            original.num_steps_arg,
        )
        assert read.needs_data_dir == original.needs_data_dir
        assert read.scale_factor == original.scale_factor
        assert read.total_steps == int(original.total_steps)
        assert read.priority_weight == original.priority_weight
        assert read.arrival_time == pytest.approx(original.arrival_time, abs=1e-6)
        if original.slo is None:
            assert read.slo is None
        else:
            assert read.slo == pytest.approx(original.slo, abs=1e-6)


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    """Blank lines are skipped; ids stay consecutive and line numbers stay true."""
    path = tmp_path / "t.tsv"
    path.write_text(f"\n{GOOD}\n\n   \n{_line(arrival_time='5.0')}\r\n\n", encoding="utf-8")
    jobs = read_trace(path)
    assert [(j.job_id, j.arrival_time) for j in jobs] == [(0, 0.0), (1, 5.0)]
    path.write_text(f"{GOOD}\n\n{_line(scale_factor='x')}\n", encoding="utf-8")
    with pytest.raises(InputError, match=_where(path, 3, "scale_factor")):
        read_trace(path)


BAD_LINES: list[tuple[str, str, str, str]] = [
    # (id, second line, field, message)
    ("too few fields", "A3C\tcmd\t0", "fields", "expected 10 tab-separated fields, found 3"),
    ("too many fields", GOOD + "\textra", "fields", "found 11"),
    ("steps not a number", _line(total_steps="many"), "total_steps", "must be a number"),
    ("steps zero", _line(total_steps="0"), "total_steps", "must be a number in (0,"),
    ("steps negative", _line(total_steps="-5"), "total_steps", "must be a number in (0,"),
    ("steps nan", _line(total_steps="nan"), "total_steps", "finite"),
    ("scale not integer", _line(scale_factor="1.5"), "scale_factor", "must be an integer"),
    ("scale zero", _line(scale_factor="0"), "scale_factor", "at least 1"),
    ("weight not number", _line(priority_weight="high"), "priority_weight", "a number"),
    ("slo not number", _line(SLO="soon"), "SLO", "must be a number"),
    ("arrival not number", _line(arrival_time="later"), "arrival_time", "must be a number"),
    ("arrival negative", _line(arrival_time="-1.0"), "arrival_time", "must be a number in [0,"),
    ("arrival infinite", _line(arrival_time="inf"), "arrival_time", "finite"),
    ("data dir 2", _line(needs_data_dir="2"), "needs_data_dir", "must be 0 or 1"),
    ("data dir word", _line(needs_data_dir="yes"), "needs_data_dir", "must be 0 or 1"),
    ("empty job type", _line(job_type=""), "job_type", "must not be empty"),
]


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [case[1:] for case in BAD_LINES],
    ids=[case[0] for case in BAD_LINES],
)
def test_bad_lines_name_file_line_and_field(
    tmp_path: Path, bad: str, field: str, message: str
) -> None:
    """A malformed second line raises a one-line InputError naming line 2 and the field."""
    path = tmp_path / "t.tsv"
    path.write_text(f"{GOOD}\n{bad}\n", encoding="utf-8")
    with pytest.raises(InputError, match=_where(path, 2, field) + ".*" + re.escape(message)):
        read_trace(path)


def test_decreasing_arrival_times_are_rejected(tmp_path: Path) -> None:
    """An arrival earlier than the previous line's is an error on the later line."""
    path = tmp_path / "t.tsv"
    lines = [_line(arrival_time="10.0"), _line(arrival_time="10.0"), _line(arrival_time="9.5")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=_where(path, 3, "arrival_time") + ".*must not decrease"):
        read_trace(path)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_trace_is_rejected(tmp_path: Path, content: str) -> None:
    """A file without any job line raises InputError naming the file."""
    path = tmp_path / "t.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(str(path)) + ".*no jobs"):
        read_trace(path)


def test_missing_trace_file_is_an_input_error(tmp_path: Path) -> None:
    """A trace that does not exist raises InputError naming it."""
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "none.tsv"))):
        read_trace(tmp_path / "none.tsv")


def test_job_unknown_to_throughputs_is_rejected(tmp_path: Path, table: ThroughputTable) -> None:
    """A (model, count) missing from the table names the trace line and the table's file."""
    path = tmp_path / "t.tsv"
    path.write_text(f"{GOOD}\n{_line(scale_factor='2')}\n", encoding="utf-8")
    read_trace(path)  # fine without a table
    expected = _where(path, 2, "job_type") + ".*" + re.escape(f"{table.source} lacks ('A3C', 2)")
    with pytest.raises(InputError, match=expected):
        read_trace(path, table)


def test_gpu_types_narrow_the_throughput_check(tmp_path: Path) -> None:
    """With gpu_types only those types must have the job; unknown types are rejected."""
    table = ThroughputTable.from_dict(
        {"v100": {"('A3C', 1)": {"null": 1.0}}, "k80": {"('B', 1)": {"null": 1.0}}},
        source="small.json",
    )
    path = tmp_path / "t.tsv"
    path.write_text(GOOD + "\n", encoding="utf-8")
    assert len(read_trace(path, table, ["v100"])) == 1
    with pytest.raises(InputError, match=_where(path, 1, "job_type") + ".*small.json lacks"):
        read_trace(path, table, ["v100", "k80"])
    with pytest.raises(InputError, match="no GPU type 'p100'"):
        read_trace(path, table, ["p100"])


@settings(max_examples=60, deadline=None)
@given(
    field=st.sampled_from(
        ["total_steps", "scale_factor", "priority_weight", "SLO", "arrival_time"]
    ),
    text=st.text(alphabet="abcxyz_!%, ", min_size=1, max_size=8),
    blank_lines=st.integers(min_value=0, max_value=3),
)
def test_non_numbers_in_numeric_fields(
    tmp_path_factory: pytest.TempPathFactory, field: str, text: str, blank_lines: int
) -> None:
    """Any non-numeric text in a numeric field is reported at its line and field."""
    path = tmp_path_factory.mktemp("bad") / "t.tsv"
    path.write_text(GOOD + "\n" * (1 + blank_lines) + _line(**{field: text}) + "\n")
    with pytest.raises(InputError, match=_where(path, 2 + blank_lines, field)):
        read_trace(path)


@settings(max_examples=30, deadline=None)
@given(count=st.integers(min_value=1, max_value=30).filter(lambda n: n != 10))
def test_wrong_field_counts(tmp_path_factory: pytest.TempPathFactory, count: int) -> None:
    """A line with any number of fields other than ten says how many it has."""
    path = tmp_path_factory.mktemp("bad") / "t.tsv"
    path.write_text("\t".join(["1"] * count) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=_where(path, 1, "fields") + f".*found {count}$"):
        read_trace(path)


def test_write_is_atomic_when_the_jobs_fail_midway(tmp_path: Path, table: ThroughputTable) -> None:
    """If the iterable raises, neither the trace nor a temporary file is left behind."""
    jobs = generate_n(GeneratorConfig(2.0), table, 10)

    def failing() -> Iterator[Job]:
        yield from jobs[:5]
        raise RuntimeError("generator broke")

    path = tmp_path / "t.tsv"
    with pytest.raises(RuntimeError, match="generator broke"):
        write_trace(path, failing())
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_trace(tmp_path: Path, table: ThroughputTable) -> None:
    """A failed rewrite leaves the previous trace intact; a good one replaces it."""
    jobs = generate_n(GeneratorConfig(2.0), table, 10)
    path = tmp_path / "t.tsv"
    write_trace(path, jobs[:3])
    before = path.read_bytes()
    bad = Job(99, "A3C", 1, 5.0, 1e9, command="tab\there")
    with pytest.raises(ValueError, match="tab"):
        write_trace(path, [*jobs, bad])
    assert path.read_bytes() == before
    assert write_trace(path, jobs) == 10
    assert len(read_trace(path)) == 10
    assert [p.name for p in tmp_path.iterdir()] == ["t.tsv"]


def test_a_trace_streams_and_a_scan_checks_every_line_first(
    tmp_path: Path, table: ThroughputTable
) -> None:
    """iter_trace yields jobs as it reads (the bad last line is reached only after the
    good ones); scan_trace checks the whole file, counting the first `limit` jobs;
    a run's workload refuses the file before its first job."""
    from cluster import parse_cluster
    from des.config import SimConfig, WorkloadConfig
    from des.simulation import Simulation
    from workloads.trace import iter_trace, scan_trace

    path = tmp_path / "t.tsv"
    model = "ResNet-50 (batch size 64)"
    lines = [
        _line(job_type=model, arrival_time=f"{i}.0", scale_factor=str(1 + i % 2)) for i in range(5)
    ]
    path.write_text("\n".join([*lines, _line(total_steps="x")]) + "\n", encoding="utf-8")
    stream = iter_trace(path)
    assert [next(stream).job_id for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(InputError, match=_where(path, 6, "total_steps")):
        next(stream)
    with pytest.raises(InputError, match=_where(path, 6, "total_steps")):
        scan_trace(path)
    config = SimConfig(
        policy="fifo",
        cluster=parse_cluster("2:2:2"),
        workload=WorkloadConfig(trace_path=str(path)),
        window=None,
    )
    with pytest.raises(InputError, match=_where(path, 6, "total_steps")):
        Simulation(config, throughputs=table)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    scan = scan_trace(path, table, ["v100", "p100", "k80"], limit=3)
    assert (scan.jobs, scan.largest_scale_factor) == (3, 2)
    assert scan_trace(path).jobs == 5
    assert read_trace(path) == list(iter_trace(path))
