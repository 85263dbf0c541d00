"""How an event becomes a line of ``events.jsonl``: the processors both the CLI's trace
and ``hetsim replay --verify``'s re-run render with, so the two agree byte for byte,
and the output set-up of a command (the CLI's, and the benchmarks')."""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import click
import structlog

Processor = Any


def event_first(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    """Puts ``event`` and ``sim_time`` first in each trace line, for reading by eye."""
    head = {"event": event_dict.pop("event"), "sim_time": event_dict.pop("sim_time", None)}
    head.update(event_dict)
    return head


def trace_processors(*before_render: Processor) -> list[Processor]:
    """The trace's processor chain; ``before_render`` run after the level is added (the
    CLI echoes warnings there) and before the line is laid out."""
    return [
        structlog.processors.add_log_level,
        *before_render,
        event_first,
        structlog.processors.JSONRenderer(),
    ]


def _echo_warnings(
    _: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    if method in ("warning", "error", "critical"):
        msg = event_dict.get("message") or event_dict.get("detail") or ""
        click.echo(f"warning: {event_dict.get('event')}: {msg}".rstrip(": "), err=True)
    return event_dict


class TraceWriter:
    """A structlog logger that writes each rendered event to a file as one line, through
    the file's own buffer. structlog's ``WriteLogger`` flushes after every line: a
    system call an event, and a trace is written to a staged directory that is kept
    only once the run has ended and the file is closed, so those flushes buy nothing."""

    def __init__(self, file: TextIO) -> None:
        self._write = file.write

    def msg(self, message: str) -> None:
        self._write(message + "\n")

    log = debug = info = warning = warn = error = err = critical = exception = msg


def trace_writer_factory(file: TextIO) -> Callable[..., TraceWriter]:
    """A structlog logger factory that gives every logger the one writer to ``file``."""
    writer = TraceWriter(file)
    return lambda *_: writer


def configure_logging(events_file: TextIO | None) -> None:
    """Events to ``events_file`` as JSON lines (all levels), or only warnings to stderr."""
    if events_file is not None:
        structlog.configure(
            processors=trace_processors(_echo_warnings),
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=trace_writer_factory(events_file),
            cache_logger_on_first_use=False,
        )
    else:
        structlog.configure(
            processors=[_echo_warnings, structlog.processors.JSONRenderer()],
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.ReturnLoggerFactory(),
            cache_logger_on_first_use=False,
        )
