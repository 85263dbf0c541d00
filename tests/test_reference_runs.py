"""Golden regression: ``--quirks gavel`` against the reference simulator's own runs.

For each case of ``tests/data/reference_runs`` (the reference, Gavel c4fa400, run on a
trace written by ``hetsim trace``; see tests/reference_golden.py), hetsim writes the same
trace again, runs it with quirks, and must place the same jobs on the same GPU types in
every round the reference logged, start every round at the very same time, and average
the band's JCT within 0.2% of the reference. Where the cases say so, the GPU ids must
agree as well. Slow (about six minutes in all): run with ``-m slow``; CI runs it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.reference_golden import digest, hetsim_rounds, load
from workloads import GeneratorConfig, load_throughputs
from workloads.generator import generate_n
from workloads.trace import write_trace

# Case -> (compare GPU ids too, rounds expected identical: None = every logged round).
EXPECTED: dict[str, tuple[bool, int | None]] = {
    "g1": (True, None),  # single-GPU agnostic LAS
    "g2": (True, None),  # multi-GPU LAS-perf, with the reference's failed job 2293
    "g3": (True, None),  # multi-GPU FTF-perf: every round up to the reference's crash
    "g4": (True, None),  # multi-GPU agnostic LAS
    "g5": (True, None),  # multi-GPU FIFO-perf
    "g6": (True, None),  # single-GPU FTF-perf
}


def _run(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict, Path]:
    golden = load(case)
    trace = tmp_path / "trace.tsv"
    config = GeneratorConfig(
        rate_per_hour=golden["rate"], seed=golden["seed"], multi_gpu=golden["multi_gpu"]
    )
    write_trace(trace, generate_n(config, load_throughputs(), golden["jobs"]))
    assert hashlib.sha256(trace.read_bytes()).hexdigest() == golden["trace_sha256"]
    lo, hi = golden["band"]
    if golden["crash_time_s"] is not None:
        # The reference crashed (ECOS failed) before its band finished: end our run soon
        # after, once the jobs it had dispatched by then are done.
        lo, hi = 0, 1155
    out = tmp_path / "run"
    code, _, err = run_cli(
        [
            "run",
            "--trace",
            str(trace),
            "--policy",
            golden["policy"],
            "--cluster",
            "36:36:36",
            "--seed",
            str(golden["seed"]),
            "--window",
            f"{lo}:{hi}",
            "--quirks",
            "gavel",
            "--events",
            "--quiet",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    return golden, out


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_quirks_place_every_round_as_the_reference(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same round starts, same (job, type) and GPU placements, same band average."""
    golden, out = _run(case, tmp_path, capsys)
    with_ids, identical = EXPECTED[case]
    expected = golden["rounds"] if identical is None else golden["rounds"][:identical]
    with open(out / "events.jsonl") as f:
        ours = list(hetsim_rounds(f))
    # The reference logs the placements of one more round before it notices that its
    # band is done; hetsim ends the run instead.
    assert len(ours) >= len(expected) - 1, f"{case}: {len(ours)} rounds, not {len(expected)}"
    for k, ((ref_time, by_type, by_ids), (start, placed)) in enumerate(
        zip(expected, ours, strict=False)
    ):
        assert start == float(ref_time), f"{case}: round {k} starts at {start}, not {ref_time}"
        assert digest(placed, False) == by_type, f"{case}: round {k} at {ref_time} differs"
        if with_ids:
            assert digest(placed, True) == by_ids, f"{case}: GPU ids of round {k} differ"
    result = json.loads((out / "result.json").read_text())
    if golden["crash_time_s"] is not None:
        assert result["solver"]["fallbacks"] >= 1  # where the reference crashed, hetsim hands over
        return
    lo, hi = golden["band"]
    assert sorted(j for j in result["jobs_failed"] if lo <= j < hi) == golden["failed"]
    if golden["band_average_s"] is not None:
        assert result["avg_jct_s"] == pytest.approx(golden["band_average_s"], rel=2e-3)
        assert result["window_jobs_completed"] == len(golden["band_jct_s"])
