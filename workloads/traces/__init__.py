"""Real cluster traces: one reader module per format, detection, and the mapping to jobs.

Formats: ``gavel`` (the 10-field TSV of :mod:`workloads.trace`), ``itp``, ``gavel7``,
``tiresias``, ``alibaba-openb``, ``philly``, ``helios``. :class:`TraceJobs` streams a
file's jobs under :class:`TraceOptions`; docs/traces.md describes the rules.
"""

from workloads.traces.formats import FORMAT_NAMES, GAVEL, detect_format, get_format
from workloads.traces.mapping import TRACE_STREAM, TraceJobs, TraceStats, with_seed
from workloads.traces.options import CHOICES, TraceOptions

__all__ = [
    "CHOICES",
    "FORMAT_NAMES",
    "GAVEL",
    "TRACE_STREAM",
    "TraceJobs",
    "TraceOptions",
    "TraceStats",
    "detect_format",
    "get_format",
    "with_seed",
]
