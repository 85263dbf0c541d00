"""How an event becomes a line of ``events.jsonl``: the processors both the CLI's trace
and ``hetsim replay --verify``'s re-run render with, so the two agree byte for byte."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

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
