"""Bytes of training graph per parameter-sample, measured: the constant behind engine/cost.py.

For MLPs of 10^2 to 10^4 parameters on moons, full batch, it runs two epochs under tracemalloc
and prints the peak against parameters x samples, next to the process's peak RSS growth.
Run: .venv/bin/python bench/graph_memory.py
"""

from __future__ import annotations

import resource
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import Training, parse_spec  # noqa: E402
from engine.cost import BYTES_PER_PARAMETER_SAMPLE, estimate  # noqa: E402

CASES = [([16, 16, 1], 100), ([16, 16, 1], 1000), ([64, 64, 1], 100), ([32, 32, 32, 1], 300),
         ([300, 1], 200), ([128, 128, 1], 200)]  # fmt: skip


def main() -> None:
    print(f"{'layers':<16} {'samples':>7} {'params':>7} {'traced MB':>9} {'B/param-sample':>14}")
    worst = 0.0
    for layers, samples in CASES:
        raw = {
            "model": {"layers": layers, "activation": "relu", "output_activation": "linear"},
            "data": {"generator": "moons", "samples": samples},
            "training": {"loss": "hinge", "epochs": 2},
        }
        cost = estimate(parse_spec(raw))
        tracemalloc.start()
        training = Training(raw)
        training.run_epoch()
        training.run_epoch()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        per = peak / (cost.parameters * cost.batch)
        worst = max(worst, per)
        print(f"{layers!s:<16} {samples:>7} {cost.parameters:>7} {peak / 1e6:>9.1f} {per:>14.1f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"worst {worst:.1f} B per parameter-sample; the estimate uses "
          f"{BYTES_PER_PARAMETER_SAMPLE} (peak RSS of this run {rss:.0f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
