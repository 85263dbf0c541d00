#!/usr/bin/env bash
# Sets everything up and runs the main job: one point of the reference's LAS curve
# (single-GPU jobs, 36:36:36 cluster, 2.0 jobs/h, seed 0, window 4000:5000) with
# the heterogeneity-aware policy, then prints the summary. Published: 16.95 h.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/hetsim run --policy max_min_fairness_perf --cluster 36:36:36 --rate 2.0 \
  --seed 0 --window 4000:5000 --out runs/demo --force "$@"
