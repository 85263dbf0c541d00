"""Shared fixtures: a SimPy environment, the shipped throughputs, small configs."""

from __future__ import annotations

import logging

import pytest
import simpy
import structlog

from workloads import ThroughputTable, load_throughputs


def _drop(_: object, __: str, ___: object) -> object:
    raise structlog.DropEvent


@pytest.fixture(autouse=True)
def _quiet_structlog() -> None:
    """Library modules log through structlog; tests drop every event unless a test
    captures them with ``structlog.testing.capture_logs()``."""
    structlog.configure(
        processors=[_drop],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )


@pytest.fixture
def env() -> simpy.Environment:
    return simpy.Environment(initial_time=0.0)


@pytest.fixture(scope="session")
def throughputs() -> ThroughputTable:
    return load_throughputs()
