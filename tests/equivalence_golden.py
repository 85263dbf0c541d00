"""The equivalence goldens: short contended runs whose event trace must not change.

An optimisation of the simulator must leave what it simulates untouched: the same
``events.jsonl``, byte for byte, and the same JCTs. Each case below is one ``hetsim run``
command line (a small cluster loaded past its knee, so the LP, its tie-break and
preemption all work every round); its golden in ``tests/data/equivalence/`` holds

- ``<case>.json``: the command, the sha256 and line count of ``events.jsonl`` (and of
  ``state.json`` for a run stopped with ``--stop-at``), the behavioural fields of
  ``result.json`` (JCTs, window counts, rounds, utilisation, solver counts; never wall
  times), and where the golden was made (commit, package versions);
- ``<case>.events.jsonl.gz``: the trace itself, so that a failing test names the first
  line that differs rather than two hashes.

``python -m tests.equivalence_golden [CASE ...]`` (re)writes the goldens from the code
as it is (every case, or the ones named), running each case twice and refusing to write
a golden whose two runs differ. Run it only for an intentional change of behaviour, and
say so in the commit.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from des.provenance import package_versions
from hetsim.cli import main as hetsim_main
from hetsim.verify import Difference, _first_field

GOLDEN_DIR = Path(__file__).parent / "data" / "equivalence"
REGENERATE = "python -m tests.equivalence_golden"
NEWLINE = b"\n"


@dataclass(frozen=True)
class Case:
    """One short run: a name and the ``hetsim run`` options (``--out`` and ``--events``
    are added)."""

    name: str
    args: tuple[str, ...]
    about: str


def _point(policy: str, cluster: str, rate: str, *extra: str) -> tuple[str, ...]:
    return ("--policy", policy, "--cluster", cluster, "--rate", rate, *extra)


# Single-GPU 4:4:4 at 1.5 jobs/h is well past the knee by hour 20 (about 90% busy,
# about 40 active jobs, a preemption every few rounds); 70 h is 701 rounds.
# Multi-GPU jobs, the first 80 of them measured, stopped at 70 h.
_MULTI = ("--multi-gpu", "--window", "0:80", "--stop-at", "70")
_SINGLE = _point("max_min_fairness_perf", "4:4:4", "1.5", "--window", "0:80", "--stop-at", "70")

CASES: tuple[Case, ...] = (
    Case("mmf_perf_single", _SINGLE, "single-GPU LAS-perf, default mode (tie-break)"),
    Case(
        "mmf_perf_single_quirks",
        (*_SINGLE, "--quirks", "gavel"),
        "the same under --quirks gavel (the reference's programs, no tie-break)",
    ),
    Case(
        "mmf_perf_window_end",
        _point("max_min_fairness_perf", "4:4:4", "0.8", "--window", "0:40"),
        "single-GPU LAS-perf run to the end of its window (window_complete)",
    ),
    Case(
        "mmf_perf_multi",
        _point("max_min_fairness_perf", "6:6:6", "1.4", *_MULTI),
        "multi-GPU LAS-perf",
    ),
    Case(
        "mmf_agnostic",
        _point("max_min_fairness", "4:4:4", "1.5", "--window", "0:80", "--stop-at", "70"),
        "agnostic LAS (shuffled type order each round)",
    ),
    Case(
        "ftf_perf_multi",
        _point("finish_time_fairness_perf", "6:6:6", "1.4", *_MULTI),
        "multi-GPU finish-time fairness (the cone program)",
    ),
    Case(
        "fifo_perf",
        _point("fifo_perf", "4:4:4", "1.5", "--window", "0:80", "--stop-at", "70"),
        "FIFO-perf (no LP)",
    ),
    Case(
        "mmf_perf_multi_servers4",
        _point(
            "max_min_fairness_perf",
            "8:8:8",
            "1.6",
            "--multi-gpu",
            "--gpus-per-server",
            "4",
            "--seed",
            "1",
            "--window",
            "0:80",
            "--stop-at",
            "70",
        ),
        "multi-GPU LAS-perf on 4-GPU servers (contiguous placement)",
    ),
    Case(
        "packed_quirks",
        _point(
            "max_min_fairness_packed",
            "4:4:4",
            "1.5",
            "--window",
            "0:80",
            "--stop-at",
            "70",
            "--quirks",
            "gavel",
        ),
        "packed LAS with quirks (job pairs: the pair walk, the pairs' book)",
    ),
    Case(
        "packed",
        _point("max_min_fairness_packed", "4:4:4", "1.5", "--window", "0:80", "--stop-at", "70"),
        "packed LAS, default mode (pairs with the tie-break)",
    ),
    Case(
        "gandiva_quirks",
        _point(
            "gandiva", "4:4:4", "2.5", "--window", "0:80", "--stop-at", "70", "--quirks", "gavel"
        ),
        "Gandiva with quirks (random pairing, its own pair bookkeeping)",
    ),
)

# result.json's behaviour: everything but wall times, provenance and the echo of the config
_RESULT_FIELDS = (
    "end_reason", "avg_jct_s", "jct_p50_s", "jct_p90_s", "jct_p99_s", "window",
    "window_jobs_completed", "window_jobs_total", "window_jobs_unfinished",
    "window_jobs_unrunnable", "window_jobs_failed", "saturated", "saturation_reason",
    "saturation_time_s", "utilization", "partial_servers", "jobs_arrived",
    "jobs_completed", "jobs_failed", "rounds", "sim_time_s",
)  # fmt: skip
_SOLVER_FIELDS = ("solves", "program_solves", "fallbacks", "failures", "by_solver")


@dataclass(frozen=True)
class Outcome:
    """What one run of a case produced."""

    events: bytes
    state: bytes | None
    result: dict[str, Any]


def case_named(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(f"no equivalence case '{name}' (cases: {', '.join(c.name for c in CASES)})")


def command_line(case: Case, out: str = "DIR") -> str:
    return " ".join(["hetsim", "run", *case.args, "--events", "--out", out])


def behaviour(result: dict[str, Any]) -> dict[str, Any]:
    """The fields of result.json that the simulation decides (no wall times)."""
    picked = {key: result.get(key) for key in _RESULT_FIELDS}
    solver = result.get("solver") or {}
    picked["solver"] = {key: solver.get(key) for key in _SOLVER_FIELDS}
    return picked


def run_case(case: Case) -> Outcome:
    """Runs the case through the command line (in this process) into a scratch directory."""
    with tempfile.TemporaryDirectory(prefix="hetsim-equiv-") as tmp:
        out = Path(tmp) / "run"
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                hetsim_main(["run", *case.args, "--events", "--quiet", "--out", str(out)])
        except SystemExit as exc:
            raise RuntimeError(
                f"equivalence case {case.name}: hetsim exited {exc.code}: {stderr.getvalue()}"
            ) from None
        state = out / "state.json"
        return Outcome(
            events=(out / "events.jsonl").read_bytes(),
            state=state.read_bytes() if state.is_file() else None,
            result=json.loads((out / "result.json").read_text(encoding="utf-8")),
        )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def golden_paths(name: str) -> tuple[Path, Path]:
    return GOLDEN_DIR / f"{name}.json", GOLDEN_DIR / f"{name}.events.jsonl.gz"


def state_path(name: str) -> Path:
    """The golden's state.json (for a case stopped with ``--stop-at``), gzipped."""
    return GOLDEN_DIR / f"{name}.state.json.gz"


