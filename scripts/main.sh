#!/usr/bin/env bash
# Set up (once) and run the main job: the getting-started notebook on the built-in demo data.
# Results land in ${1:-output}/: forecast.csv, accuracy_metrics.csv, backtest_forecasts.csv, charts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
out="${1:-output}"
# OpenMP threads spin briefly, then sleep: fast on a quiet machine and beside other jobs (bench/RESULTS.md)
[ -n "${OMP_WAIT_POLICY:-}" ] || export GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-1000}"
mkdir -p "$out"
python -m papermill notebooks/getting_started.ipynb "$out/getting_started.ipynb" -p output_dir "$out" --progress-bar
echo "results in $out/"
ls "$out"
