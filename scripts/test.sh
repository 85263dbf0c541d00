#!/usr/bin/env bash
# Sets everything up (a .venv with hetsim and its dev tools) and runs the checks:
# ruff, mypy, the JavaScript decoder's tests (node --test, against files the Python
# encoder writes now) and the test suite. Extra arguments go to pytest (e.g. -k name).
# The long fidelity runs (marker "slow": the golden comparison with the reference's own
# runs) follow when CI=true or HETSIM_SLOW=1, or alone with `bash scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
fixtures=$(mktemp -d)
trap 'rm -rf "$fixtures"' EXIT
.venv/bin/hetsim run --policy max_min_fairness_perf --cluster 4:4:4 --rate 1.0 --multi-gpu \
  --gpus-per-server 2 --max-jobs 20 --events --quiet --out "$fixtures/small-run" 2>/dev/null
.venv/bin/python -m tests.viz_fixtures "$fixtures" "$fixtures/small-run" >/dev/null
# node --test passes when it finds no test file: that must fail here, not pass quietly
node_out=$(VIZ_FIXTURES="$fixtures" node --test viz/web/test/) || { echo "$node_out"; exit 1; }
echo "$node_out" | grep -E '^# (tests|pass|fail) '
if ! grep -qE '^# tests [1-9]' <<<"$node_out"; then
  echo "node --test viz/web/test/ ran no tests" >&2
  exit 1
fi
.venv/bin/python -m pytest "$@"
if [ $# -eq 0 ] && { [ "${CI:-}" = "true" ] || [ "${HETSIM_SLOW:-}" = "1" ]; }; then
  # test by test (not file by file): the six reference cases of one file share no fixture
  .venv/bin/python -m pytest -m slow --dist load
fi