def golden_state(name: str) -> bytes | None:
    path = state_path(name)
    return gzip.decompress(path.read_bytes()) if path.is_file() else None


# state.json holds the scheduler's state at full precision. Its last bits come through
# BLAS (the tie-break's polish solves small least-squares systems), and OpenBLAS picks
# its kernels by CPU: the same run on another processor gives the same events.jsonl but
# state values a few units in the 10th digit apart (7e-11 relative seen, AVX-512
# Intel kernels against AMD's). Values within this of the golden's are the same state.
STATE_RTOL = 1e-9
STATE_ATOL = 1e-12


def state_difference(golden: bytes, now: bytes) -> str | None:
    """The first field where two state.json files part (numbers beyond
    STATE_RTOL/STATE_ATOL, anything else at all), or None when they agree."""
    try:
        theirs, mine = json.loads(golden), json.loads(now)
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc}"
    return _first_state_difference(theirs, mine, "")


def _first_state_difference(a: Any, b: Any, path: str) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path or 'top level'}: keys {sorted(a)} in the golden, {sorted(b)} now"
        for key in a:
            found = _first_state_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} entries in the golden, {len(b)} now"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_state_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(a, float) and isinstance(b, float):
        if a == b or (math.isnan(a) and math.isnan(b)):
            return None
        if abs(a - b) <= STATE_ATOL + STATE_RTOL * max(abs(a), abs(b)):
            return None
    elif a == b and type(a) is type(b):
        return None
    return f"{path}: golden {json.dumps(a)}, now {json.dumps(b)}"


def load_golden(name: str) -> dict[str, Any]:
    meta_path, _ = golden_paths(name)
    golden: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    return golden


def golden_events(name: str) -> bytes:
    _, events_path = golden_paths(name)
    return gzip.decompress(events_path.read_bytes())


def _lines(data: bytes) -> Iterator[str]:
    yield from data.decode("utf-8").splitlines()


