#!/usr/bin/env bash
# Sets everything up (a .venv with hetsim and its dev tools) and runs the checks:
# ruff, mypy and the test suite. Extra arguments go to pytest (e.g. -k name). The long
# fidelity runs (marker "slow": the golden comparison with the reference's own runs)
# follow when CI=true or HETSIM_SLOW=1, or alone with `bash scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
if [ $# -eq 0 ] && { [ "${CI:-}" = "true" ] || [ "${HETSIM_SLOW:-}" = "1" ]; }; then
  .venv/bin/python -m pytest -m slow
fi
