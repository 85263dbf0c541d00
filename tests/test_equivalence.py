"""The equivalence guard: short contended runs give today's events.jsonl byte for byte.

Each case of ``tests/equivalence_golden.py`` (single-GPU LAS-perf in the default mode and
under ``--quirks gavel``, one run to the end of its window, multi-GPU LAS-perf, agnostic
LAS, multi-GPU finish-time fairness, FIFO-perf, multi-GPU on 4-GPU servers, packed LAS
with and without quirks, and Gandiva) is run
through ``hetsim run --events`` and compared with its golden in ``tests/data/equivalence/``:
the sha256 of events.jsonl (and of state.json), and result.json's JCTs, window counts,
rounds, utilisation and solver counts (never its wall times). A failing case names itself,
the first event line that differs (field, golden value, new value) and how to reproduce
it. An optimisation must pass unchanged; an intentional change of behaviour regenerates
the goldens with ``python -m tests.equivalence_golden [CASE ...]`` and says so in its
commit.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from scheduler import mechanism
from tests import equivalence_golden
from tests.equivalence_golden import (
    CASES,
    GOLDEN_DIR,
    Case,
    Outcome,
    case_named,
    compare,
    first_difference,
    golden_events,
    golden_paths,
    load_golden,
    main,
    report,
    run_case,
    sha256,
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_run_matches_its_golden(case: Case) -> None:
    """The case's events.jsonl, state.json and result.json behaviour equal the golden's."""
    golden = load_golden(case.name)
    problems = compare(case, run_case(case), golden)
    assert not problems, report(case, problems, golden)


@pytest.mark.parametrize("chunk", [1, 3])
@pytest.mark.parametrize("name", ["packed_quirks", "gandiva_quirks"])
def test_the_pair_walk_in_small_chunks_matches_its_golden(
    name: str, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pair walk sorts lazily, leaving out entries the walk would pass over: in
    chunks of 1 or 3 (a new chunk, and its leaving out, at almost every entry) the runs
    are the goldens, made when the walk sorted every entry. (Every round walks lazily
    here: none sorts all its entries at once.)"""
    monkeypatch.setattr(mechanism, "WALK_CHUNK", chunk)
    monkeypatch.setattr(mechanism, "PAIR_BATCH_MAX", 0)
    case = case_named(name)
    golden = load_golden(case.name)
    problems = compare(case, run_case(case), golden)
    assert not problems, report(case, problems, golden)