def first_difference(golden: bytes, now: bytes) -> str:
    """The first line where two event traces part, as one readable paragraph."""
    golden_lines, now_lines = list(_lines(golden)), list(_lines(now))
    for index, (a, b) in enumerate(zip(golden_lines, now_lines, strict=False)):
        if a == b:
            continue
        try:
            theirs, mine = json.loads(a), json.loads(b)
        except json.JSONDecodeError:
            return f"line {index + 1}: golden {a!r}, now {b!r}"
        key, was, is_now = _first_field(theirs, mine)
        diff = Difference(index, theirs.get("sim_time"), theirs.get("event"), key, was, is_now)
        return (
            diff.describe().replace("recorded", "golden").replace("re-run", "now")
            + f"\n  golden: {_clip(a)}\n  now:    {_clip(b)}"
        )
    n, m = len(golden_lines), len(now_lines)
    if n == m:
        return "the lines are equal; the bytes differ (line endings or a final newline)"
    longer, which = (golden_lines, "golden") if n > m else (now_lines, "now")
    return (
        f"the traces agree for {min(n, m)} lines; then only the {which} trace goes on "
        f"({max(n, m)} lines), with line {min(n, m) + 1}: {_clip(longer[min(n, m)])}"
    )


def _clip(line: str, width: int = 400) -> str:
    return line if len(line) <= width else line[:width] + " ..."


def package_notes(golden: dict[str, Any]) -> list[str]:
    """Package versions that differ from those the golden was made with."""
    now = package_versions()
    return [
        f"package {name}: {version} for the golden, {now.get(name)} now"
        for name, version in (golden.get("packages") or {}).items()
        if now.get(name) != version
    ]


def compare(case: Case, outcome: Outcome, golden: dict[str, Any]) -> list[str]:
    """Every way the run differs from its golden, each a readable paragraph (none: equal)."""
    problems = []
    if sha256(outcome.events) != golden["events_sha256"]:
        problems.append(
            f"events.jsonl differs (sha256 {sha256(outcome.events)[:16]}, golden "
            f"{golden['events_sha256'][:16]}): "
            + first_difference(golden_events(case.name), outcome.events)
        )
    state_sha = None if outcome.state is None else sha256(outcome.state)
    if state_sha != golden.get("state_sha256"):
        stored = golden_state(case.name)
        if stored is None or outcome.state is None:
            problems.append(
                f"state.json differs: sha256 {state_sha}, golden {golden['state_sha256']}"
            )
        elif (found := state_difference(stored, outcome.state)) is not None:
            problems.append(f"state.json differs: {found}")
    now = behaviour(outcome.result)
    for key, was in golden["result"].items():
        if now.get(key) != was:
            problems.append(
                f"result.json '{key}': golden {json.dumps(was)}, now {json.dumps(now.get(key))}"
            )
    return problems


def report(case: Case, problems: list[str], golden: dict[str, Any]) -> str:
    notes = package_notes(golden)
    lines = [
        f"equivalence case '{case.name}' ({case.about}) differs from its golden "
        f"(made at {golden.get('commit')}):",
        *(f"- {p}" for p in problems),
        f"reproduce: {command_line(case)}",
        *(f"note: {n}" for n in notes),
        f"an intentional change of behaviour regenerates the goldens: {REGENERATE} "
        f"{case.name} (say so in the commit)",
    ]
    return "\n".join(lines)


def _commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--",
                "des",
                "scheduler",
                "cluster",
                "workloads",
                "hetsim",
            ],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes to the simulator)" if dirty else "")


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _gzip(data: bytes) -> bytes:
    """Deterministic gzip (no name, no time stamp)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def write_golden(case: Case, outcome: Outcome, commit: str) -> None:
    meta = {
        "case": case.name,
        "about": case.about,
        "command": command_line(case),
        "events_sha256": sha256(outcome.events),
        "events_lines": outcome.events.count(NEWLINE),
        "state_sha256": None if outcome.state is None else sha256(outcome.state),
        "result": behaviour(outcome.result),
        "commit": commit,
        "packages": package_versions(),
    }
    meta_path, events_path = golden_paths(case.name)
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    _write_atomic(events_path, _gzip(outcome.events))
    if outcome.state is not None:
        _write_atomic(state_path(case.name), _gzip(outcome.state))
    else:
        state_path(case.name).unlink(missing_ok=True)
    _write_atomic(meta_path, (json.dumps(meta, indent=2) + "\n").encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", help="case names (default: every case)")
    args = parser.parse_args(argv)
    try:
        cases = [case_named(n) for n in args.cases] if args.cases else list(CASES)
    except KeyError as exc:
        print(f"{REGENERATE}: error: {exc.args[0]}", file=sys.stderr)
        return 2
    commit = _commit()
    for case in cases:
        first, second = run_case(case), run_case(case)
        if first.events != second.events or first.state != second.state:
            print(
                f"{REGENERATE}: error: case {case.name} is not deterministic: "
                + first_difference(first.events, second.events),
                file=sys.stderr,
            )
            return 1
        write_golden(case, first, commit)
        r = first.result
        print(
            f"{case.name}: {r['end_reason']}, {r['rounds']} rounds, "
            f"{first.events.count(NEWLINE)} events, avg JCT {r['avg_jct_s']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
