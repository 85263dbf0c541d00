"""The GPUVIZ01 codec: round trips, sizes, alignment, ids, damaged files, real runs."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cli_helpers import run_cli
from tests.viz_fixtures import synthetic
from viz.decode import VizFormatError, decode, read_header, validate
from viz.encode import encode
from viz.format import HEADER_SIZE, IDLE, JOB_FINISHED, JOB_SIZE, JOB_UNRUNNABLE, align8, round_size
from viz.layout import JOB_DTYPE, decode_queue, encode_queues, job_stats_dtype, round_dtype
from viz.rundata import RunData, read_run


def _assert_same(a: RunData, b: RunData) -> None:
    for name, value in vars(a).items():
        other = getattr(b, name)
        if isinstance(value, np.ndarray):
            assert value.shape == other.shape, name
            assert np.array_equal(value, other, equal_nan=value.dtype.kind == "f"), name
        elif name == "queues":
            assert [q.tolist() for q in value] == [q.tolist() for q in other]
        else:
            assert value == other, name


@pytest.mark.parametrize("compact", [True, False])
def test_round_trip_of_a_synthetic_run(compact: bool) -> None:
    """Every field decodes to what was encoded, with either queue encoding."""
    run = synthetic(0)
    data = encode(run, compact_queue=compact)
    _assert_same(run, validate(data))
    assert read_header(data).compact_queue is compact


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    rounds=st.integers(0, 40),
    counts=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    first_id=st.sampled_from([0, 65_530, 1_000_000, 4_000_000_000]),
    idle=st.floats(0.0, 1.0),
    compact=st.booleans(),
)
def test_round_trips_and_layout_hold_for_any_run(
    seed: int, rounds: int, counts: list[int], first_id: int, idle: float, compact: bool
) -> None:
    """Round trip, the size formula, 8-byte alignment of every section, file size."""
    run = synthetic(seed, rounds, tuple(counts), first_id, idle_fraction=idle)
    data = encode(run, compact_queue=compact)
    _assert_same(run, validate(data))
    h = read_header(data)
    assert (
        h.round_size
        == align8(28 + 2 * len(counts) + 4 * sum(counts))
        == round_size(len(counts), sum(counts))
    )
    assert h.round_size % 8 == 0 and len(data) % 8 == 0 and h.file_size == len(data)
    assert all(offset % 8 == 0 for _, offset, _ in h.sections())
    assert h.rounds_offset + rounds * h.round_size <= len(data)


def test_the_reference_cluster_has_472_byte_rounds_and_16_byte_jobs() -> None:
    """36:36:36: 28 + 2*3 + 4*108 = 466, rounded up to 472; job records are 16 bytes."""
    assert round_size(3, 108) == 472 == round_dtype(3, 108).itemsize
    assert JOB_DTYPE.itemsize == JOB_SIZE == 16
    assert job_stats_dtype(3).itemsize == 32


def test_round_k_is_at_its_fixed_offset() -> None:
    """Round k's time and GPU cells are read straight from rounds_offset + k * size."""
    run = synthetic(4, rounds=20)
    data = encode(run)
    h = read_header(data)
    m = len(run.type_names)
    for k in (0, 7, 19):
        base = h.rounds_offset + k * h.round_size
        assert struct.unpack_from("<d", data, base)[0] == run.round_time[k]
        assert struct.unpack_from("<I", data, base + 8)[0] == k + 1
        cells = struct.unpack_from(f"<{h.num_gpus}I", data, base + 28 + 2 * m)
        assert list(cells) == run.round_gpu_job[k].tolist()


def test_ids_above_65535_and_idle_gpus_survive() -> None:
    """uint32 ids (up to 4e9) and the idle sentinel decode exactly."""
    run = synthetic(5, first_id=4_000_000_000, idle_fraction=0.5)
    back = decode(encode(run))
    assert back.job_ids.min() >= 4_000_000_000
    assert (back.round_gpu_job == IDLE).any()
    assert set(back.round_gpu_job.ravel().tolist()) <= {*run.job_ids.tolist(), IDLE}


def test_empty_queues_and_an_empty_run() -> None:
    """Rounds with nobody waiting have empty lists; a run of 0 rounds is a valid file."""
    run = synthetic(6)
    assert any(q.size == 0 for q in run.queues)
    assert [q.tolist() for q in decode(encode(run)).queues] == [q.tolist() for q in run.queues]
    empty = synthetic(7, rounds=0)
    back = validate(encode(empty))
    assert back.num_rounds == 0 and back.queues == []


@given(st.lists(st.lists(st.integers(0, 2**32 - 1), unique=True, max_size=30), max_size=10))
def test_compact_queue_lists_decode_to_the_ids(lists: list[list[int]]) -> None:
    """Varint deltas decode to the same ascending ids, edges (0, 127, 128, 2^32-1) too."""
    queues = [np.array(sorted(q), dtype=np.uint32) for q in [*lists, [0, 127, 128, 2**32 - 1]]]
    blob, index = encode_queues(queues, compact=True)
    for k, q in enumerate(queues):
        got = decode_queue(blob[int(index[k]) : int(index[k + 1])], compact=True)
        assert got.tolist() == q.tolist()


def test_encoding_is_deterministic() -> None:
    """The same data gives the same bytes."""
    assert encode(synthetic(8)) == encode(synthetic(8))


