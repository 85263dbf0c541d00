"""The Python API for notebooks: ``hetsim.run``, ``hetsim.load``, ``hetsim.sweep``.

``run`` takes the same options as ``hetsim run`` (as keyword arguments, validated the
same way) or a :class:`~des.config.SimConfig`, simulates, and returns a :class:`Result`;
with ``out=DIR`` it also writes ``DIR/result.json`` and ``DIR/events.jsonl`` exactly as
the command does. ``load(DIR)`` reads a finished run. ``sweep`` runs a scenario and
returns its results table. Tables are pandas DataFrames (``pip install 'hetsim[api]'``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from des.config import SimConfig
from des.result import build_result
from des.simulation import Simulation
from hetsim import replay
from hetsim.errors import InputError
from hetsim.eventlog import trace_processors, trace_writer_factory
from hetsim.jobs_file import JOBS_FILE, read_jobs, write_jobs
from hetsim.output import dumps
from hetsim.rundir import StagedDir, check_target

if TYPE_CHECKING:
    import pandas as pd

TELEMETRY_FILE = "telemetry.parquet"
STATE_FILE = "state.json"


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is part of the dev install
        raise ImportError("the DataFrames need pandas: pip install 'hetsim[api]'") from None
    return pandas


@dataclasses.dataclass
class Result:
    """A finished run: ``summary`` is result.json; ``jobs`` and ``telemetry`` are tables.

    The summary's fields are attributes too (``r.avg_jct_h``, ``r.end_reason``,
    ``r.utilization``, ...).
    """

    summary: dict[str, Any]
    path: Path | None = None
    _replay: replay.Replay | None = None
    # With stop_at=HOURS: the state at that instant (DIR/state.json), else None.
    state: dict[str, Any] | None = None
    # DIR/jobs.parquet read before a temporary directory went (a run without ``out``).
    _jobs_table: Any = None

    def __getattr__(self, name: str) -> Any:
        summary = self.__dict__.get("summary", {})
        if name in summary and not name.startswith("_"):
            return summary[name]
        raise AttributeError(f"Result has no field '{name}'")

    @property
    def config(self) -> SimConfig:
        from des.config import config_from_dict

        return config_from_dict(self.summary["config"])

    def _events(self) -> replay.Replay:
        if self._replay is None:
            where = "this run" if self.path is None else str(self.path)
            raise InputError(f"no event trace for {where} (run with events=True / --events)")
        return self._replay

    @property
    def jobs(self) -> pd.DataFrame:
        """One row per job seen: ``job_id, model, scale_factor, arrival_s, start_s``
        (first placement), ``finish_s, jct_s``, and ``gpu_s_<type>`` (GPU-seconds held on
        each GPU type: seconds holding GPUs x their number). A run without an event
        trace gives ``DIR/jobs.parquet`` instead: the jobs that finished or failed, with
        ``job_id, arrival_s, finish_s, jct_s, scale_factor, status, in_window``."""
        if self._replay is None:
            if self._jobs_table is not None:
                return self._jobs_table.to_pandas()
            if self.path is not None and (self.path / JOBS_FILE).is_file():
                return read_jobs(self.path / JOBS_FILE).to_pandas()
        rep = self._events()
        types = [str(t) for t in self.summary["config"]["cluster"]["gpu_types"]]
        rows = []
        for job_id, story in sorted(rep.jobs.items()):
            row: dict[str, Any] = {
                "job_id": job_id,
                "model": story.model,
                "scale_factor": story.scale_factor,
                "arrival_s": story.arrival,
                "start_s": story.stints[0].start if story.stints else None,
                "finish_s": story.finish,
                "jct_s": story.jct,
            }
            gpu_s = dict.fromkeys(types, 0.0)
            for s in story.stints:
                end = s.end if s.end is not None else story.finish
                if end is not None:
                    gpu_s[s.gpu_type] = gpu_s.get(s.gpu_type, 0.0) + (end - s.start) * len(s.gpus)
            row.update({f"gpu_s_{t}": v for t, v in gpu_s.items()})
            rows.append(row)
        return _pandas().DataFrame(rows)

    @property
    def telemetry(self) -> pd.DataFrame:
        """Per-round telemetry: ``DIR/telemetry.parquet`` when the run wrote one; else
        derived from the events, one row per round: ``round, sim_time, busy_gpus,
        active_jobs, running_jobs, waiting_jobs`` (active - running)."""
        pd = _pandas()
        if self.path is not None and (self.path / TELEMETRY_FILE).is_file():
            return pd.read_parquet(self.path / TELEMETRY_FILE)
        rows = [
            {
                "round": e["round"],
                "sim_time": e["sim_time"],
                "busy_gpus": e["busy_gpus"],
                "active_jobs": e["active_jobs"],
                "running_jobs": e["running_jobs"],
                "waiting_jobs": e["active_jobs"] - e["running_jobs"],
            }
            for e in self._events().events
            if e["event"] == "round_started"
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "round",
                "sim_time",
                "busy_gpus",
                "active_jobs",
                "running_jobs",
                "waiting_jobs",
            ],
        )

    def __repr__(self) -> str:
        s = self.summary
        avg = s.get("avg_jct_h")
        return (
            f"<hetsim.Result {s['config']['policy']}: {s['end_reason']}, "
            f"avg JCT {'n/a' if avg is None else f'{avg:.2f} h'}, "
            f"{s['window_jobs_completed']} window jobs>"
        )


def load(path: str | os.PathLike[str]) -> Result:
    """A finished run's directory (``result.json``, and ``events.jsonl`` if written)."""
    root = Path(path)
    result_path = root / "result.json"
    if not result_path.is_file():
        raise InputError("no such file (is this a hetsim run directory?)", source=str(result_path))
    try:
        summary = json.loads(result_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", source=str(result_path), line=exc.lineno) from None
    events = root / "events.jsonl"
    rep = replay.load(events) if events.is_file() else None
    state_path = root / STATE_FILE
    state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.is_file() else None
    return Result(summary, root, rep, state)


def _config(options: dict[str, Any]) -> SimConfig:
    """The ``hetsim run`` options, defaults filled in, validated as the command does."""
    from hetsim import cli

    # the command's own defaults, as click fills them in for an empty command line
    known: dict[str, Any] = cli.run.make_context("run", [], resilient_parsing=True).params
    aliases = {
        "cluster": "cluster_text",
        "window": "window_text",
        "trace": "trace_path",
        "throughputs": "throughputs_path",
        "out": "out_dir",
    }
    opts = dict(known)
    for key, value in options.items():
        name = aliases.get(key, key)
        if name not in known:
            raise InputError(f"unknown option '{key}'", field=key)
        if name == "window_text" and isinstance(value, Sequence) and not isinstance(value, str):
            value = f"{value[0]}:{value[1]}"
        elif name == "cluster_text" and isinstance(value, Sequence) and not isinstance(value, str):
            value = ":".join(str(v) for v in value)
        elif name == "solvers" and not isinstance(value, str):
            value = ",".join(value)
        opts[name] = value
    return cli.build_config(opts)


def run(
    config: SimConfig | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    events: bool = True,
    **options: Any,
) -> Result:
    """Simulates one configuration: a SimConfig, or ``hetsim run``'s options as keywords
    (``policy``, ``cluster="36:36:36"`` or ``(36, 36, 36)``, ``rate``, ``seed``,
    ``window=(4000, 5000)``, ``multi_gpu``, ``trace``, ``max_jobs``, ``quirks``, ...).
    ``out``: also keep the run's directory there. ``events=False``: no event trace
    (faster; ``jobs`` and the derived ``telemetry`` need it)."""
    if config is None:
        if "policy" not in options:
            raise InputError("give policy=... (see 'hetsim policies')", field="policy")
        config = _config(options)
    elif options:
        raise TypeError("give a SimConfig or keyword options, not both")
    if out is not None:
        return _run_into(config, Path(out), events)
    with tempfile.TemporaryDirectory(prefix="hetsim-run-") as tmp:
        result = _run_into(config, Path(tmp) / "run", events)
        if result._replay is None:
            result._jobs_table = read_jobs(Path(tmp) / "run" / JOBS_FILE)
        result.path = None
        return result


def _run_into(config: SimConfig, out_dir: Path, events: bool) -> Result:
    saved = structlog.get_config()
    check_target(out_dir, "out", force=True)
    with StagedDir(out_dir, "out") as staged:
        events_fh = (staged.path / "events.jsonl").open("w") if events else None
        try:
            structlog.configure(
                processors=trace_processors(),
                wrapper_class=structlog.make_filtering_bound_logger(
                    logging.INFO if events_fh is not None else logging.CRITICAL
                ),
                logger_factory=(
                    trace_writer_factory(events_fh)
                    if events_fh is not None
                    else structlog.ReturnLoggerFactory()
                ),
                cache_logger_on_first_use=False,
            )
            outcome = Simulation(config).run()
        finally:
            if events_fh is not None:
                events_fh.close()
            structlog.configure(**saved)
        (staged.path / "result.json").write_text(dumps(build_result(outcome)), encoding="utf-8")
        write_jobs(staged.path, outcome.completions, outcome.failed, config.window)
        outcome.completions.close()
        if outcome.state is not None:
            (staged.path / STATE_FILE).write_text(dumps(outcome.state), encoding="utf-8")
        staged.commit()
    return load(out_dir)


def sweep(
    scenario: str | os.PathLike[str],
    *,
    seeds: Sequence[int] | None = None,
    quick: bool = False,
    out: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    quirks: str | None = None,
    budget: float | None = None,
) -> pd.DataFrame:
    """Runs a scenario (``"fig9"``, ... or a .toml file) like ``hetsim sweep`` (resumable
    in ``out``, default ``sweeps/NAME``) and returns its results table."""
    from hetsim import cli
    from sweep import report, table
    from sweep.executors import open_backend
    from sweep.runner import run_sweep
    from sweep.spec import load_sweep, with_overrides

    spec = load_sweep(cli.resolve_scenario(str(scenario)), quick=quick)
    spec = with_overrides(
        spec, seeds=None if seeds is None else tuple(seeds), budget_s=budget, quirks=quirks
    )
    out_dir = Path(out) if out else Path("sweeps") / (spec.name + ("-quick" if quick else ""))
    saved = structlog.get_config()
    try:
        outcome = run_sweep(spec, out_dir, lambda: open_backend(jobs, None))
    finally:
        structlog.configure(**saved)
    rows = table.rows_of(outcome.records, spec.policies)
    table.write_results(out_dir, rows)
    report.write_report(out_dir, rows, spec.to_dict())
    return _pandas().DataFrame(table.read_results(out_dir / table.RESULTS_CSV))
