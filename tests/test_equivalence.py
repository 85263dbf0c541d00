"""The equivalence guard: short contended runs give today's events.jsonl byte for byte.

Each case of ``tests/equivalence_golden.py`` (single-GPU LAS-perf in the default mode and
under ``--quirks gavel``, one run to the end of its window, multi-GPU LAS-perf, agnostic
LAS, multi-GPU finish-time fairness, FIFO-perf, and multi-GPU on 4-GPU servers) is run
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

import pytest

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
