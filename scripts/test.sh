#!/usr/bin/env bash
# Set up the virtual environment (once) and run the whole test suite. Used by README and .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
. .venv/bin/activate
export MPLBACKEND=Agg
# OpenMP threads that spin while waiting slow LightGBM down 100x on a busy 2-core machine
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
python -m pytest -q --durations=20 "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: treating as a failure"
  exit 1
fi
exit "$rc"
