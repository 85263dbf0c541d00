"""Where sweep runs execute: a local process pool, or a Dask distributed cluster.

Both are handed to the runner as a :class:`concurrent.futures.Executor` (Dask's
through ``Client.get_executor``), so one code path submits, waits and collects
for both. ``dask="local"`` starts a ``LocalCluster`` of single-threaded worker
processes; ``dask="tcp://host:port"`` connects to an existing scheduler.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hetsim.errors import InputError


def default_jobs() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class Backend:
    """An open executor, how many runs it executes at once, and what it is."""

    executor: Executor
    slots: int
    description: str


@contextmanager
def local_pool(jobs: int) -> Iterator[Backend]:
    """A pool of ``jobs`` worker processes (spawned: each starts from a clean state)."""
    if jobs < 1:
        raise InputError(f"must be >= 1, not {jobs}", source="--jobs", field="jobs")
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    try:
        yield Backend(pool, jobs, f"{jobs} local worker process{'es' if jobs > 1 else ''}")
    except BaseException:
        # interrupted (SIGTERM, Ctrl-C, an error): do not wait for the runs in flight,
        # whose records would be written by this process anyway; stop the workers
        pool.shutdown(wait=False, cancel_futures=True)
        for child in multiprocessing.active_children():
            child.terminate()
        raise
    pool.shutdown(wait=True)


@contextmanager
def dask_cluster(address: str, jobs: int) -> Iterator[Backend]:
    """A Dask client: ``local`` (a LocalCluster of ``jobs`` workers) or a scheduler address."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - distributed is a declared dependency
        raise InputError("needs the 'distributed' package", source="--dask") from None
    cluster: Any = None
    try:
        if address == "local":
            cluster = LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            client = Client(cluster)
        else:
            try:
                client = Client(address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler: {exc}", source="--dask", field="dask"
                ) from None
        with client:
            slots = max(1, sum(client.nthreads().values()))
            where = "a local Dask cluster" if cluster is not None else f"Dask at {address}"
            yield Backend(client.get_executor(pure=False), slots, f"{where} ({slots} slots)")
    finally:
        if cluster is not None:
            cluster.close()


def open_backend(jobs: int | None, dask: str | None) -> Any:
    """The executor context for ``--jobs`` / ``--dask``."""
    workers = default_jobs() if jobs is None else jobs
    if dask is None:
        return local_pool(workers)
    return dask_cluster(dask, workers)
