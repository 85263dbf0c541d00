"""Policies written outside hetsim: loading them by reference, and checking every answer.

A plugin is named ``package.module:attribute`` (an importable module), or
``path/to/file.py:attribute`` (a file), or by the name of an installed package's
entry point in the group ``hetsim.policies`` (whose value is ``module:attribute``).
The attribute is a :class:`~scheduler.registry.PolicySpec` (its traits are used; its
name becomes the reference) or a plain function ``(problem, context) -> Allocation``
(or an ``n x m`` array) with default traits: fixed type order, not FIFO-like, any
GPU count, no space sharing.

A plugin's function is wrapped so that each answer is checked before the round
mechanism sees it: the right shape, finite, non-negative, rows summing to at most 1,
within each type's capacity, and no time where the job cannot run. Anything else is a
:class:`PluginError` naming the plugin and what is wrong: a plugin never makes a
silently wrong run. The check lives here, outside the allocator's core.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hetsim.errors import InputError
from scheduler.problem import Allocation, AllocationProblem

if TYPE_CHECKING:
    from scheduler.policies import PolicyContext
    from scheduler.registry import PolicySpec

__all__ = ["ENTRY_POINT_GROUP", "PluginError", "check_allocation", "entry_points", "load"]

ENTRY_POINT_GROUP = "hetsim.policies"
TOLERANCE = 1e-6


class PluginError(InputError):
    """A policy plugin that cannot be loaded or gave a wrong answer (build one with
    :func:`plugin_error`; SimPy re-raises a copy made from its one-line text)."""


def plugin_error(name: str, message: str) -> PluginError:
    return PluginError(message, source=f"policy plugin '{name}'")


def is_reference(name: str) -> bool:
    """Whether ``name`` names a plugin (``module:attr`` or an entry point)."""
    return ":" in name or name in entry_points()


def source_file(name: str) -> str | None:
    """The file a plugin's code is in (for fingerprints of sweep records), if found."""
    reference = entry_points().get(name, name)
    module_name = reference.rpartition(":")[0]
    if module_name.endswith(".py"):
        return module_name
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None


def entry_points() -> dict[str, str]:
    """Installed plugins: entry point name -> ``module:attribute``."""
    return {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _import(name: str, module_name: str) -> Any:
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise plugin_error(name, f"no such file {module_name}")
        unique = f"hetsim_plugin_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(unique, path)
        if spec is None or spec.loader is None:
            raise plugin_error(name, f"cannot load {module_name} as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[unique]
            raise plugin_error(name, f"importing {module_name} failed: {_what(exc)}") from exc
        return module
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise plugin_error(name, f"cannot import module '{module_name}': {_what(exc)}") from exc


def _what(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load(name: str) -> PolicySpec:
    """The checked :class:`PolicySpec` of plugin ``name``; PluginError if it cannot be."""
    from scheduler.registry import PolicySpec

    reference = entry_points().get(name, name)
    module_name, sep, attribute = reference.rpartition(":")
    if not sep or not module_name or not attribute:
        raise plugin_error(name, "must be 'package.module:attribute' or 'file.py:attribute'")
    module = _import(name, module_name)
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise plugin_error(name, f"module '{module_name}' has no attribute '{attribute}'")
        target = getattr(target, part)
    if isinstance(target, PolicySpec):
        spec = target
    elif callable(target):
        doc = (getattr(target, "__doc__", None) or "").strip().splitlines()
        spec = PolicySpec(
            name=name,
            allocate=target,
            fixed_type_order=True,
            fifo_like=False,
            summary=doc[0] if doc else f"plugin {reference}",
        )
    else:
        raise plugin_error(
            name, f"'{attribute}' is a {type(target).__name__}, not a PolicySpec or a function"
        )
    if spec.packing:
        raise plugin_error(name, "space-sharing (packing) plugins are not supported")
    if spec.ftf_baseline:
        raise plugin_error(name, "plugins cannot take a finish-time-fairness baseline")
    return replace(spec, name=name, allocate=_checked(name, spec.allocate))


def _checked(
    name: str, allocate: Callable[[AllocationProblem, PolicyContext], Any]
) -> Callable[[AllocationProblem, PolicyContext], Allocation]:
    def run(problem: AllocationProblem, context: PolicyContext) -> Allocation:
        try:
            answer = allocate(problem, context)
        except Exception as exc:
            raise plugin_error(name, f"raised {_what(exc)}") from exc
        return check_allocation(name, problem, answer)

    return run


def check_allocation(name: str, problem: AllocationProblem, answer: object) -> Allocation:
    """The plugin's answer as a clean Allocation, or PluginError saying what is wrong."""
    if isinstance(answer, Allocation):
        raw = answer.matrix
        solves, failed = answer.solves, answer.failed
    elif isinstance(answer, np.ndarray):
        raw, solves, failed = answer, (), False
    else:
        raise plugin_error(name, f"returned a {type(answer).__name__}, not an Allocation")
    try:
        matrix = np.array(raw, dtype=float)
    except (TypeError, ValueError):
        raise plugin_error(name, "returned an allocation that is not a numeric matrix") from None
    n, m = problem.num_jobs, problem.num_types
    if matrix.shape != (n, m):
        raise plugin_error(
            name, f"returned an allocation of shape {matrix.shape}, expected ({n}, {m}) "
            "(jobs x GPU types)",
        )  # fmt: skip
    if not np.isfinite(matrix).all():
        i, j = np.argwhere(~np.isfinite(matrix))[0]
        raise plugin_error(
            name, f"allocation is not finite ({matrix[i, j]}) {_cell(problem, i, j)}"
        )
    if (matrix < -TOLERANCE).any():
        i, j = np.argwhere(matrix < -TOLERANCE)[0]
        raise plugin_error(
            name, f"allocation is negative ({matrix[i, j]:g}) {_cell(problem, i, j)}"
        )
    matrix = np.clip(matrix, 0.0, None)
    rows = matrix.sum(axis=1)
    if (rows > 1 + TOLERANCE).any():
        i = int(np.argmax(rows))
        raise plugin_error(
            name, f"gives job {_job(problem, i)} a share of {rows[i]:.6g} of each round (at most 1)"
        )
    used = (problem.scale_factors[:, None] * matrix).sum(axis=0)
    over = used > problem.capacities * (1 + TOLERANCE) + TOLERANCE
    if over.any():
        j = int(np.argmax(over))
        raise plugin_error(
            name, f"breaks the capacity of {_type(problem, j)}: {used[j]:.6g} GPUs of "
            f"{problem.capacities[j]:g}",
        )  # fmt: skip
    wrong = (matrix > TOLERANCE) & ~problem.runnable
    if wrong.any():
        i, j = np.argwhere(wrong)[0]
        raise plugin_error(
            name, f"gives time {_cell(problem, i, j)}, where it cannot run (throughput "
            f"{problem.throughputs[i, j]:g}, {problem.scale_factors[i]} GPUs of "
            f"{problem.capacities[j]:g})",
        )  # fmt: skip
    matrix[~problem.runnable] = 0.0
    return Allocation(matrix, solves=solves, failed=failed)


def _job(problem: AllocationProblem, i: int) -> str:
    return str(problem.job_ids[i]) if problem.job_ids is not None else f"row {i}"


def _type(problem: AllocationProblem, j: int) -> str:
    return problem.type_names[j] if problem.type_names else f"type column {j}"


def _cell(problem: AllocationProblem, i: int, j: int) -> str:
    return f"to job {_job(problem, int(i))} on {_type(problem, int(j))}"
