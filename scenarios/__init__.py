"""Scenario files: the paper's figures (``fig9``, ``fig10``, ``fig11``), ``itp04`` on a real
trace, ``fragmentation`` (multi-GPU LAS-perf at 1, 4 and 8 GPUs per server).

Each is a TOML file next to this module (see :mod:`sweep.spec` for the format) and a
two-line script, ``python -m scenarios.fig9 [sweep options]``, equal to
``hetsim sweep fig9 [sweep options]``. Copy a file to change policies, rates, seeds,
cluster, window or quirks, and run the copy with ``hetsim sweep FILE.toml``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def names() -> list[str]:
    """The bundled scenarios."""
    return sorted(p.stem for p in HERE.glob("*.toml"))


def path_of(name: str) -> Path | None:
    """The bundled scenario file called ``name``, if there is one."""
    path = HERE / f"{name}.toml"
    return path if path.is_file() else None


def main(name: str, argv: list[str] | None = None) -> None:
    """Runs ``hetsim sweep NAME`` with the given options (default: this process's)."""
    from hetsim.cli import main as cli_main

    args = sys.argv[1:] if argv is None else argv
    cli_main(["sweep", name, *args])
