"""hetsim: a discrete-event simulator of heterogeneous GPU clusters under round-based scheduling.

The Python API (see hetsim/api.py): ``hetsim.run(...)`` simulates one configuration,
``hetsim.load(DIR)`` reads a finished run, ``hetsim.sweep(...)`` runs a scenario; they
are imported on first use, so ``import hetsim`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Result", "__version__", "load", "run", "sweep"]

if TYPE_CHECKING:
    from hetsim.api import Result, load, run, sweep


def __getattr__(name: str) -> Any:
    if name in ("Result", "load", "run", "sweep"):
        from hetsim import api

        return getattr(api, name)
    raise AttributeError(f"module 'hetsim' has no attribute '{name}'")
