"""Queue latency: from POST /api/v1/jobs returning to the job's started_at, with an idle worker.

One worker process waits on Redis; each short job (the notebook, 1 epoch) is submitted only
after the previous one has ended, so the worker is idle at every submission. The worker's
started_at and the client's clock are the same machine's clock.
Run: .venv/bin/python bench/queue_latency.py [--jobs 500]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import load, percentile, record, verdict
from bench.stack import Stack

ENV = {"RATE_LIMIT": "1000000", "MAX_ACTIVE_JOBS": "1000000"}
JOB = {"name": "latency", "training": {"epochs": 1}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    args = parser.parse_args()
    before = load()
    print(before)
    latencies = []
    with Stack(workers=1, concurrency=1, env=ENV) as stack:
        for _ in range(args.jobs):
            response = stack.client.post("/api/v1/jobs", json=JOB)
            returned = time.time()
            assert response.status_code == 202, response.text
            done = stack.wait(response.json()["id"], poll=0.002)
            started = datetime.fromisoformat(done["started_at"]).timestamp()
            latencies.append(1000 * (started - returned))
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(f"{'jobs':>5} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'min ms':>7}")
    print(
        f"{len(latencies):5d} {p50:7.1f} {percentile(latencies, 90):7.1f} {p99:7.1f} "
        f"{max(latencies):7.1f} {min(latencies):7.1f}"
    )
    print(load())
    met = p50 < 20 and p99 < 100
    verdict(met, f"p50 {p50:.1f} ms (target < 20), p99 {p99:.1f} ms (< 100)")
    ratio = max(p50 / 20, p99 / 100)
    result = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({args.jobs} jobs)"
    record(
        "queue_latency",
        "queue latency, POST to started",
        "p50 < 20 ms, p99 < 100 ms",
        result,
        ratio,
        met,
        before,
        load(),
    )


if __name__ == "__main__":
    main()
