#!/usr/bin/env bash
# Set up the virtual environment (once) and run the whole test suite. Used by README and .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
. .venv/bin/activate
export MPLBACKEND=Agg
# OpenMP threads that spin long while waiting slow LightGBM down on a busy 2-core machine, and threads that
# sleep at once slow it down on a quiet one: a short spin is within 2x of the better of the two (bench/RESULTS.md)
[ -n "${OMP_WAIT_POLICY:-}" ] || export GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-1000}"
python -m pytest -q --durations=20 "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: treating as a failure"
  exit 1
fi
exit "$rc"
