"""Time `import fc_core` (and its light modules) in fresh interpreters; the target is under 1 s.

    python -m bench.import_time
"""
from __future__ import annotations

import statistics
import subprocess
import sys

CODE = "import time; t = time.perf_counter(); import fc_core, fc_core.datasets, fc_core.automl; print(time.perf_counter() - t)"


def main(runs: int = 5) -> float:
    times = [float(subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout)
             for _ in range(runs)]
    med = statistics.median(times)
    print(f"import fc_core (+datasets, automl): median {med:.3f} s over {runs} runs, max {max(times):.3f} s")
    return med


if __name__ == "__main__":
    main()
