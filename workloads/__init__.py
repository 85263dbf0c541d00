"""Workloads: job templates, jobs, measured throughputs, the seeded generator and traces.

Knows nothing of the simulation engine; everything here is plain data and
pure functions over it.
"""

from workloads.generator import GeneratorConfig, generate, generate_n
from workloads.job import Job
from workloads.templates import TEMPLATES, JobTemplate, template_for
from workloads.throughputs import ThroughputTable, load_throughputs
from workloads.trace import format_job, iter_trace, read_trace, scan_trace, write_trace

__all__ = [
    "TEMPLATES",
    "GeneratorConfig",
    "Job",
    "JobTemplate",
    "ThroughputTable",
    "format_job",
    "generate",
    "generate_n",
    "iter_trace",
    "load_throughputs",
    "read_trace",
    "scan_trace",
    "template_for",
    "write_trace",
]