@pytest.mark.parametrize("cut", [0, 10, HEADER_SIZE - 1, HEADER_SIZE, 1000, -8, -1])
def test_truncated_files_are_rejected_naming_section_and_offset(cut: int) -> None:
    """A file cut short anywhere is refused with the section and offset."""
    data = encode(synthetic(9))
    with pytest.raises(VizFormatError, match=r"section 'header' at offset \d+"):
        validate(data[:cut] if cut >= 0 else data[: len(data) + cut])


def test_every_corrupted_byte_is_caught() -> None:
    """Flipping any byte of the file makes the validator fail (sampled over the file),
    naming the section that holds it (or an exact record offset inside it)."""
    data = encode(synthetic(10))
    h = read_header(data)
    sections = h.sections()
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(data), 120, replace=False).tolist():
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        with pytest.raises(VizFormatError) as err:
            validate(bytes(bad))
        if pos >= HEADER_SIZE:
            holder = [n for n, off, size in sections if off <= pos < off + size]
            assert err.value.section in (*holder, "padding"), (pos, str(err.value))


def test_wrong_magic_is_named() -> None:
    """Another file type is refused at offset 0."""
    data = b"NOTVIZ01" + encode(synthetic(11))[8:]
    with pytest.raises(VizFormatError, match=r"section 'header' at offset 0: magic"):
        decode(data)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("viz") / "run"
    from hetsim.cli import main

    main(
        ["run", "--policy", "max_min_fairness_perf", "--cluster", "4:4:4", "--rate", "1.0",
         "--multi-gpu", "--gpus-per-server", "2", "--max-jobs", "40", "--events", "--quiet",
         "--out", str(out)]
    )  # fmt: skip
    return out


def test_a_real_run_encodes_to_a_valid_file_matching_its_trace(small_run: Path) -> None:
    """The file of a run agrees with its telemetry and its result."""
    import json

    from hetsim.telemetry_file import read_telemetry

    run = read_run(small_run)
    back = validate(encode(run))
    _assert_same(run, back)
    tel = read_telemetry(small_run / "telemetry.parquet")
    result = json.loads((small_run / "result.json").read_text())
    assert back.num_rounds == result["rounds"] == len(tel["round"])
    assert np.array_equal(back.round_time, tel["time_s"])
    for k, name in enumerate(back.type_names):
        assert np.array_equal(back.round_busy[:, k], tel[f"busy_{name}"])
    waiting = np.array([q.size for q in back.queues])
    assert np.array_equal(waiting, tel["waiting_jobs"])
    assert int((back.job_flags & JOB_FINISHED).astype(bool).sum()) == result["jobs_completed"]
    gpu_type = np.repeat(np.arange(len(back.counts)), back.counts)
    for row, job in enumerate(back.job_ids.tolist()):  # rounds run per type, counted plainly
        on = back.round_gpu_job == job
        want = [int(on[:, gpu_type == k].any(axis=1).sum()) for k in range(len(back.counts))]
        assert back.job_rounds_run[row].tolist() == want, job
    unrunnable = (back.job_flags & JOB_UNRUNNABLE).astype(bool)
    assert unrunnable.any() and np.array_equal(unrunnable, back.job_gpus > 4)  # 4 GPUs a type


def test_cli_encode_inspect_validate(
    small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """encode writes a file that validates; the same run encodes byte-identically;
    a damaged file is one line with section and offset and exit 2."""
    a, b = tmp_path / "a.viz.bin", tmp_path / "b.viz.bin"
    for path in (a, b):
        code, out, err = run_cli(["viz", "encode", str(small_run), "-o", str(path)], capsys)
        assert code == 0, err
    assert a.read_bytes() == b.read_bytes()
    code, out, _ = run_cli(["viz", "inspect", str(a)], capsys)
    assert code == 0 and "rounds of 88 bytes" in out  # 28 + 2*3 + 4*12 = 82, rounded to 88
    code, out, _ = run_cli(["viz", "validate", str(a)], capsys)
    assert code == 0 and "valid GPUVIZ01" in out
    (tmp_path / "cut.bin").write_bytes(a.read_bytes()[:-100])
    code, _, err = run_cli(["viz", "validate", str(tmp_path / "cut.bin")], capsys)
    assert code == 2 and "section 'header' at offset 56" in err and len(err.splitlines()) == 1


def test_cli_refuses_a_run_without_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run without --events cannot be encoded: one line, exit 2, nothing written."""
    out = tmp_path / "noev"
    run_cli(["run", "--policy", "fifo", "--cluster", "2:2:2", "--rate", "1", "--max-jobs", "5",
             "--quiet", "--out", str(out)], capsys)  # fmt: skip
    code, _, err = run_cli(["viz", "encode", str(out), "-o", str(tmp_path / "x.bin")], capsys)
    assert code == 2 and "events.jsonl" in err and "--events" in err
    assert not (tmp_path / "x.bin").exists()


def test_cli_serve_refuses_bad_arguments(
    small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """serve: a missing directory, three runs or a bad port are one line and exit 2."""
    for argv in (
        ["viz", "serve", str(tmp_path / "missing")],
        ["viz", "serve", str(small_run), str(small_run), str(small_run)],
        ["viz", "serve", str(small_run), "--port", "70000"],
    ):
        code, _, err = run_cli(argv, capsys)
        assert code == 2 and err.startswith("hetsim: error:") and len(err.splitlines()) == 1
