"""Where a submission's time goes: POST /api/v1/jobs in-process under cProfile, on a bench stack.

The API runs in this process (Flask's test client, no HTTP), against the stack's own Postgres
database and Redis queue, so the profile shows the view's own work.
Run: .venv/bin/python bench/profile_submit.py [--requests 500] [--top 30] [--sort tottime]
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
from bench.submit_throughput import BODY, ENV, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", choices=["cumulative", "tottime"], default="cumulative")
    parser.add_argument("--auth", action="store_true", help="with a token, as the throughput runs")
    parser.add_argument("--wall", action="store_true", help="wall time (default: CPU time)")
    args = parser.parse_args()
    print(load())
    with Stack(
        workers=0, api_workers=1, env={**ENV, "AUTH": "on" if args.auth else "off"}
    ) as stack:
        # This process becomes one more API process of the stack: same settings, before import.
        os.environ.update({k: v for k, v in stack.env.items() if k != "PROMETHEUS_MULTIPROC_DIR"})
        from service.app import create_app

        client = create_app().test_client()
        headers = {"Content-Type": "application/json"}
        if args.auth:
            headers["Authorization"] = f"Bearer {tokens(stack, 1)[0]}"
        for _ in range(20):  # warm: connections, caches
            client.post("/api/v1/jobs", data=BODY, headers=headers)
        # CPU time by default: on a shared machine, wall time mostly measures the others' work.
        profile = cProfile.Profile() if args.wall else cProfile.Profile(time.process_time)
        start, cpu = time.perf_counter(), time.process_time()
        profile.enable()
        for _ in range(args.requests):
            assert client.post("/api/v1/jobs", data=BODY, headers=headers).status_code == 202
        profile.disable()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"{args.requests} submissions in-process, profiled: {1000 * seconds / args.requests:.2f} "
        f"ms each, {1000 * cpu / args.requests:.2f} ms of CPU"
    )
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
