"""Why the worker calls gc.freeze(): engine.train timed with a worker-sized heap, frozen or not.

Three settings for the same spec, interleaved so the machine's load hits each alike: a bare
process (only ``engine`` imported), a process that has imported the worker's stack (Celery,
kombu, SQLAlchemy, psycopg, the service modules) as a pool process has, and the same after
``gc.freeze()``. Prints medians. Run: .venv/bin/python bench/gc_freeze.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.service_overhead import WORKLOADS

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import gc, json, sys, time
sys.path.insert(0, {root!r})
if {heavy}:
    import worker.app, worker.tasks, worker.runner, store.models  # the pool process's heap
if {freeze}:
    gc.freeze()
from engine import train
spec = json.loads(sys.argv[1])
start = time.perf_counter()
train(spec)
print(time.perf_counter() - start, len(gc.get_objects()), gc.get_freeze_count())
"""
MODES = {"bare process": (False, False), "worker heap": (True, False), "frozen": (True, True)}


def once(spec: str, heavy: bool, freeze: bool) -> tuple[float, int, int]:
    code = CHILD.format(root=str(ROOT), heavy=heavy, freeze=freeze)
    out = subprocess.run(
        [sys.executable, "-c", code, spec], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def main() -> None:
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'workload':18} {'mode':13} {'median s':>9} {'tracked':>9} {'frozen':>8}")
    for name, spec in WORKLOADS.items():
        text = json.dumps(spec)
        runs: dict[str, list[tuple[float, int, int]]] = {mode: [] for mode in MODES}
        for _ in range(args.repeats):
            for mode, (heavy, freeze) in MODES.items():
                runs[mode].append(once(text, heavy, freeze))
        for mode, results in runs.items():
            seconds = statistics.median(r[0] for r in results)
            print(f"{name:18} {mode:13} {seconds:9.3f} {results[0][1]:9d} {results[0][2]:8d}")


if __name__ == "__main__":
    main()