@pytest.mark.parametrize("batch_max", [0, 10**9])
@pytest.mark.parametrize("name", ["packed", "packed_quirks", "gandiva_quirks"])
def test_pair_rounds_sorted_at_once_or_walked_lazily_match_their_golden(
    name: str, batch_max: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every pair round sorting all its types' entries at once (``_pair_candidates``),
    or none of them (a lazy walk per type), gives the golden run: the two are one walk."""
    monkeypatch.setattr(mechanism, "PAIR_BATCH_MAX", batch_max)
    calls: list[int] = []
    batched = mechanism._pair_candidates

    def counted(*args: Any) -> list[list[int]]:
        calls.append(1)
        return batched(*args)

    monkeypatch.setattr(mechanism, "_pair_candidates", counted)
    case = case_named(name)
    golden = load_golden(case.name)
    problems = compare(case, run_case(case), golden)
    assert not problems, report(case, problems, golden)
    assert bool(calls) == bool(batch_max)


def test_goldens_are_complete_and_consistent() -> None:
    """Every case has a golden, and each stored trace is the one its hash names."""
    names = {c.name for c in CASES}
    stored = {p.name.removesuffix(".json") for p in GOLDEN_DIR.glob("*.json")}
    assert stored == names
    for name in names:
        golden = load_golden(name)
        events = golden_events(name)
        assert sha256(events) == golden["events_sha256"], name
        assert events.count(b"\n") == golden["events_lines"], name
        assert golden["result"]["rounds"] >= 300, name  # a few hundred rounds at least


def test_cases_exercise_contention() -> None:
    """The goldens preempt and move jobs and solve many programs: they guard the hot path."""
    by_policy: dict[str, int] = {}
    for case in CASES:
        events = golden_events(case.name).decode().splitlines()
        names = [json.loads(line)["event"] for line in events]
        by_policy[case.name] = names.count("job_preempted")
        if "fifo" not in case.name:
            assert names.count("allocation_solved") >= 50, case.name
    assert all(n >= 100 for name, n in by_policy.items() if "fifo" not in name), by_policy
    ends = {load_golden(c.name)["result"]["end_reason"] for c in CASES}
    assert {"window_complete", "stopped_at"} <= ends


def _outcome(events: bytes, golden_name: str) -> Outcome:
    golden = load_golden(golden_name)
    return Outcome(events=events, state=None, result=dict(golden["result"]))


def test_a_changed_field_is_named_with_its_line() -> None:
    """One field changed in one line: the report names the case, the line, the field and
    both values, and the command that reproduces it."""
    case = case_named("fifo_perf")
    golden = load_golden(case.name)
    lines = golden_events(case.name).decode().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if '"job_placed"' in line)
    event = json.loads(lines[index])
    event["gpus"] = [g + 1 for g in event["gpus"]]
    lines[index] = json.dumps(event) + "\n"
    outcome = Outcome(
        events="".join(lines).encode(),
        state=None if golden["state_sha256"] is None else b"{}",
        result=dict(golden["result"]),
    )
    problems = compare(case, outcome, golden)
    text = report(case, problems, golden)
    assert f"'{case.name}'" in text
    assert f"line {index + 1}" in text
    assert "field 'gpus'" in text
    assert json.dumps(event["gpus"]) in text
    assert "state.json differs" in text
    assert "hetsim run --policy fifo_perf" in text
    assert "python -m tests.equivalence_golden fifo_perf" in text


def test_a_shorter_or_longer_trace_and_a_changed_jct_are_reported() -> None:
    """A trace that stops early (or runs on) and a JCT that moved are each reported."""
    golden_bytes = golden_events("fifo_perf")
    head = b"".join(golden_bytes.splitlines(keepends=True)[:10])
    assert "only the golden trace goes on" in first_difference(golden_bytes, head)
    assert "only the now trace goes on" in first_difference(head, golden_bytes)
    case = case_named("fifo_perf")
    golden = load_golden(case.name)
    outcome = _outcome(golden_bytes, case.name)
    outcome.result["avg_jct_s"] = golden["result"]["avg_jct_s"] + 1e-9
    state = None if golden["state_sha256"] is None else b"?"
    problems = compare(case, Outcome(outcome.events, state, outcome.result), golden)
    assert any("'avg_jct_s'" in p for p in problems)
    assert not any("events.jsonl" in p for p in problems)


def test_the_golden_script_refuses_an_unknown_case(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m tests.equivalence_golden NAME`` with an unknown name: one line, exit 2,
    no golden touched."""
    before = {p: p.read_bytes() for p in GOLDEN_DIR.iterdir()}
    assert main(["no_such_case"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no equivalence case 'no_such_case'" in err
    assert {p: p.read_bytes() for p in GOLDEN_DIR.iterdir()} == before


def test_golden_traces_are_stored_deterministically() -> None:
    """The gzip files carry no timestamp or name, so regenerating unchanged goldens
    leaves git with nothing to commit."""
    for case in CASES:
        raw = golden_paths(case.name)[1].read_bytes()
        assert raw[4:8] == b"\0\0\0\0", case.name  # MTIME
        assert raw[3] & 0x08 == 0, case.name  # no FNAME
        assert gzip.decompress(raw)


def _fake_outcome(events: bytes) -> Outcome:
    result = {"end_reason": "stopped_at", "rounds": 3, "avg_jct_s": 1.5, "solver": {"solves": 2}}
    return Outcome(events=events, state=b'{"round": 3}', result=result)


def test_the_golden_script_writes_what_the_test_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regenerating one case writes its trace and its state (gzip) and its summary, which
    the comparison then accepts, and a changed line is then reported against the new
    golden."""
    events = b'{"event": "run_started", "sim_time": 0.0}\n{"event": "run_ended", "sim_time": 1.0}\n'
    monkeypatch.setattr(equivalence_golden, "GOLDEN_DIR", tmp_path)
    monkeypatch.setattr(equivalence_golden, "run_case", lambda case: _fake_outcome(events))
    assert main(["fifo_perf"]) == 0
    assert "fifo_perf: stopped_at, 3 rounds, 2 events" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fifo_perf.events.jsonl.gz",
        "fifo_perf.json",
        "fifo_perf.state.json.gz",
    ]
    case = case_named("fifo_perf")
    golden = load_golden("fifo_perf")
    assert golden["events_lines"] == 2 and golden["command"].startswith("hetsim run --policy")
    assert golden["result"]["solver"]["solves"] == 2 and "wall_time_s" not in golden["result"]
    assert compare(case, _fake_outcome(events), golden) == []
    changed = events.replace(b"1.0}", b"2.0}")
    problems = compare(case, _fake_outcome(changed), golden)
    assert len(problems) == 1 and "line 2" in problems[0] and "field 'sim_time'" in problems[0]


def test_the_golden_script_refuses_a_case_whose_two_runs_differ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two runs of a case that differ: exit 1 naming the case and the line, nothing written."""
    runs = iter([b'{"event": "a", "sim_time": 0.0}\n', b'{"event": "b", "sim_time": 0.0}\n'])
    monkeypatch.setattr(equivalence_golden, "GOLDEN_DIR", tmp_path)
    monkeypatch.setattr(equivalence_golden, "run_case", lambda case: _fake_outcome(next(runs)))
    assert main(["fifo_perf"]) == 1
    err = capsys.readouterr().err
    assert "case fifo_perf is not deterministic" in err and "field 'event'" in err
    assert list(tmp_path.iterdir()) == []


def test_a_state_apart_in_its_last_bits_is_the_same_state() -> None:
    """state.json is compared by its sha, and when that differs field by field: values
    apart in the last bits (BLAS kernels differ by CPU) are the same state; a value
    apart beyond STATE_RTOL, a changed count, a missing key or a changed type is named
    with its path and both values."""
    golden = json.dumps(
        {"round": 3, "jobs": [{"job_id": 5, "allocation": {"v100": 0.42378307827188155}}]}
    ).encode()

    def with_value(value: object, key: str = "v100", job_id: object = 5) -> bytes:
        doc = {"round": 3, "jobs": [{"job_id": job_id, "allocation": {key: value}}]}
        return json.dumps(doc).encode()

    differ = equivalence_golden.state_difference
    assert differ(golden, golden) is None
    assert differ(golden, with_value(0.42378307830000000)) is None
    far = differ(golden, with_value(0.4237835))
    assert far is not None and ".jobs[0].allocation.v100" in far and "0.4237835" in far
    assert "job_id" in (differ(golden, with_value(0.4, job_id=6)) or "")
    assert "keys" in (differ(golden, with_value(0.4, "p100")) or "")
    same = 0.42378307827188155
    assert "golden 5, now 5.0" in (differ(golden, with_value(same, job_id=5.0)) or "")
    assert "not JSON" in (differ(golden, b"{") or "")
    nan = b'{"x": NaN, "y": Infinity}'
    assert differ(nan, nan) is None


def test_a_state_golden_is_compared_field_by_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored golden state that differs from a run's only in its last bits passes the
    comparison; one that differs beyond the tolerance fails it, naming the field."""
    case = case_named("fifo_perf")
    golden = load_golden(case.name)
    stored = equivalence_golden.golden_state(case.name)
    assert stored is not None and sha256(stored) == golden["state_sha256"]
    events = golden_events(case.name)
    state = json.loads(stored)
    job = state["jobs"][0]
    job["arrival_s"] = job["arrival_s"] * (1 + 1e-12)
    near = Outcome(events=events, state=json.dumps(state).encode(), result=dict(golden["result"]))
    assert compare(case, near, golden) == []
    job["arrival_s"] = job["arrival_s"] * (1 + 1e-6)
    far = Outcome(events=events, state=json.dumps(state).encode(), result=dict(golden["result"]))
    problems = compare(case, far, golden)
    assert len(problems) == 1 and ".jobs[0].arrival_s" in problems[0]
