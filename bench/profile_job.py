"""Where a short job's time goes inside the worker: worker.runner.run_job under cProfile.

Runs in this process against a bench stack's database (no Celery: the runner alone), for
--jobs short notebook jobs, and prints the runner's cost per job beside engine.train's.
Run: .venv/bin/python bench/profile_job.py [--jobs 50] [--epochs 300] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import load
from bench.stack import Stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(load())
    with Stack(workers=0, api_workers=1, env={"MAX_ACTIVE_JOBS": "100000"}) as stack:
        # This process becomes a worker of the stack: same settings, before import.
        os.environ.update({k: v for k, v in stack.env.items() if k != "PROMETHEUS_MULTIPROC_DIR"})
        from engine import train
        from store.settings import get_settings
        from worker.runner import run_job

        spec = {"name": "profile", "training": {"epochs": args.epochs}}
        ids = [stack.client.post("/api/v1/jobs", json=spec).json()["id"] for _ in range(args.jobs)]
        engine = time.perf_counter()
        train({"training": spec["training"]})
        engine = time.perf_counter() - engine
        settings = get_settings()
        run_job(settings, ids.pop())  # warm: connections
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.enable()
        for job_id in ids:
            assert run_job(settings, job_id) == "succeeded"
        profile.disable()
        each = (time.perf_counter() - start) / len(ids)
    print(
        f"run_job {1000 * each:.1f} ms per job (profiled); "
        f"engine.train alone {1000 * engine:.1f} ms"
    )
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
