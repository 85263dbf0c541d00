"""Re-simulating a run and checking its event stream against the recorded one.

:func:`verify` rebuilds the :class:`~des.config.SimConfig` stored in ``result.json``,
checks the trace input against its recorded SHA-256, and runs the simulation again
with its events rendered exactly as ``hetsim run --events`` renders them. Each event
is compared with the next line of ``events.jsonl`` the moment it is produced; the
first difference stops the re-run (it never runs to the end to find it) and is
reported with its index, simulated time, event name, the first field that differs and
both values. Differences in the code fingerprint or package versions recorded in the
result are returned as notes, so that a difference can be explained.

The re-run drops the wall-clock budget (``timeout_s``): a run that ended on it is
compared up to its ``wall_clock_timeout`` line.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import structlog

from des.config import SimConfig, config_from_dict
from des.provenance import code_fingerprint, file_sha256, package_versions
from des.simulation import Simulation
from hetsim.errors import InputError
from hetsim.eventlog import trace_processors

END = "(end of the trace)"


@dataclass(frozen=True)
class Difference:
    """The first event where the re-run and the recording part."""

    index: int  # 0-based; the recorded file's line is index + 1
    sim_time: float | None
    event: str | None
    field: str | None  # None: one side has no event here
    recorded: Any
    rerun: Any

    def describe(self) -> str:
        where = f"event {self.index} (line {self.index + 1})"
        t = "?" if self.sim_time is None else f"{self.sim_time:.6f} s"
        if self.field is None:
            return f"{where} at sim time {t}: recorded {self.recorded}, re-run {self.rerun}"
        return (
            f"{where} at sim time {t}, event '{self.event}', field '{self.field}': "
            f"recorded {json.dumps(self.recorded)}, re-run {json.dumps(self.rerun)}"
        )


@dataclass
class Verification:
    """What the check found."""

    events_compared: int = 0
    difference: Difference | None = None
    notes: list[str] = field(default_factory=list)
    stopped_at_timeout: bool = False
    wall_s: float = 0.0

    @property
    def identical(self) -> bool:
        return self.difference is None


class _Stop(BaseException):
    """Raised from inside the re-run to end it at the first difference (a
    BaseException, so that no ``except Exception`` in the simulator swallows it)."""


def _first_field(recorded: dict[str, Any], rerun: dict[str, Any]) -> tuple[str, Any, Any]:
    for key in [*recorded, *(k for k in rerun if k not in recorded)]:
        a, b = recorded.get(key, "(absent)"), rerun.get(key, "(absent)")
        if a != b or type(a) is not type(b):
            return key, a, b
    return "(field order)", list(recorded), list(rerun)


class StreamComparer:
    """A structlog logger that compares each rendered line with the recording's next."""

    def __init__(self, recorded: TextIO, outcome: Verification) -> None:
        self.recorded = recorded
        self.outcome = outcome

    def _compare(self, line: str) -> None:
        outcome = self.outcome
        index = outcome.events_compared
        expected = self.recorded.readline()
        if expected.endswith("\n"):
            expected = expected[:-1]
        if expected == line:
            outcome.events_compared += 1
            return
        mine = json.loads(line)
        if not expected:
            outcome.difference = Difference(
                index, mine.get("sim_time"), mine.get("event"), None, END, mine.get("event")
            )
            raise _Stop
        try:
            theirs = json.loads(expected)
        except json.JSONDecodeError:
            theirs = {"event": "(not JSON)", "sim_time": None}
        if theirs.get("event") == "wall_clock_timeout":
            outcome.stopped_at_timeout = True
            raise _Stop
        key, a, b = _first_field(theirs, mine)
        outcome.difference = Difference(
            index, theirs.get("sim_time"), theirs.get("event"), key, a, b
        )
        raise _Stop

    msg = info = warning = error = critical = debug = _compare

    def __call__(self, *_: Any) -> StreamComparer:  # the logger factory is the logger
        return self


def _provenance_notes(stored: dict[str, Any] | None) -> list[str]:
    if not stored:
        return ["result.json records no provenance (made before hetsim recorded it)"]
    notes = []
    fp = code_fingerprint()
    if stored.get("code_fingerprint") != fp:
        notes.append(
            f"simulator code differs: fingerprint {stored.get('code_fingerprint')} "
            f"in the run, {fp} now"
        )
    now = package_versions()
    for name, version in (stored.get("packages") or {}).items():
        if now.get(name) != version:
            notes.append(f"package {name}: {version} in the run, {now.get(name)} now")
    return notes


def load_config(run_dir: Path) -> tuple[SimConfig, dict[str, Any]]:
    """The run's stored configuration and its result; InputError on a bad file."""
    path = run_dir / "result.json"
    if not path.is_file():
        raise InputError("no such file (is this a hetsim run directory?)", source=str(path))
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
        return config_from_dict(result["config"]), result
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", source=str(path), line=exc.lineno) from None
    except KeyError:
        raise InputError("missing", source=str(path), field="config") from None
    except (ValueError, TypeError) as exc:
        raise InputError(str(exc), source=str(path), field="config") from None


def _check_inputs(config: SimConfig, provenance: dict[str, Any] | None, source: str) -> None:
    trace = config.workload.trace_path
    for path, key in (
        (trace, "trace_sha256"),
        (config.workload.throughputs_path, "throughputs_sha256"),
    ):
        if path is None:
            continue
        if not Path(path).is_file():
            raise InputError("the run's input file is missing", source=path, field=key)
        want = (provenance or {}).get(key)
        if want is not None and file_sha256(path) != want:
            raise InputError(
                f"the file changed since the run (its SHA-256 is not {want[:16]}..., "
                f"recorded in {source})",
                source=path,
                field=key,
            )


def verify(run_dir: str | Path) -> Verification:
    """Re-runs the run in ``run_dir`` and compares its events as they are produced."""
    root = Path(run_dir)
    events = root / "events.jsonl"
    if not events.is_file():
        raise InputError("no events.jsonl (run with --events to write one)", source=str(root))
    config, result = load_config(root)
    provenance = result.get("provenance")
    _check_inputs(config, provenance, str(root / "result.json"))
    config = dataclasses.replace(config, timeout_s=None)
    outcome = Verification(notes=_provenance_notes(provenance))
    started = time.perf_counter()
    saved = structlog.get_config()
    with events.open(encoding="utf-8") as fh:
        comparer = StreamComparer(fh, outcome)
        structlog.configure(
            processors=trace_processors(),
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=comparer,
            cache_logger_on_first_use=False,
        )
        try:
            Simulation(config).run()
            extra = fh.readline()
            if extra:
                ev = json.loads(extra)
                outcome.difference = Difference(
                    outcome.events_compared,
                    ev.get("sim_time"),
                    ev.get("event"),
                    None,
                    ev.get("event"),
                    END,
                )
        except _Stop:
            pass
        finally:
            structlog.configure(**saved)
    outcome.wall_s = time.perf_counter() - started
    return outcome
