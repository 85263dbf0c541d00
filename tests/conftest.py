"""Shared fixtures: a SimPy environment, the shipped throughputs, small configs."""

from __future__ import annotations

import logging

import pytest
import simpy
import structlog

from workloads import ThroughputTable, load_throughputs


@pytest.fixture(autouse=True)
def _quiet_structlog() -> None:
    """Library modules log through structlog; tests drop everything below warning."""
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )


@pytest.fixture
def env() -> simpy.Environment:
    return simpy.Environment(initial_time=0.0)


@pytest.fixture(scope="session")
def throughputs() -> ThroughputTable:
    return load_throughputs()
