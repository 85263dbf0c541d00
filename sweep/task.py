"""One sweep run, as executed in a worker process (local pool or Dask worker).

:func:`run_one` is the only thing shipped to workers: it takes a frozen
:class:`~des.config.SimConfig` and returns a JSON-ready record, whatever happens
inside. A saturated or timed-out run is a result; an exception becomes an
``error`` record with its traceback, so the sweep goes on. Workers are separate
processes that start with structlog's default (print everything) output, so the
task silences the per-event trace before running: a sweep's record of a run is
its result, and ``hetsim run --events`` replays any point in full.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import socket
import time
import traceback
from pathlib import Path
from typing import Any

import structlog

from des.config import SimConfig
from des.provenance import code_fingerprint
from des.result import build_result
from des.simulation import Simulation
from scheduler import plugins
from workloads import ThroughputTable, load_throughputs

STATUSES = ("ok", "saturated", "timeout", "error")


def simulator_fingerprint() -> str:
    """A hash of the simulator's code and data (the packages that decide a result), so
    that a sweep never reuses a record made by different simulation code."""
    return code_fingerprint()


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_fingerprint(config: SimConfig) -> str:
    """The simulator's fingerprint with the run's own inputs outside it (a trace file,
    a plugin policy's source), so that a changed input is never answered by an old
    record."""
    files = [config.workload.trace_path]
    if plugins.is_reference(config.policy):
        files.append(plugins.source_file(config.policy))
    inputs = [Path(name) for name in files if name is not None and Path(name).is_file()]
    if not inputs:
        return simulator_fingerprint()
    digest = hashlib.sha256(simulator_fingerprint().encode())
    for path in inputs:
        stat = path.stat()
        digest.update(_file_digest(str(path.resolve()), stat.st_mtime_ns, stat.st_size).encode())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def _throughputs(path: str | None) -> ThroughputTable:
    return load_throughputs(path)


def _silence_trace() -> None:
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )


def status_of(result: dict[str, Any]) -> str:
    """``saturated`` or ``timeout`` when the run ended early for that reason, else ``ok``."""
    if result["saturated"]:
        return "saturated"
    if result["end_reason"] == "timeout":
        return "timeout"
    return "ok"


def run_one(config: SimConfig) -> dict[str, Any]:
    """Simulates ``config``; never raises for a failure of the run itself."""
    _silence_trace()
    started = time.perf_counter()
    record: dict[str, Any] = {"status": "error", "error": None, "traceback": None}
    try:
        outcome = Simulation(config, throughputs=_throughputs(config.workload.throughputs_path))
        result = build_result(outcome.run())
        record.update(status=status_of(result), result=result)
    except Exception as exc:  # a crashed run is a record, not the end of the sweep
        record.update(
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
            result=None,
        )
    record["worker"] = {"host": socket.gethostname(), "wall_s": time.perf_counter() - started}
    record["simulator"] = run_fingerprint(config)
    return record
