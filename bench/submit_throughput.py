"""Submission throughput: POST /api/v1/jobs on gunicorn (2 processes x 8 threads), Postgres, Redis.

Several client processes (threads in each, a new connection per request) submit the
notebook's job for --seconds after a warm-up. Each client acts for
a tenant of its own by default (--tenants 1: all for one, whose submissions the quota check
serialises). No Celery worker runs, so the two cores serve only the API, the database and the
broker (and the clients: they share the machine). Reports requests per second, latency
percentiles, every non-202 answer, and the CPU time per request: the API's (gunicorn's processes)
and the whole machine's (API, Postgres, Redis, the clients, and whatever else runs).
Run: .venv/bin/python bench/submit_throughput.py [--seconds 10] [--clients 16] [--tenants 16]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import (
    group_cpu_seconds,
    load,
    machine_busy_seconds,
    percentile,
    record,
    verdict,
)
from bench.stack import BIN, Stack

# The quota and rate limit (service/settings.py) would refuse one tenant's flood: raised here.
ENV = {"RATE_LIMIT": "100000000", "MAX_ACTIVE_JOBS": "100000000", "AUTH": "on"}
BODY = json.dumps({"name": "throughput", "training": {"epochs": 10}}).encode()


def _client(port: int, token: str, until: float, warm: float, out: list[tuple[float, int]]) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    while (now := time.perf_counter()) < until:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("POST", "/api/v1/jobs", BODY, headers)
            status = connection.getresponse().status
            connection.close()
        except OSError:
            status = 0
        if now >= warm:
            out.append((time.perf_counter() - now, status))


def _process(
    port: int, tokens: list[str], seconds: float, warmup: float
) -> list[tuple[float, int]]:
    start = time.perf_counter()
    out: list[tuple[float, int]] = []
    workers = [
        threading.Thread(
            target=_client, args=(port, token, start + warmup + seconds, start + warmup, out)
        )
        for token in tokens
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return out


def tokens(stack: Stack, tenants: int) -> list[str]:
    """One API token for each of ``tenants`` owners, made as an operator would."""
    made = []
    for index in range(tenants):
        created = subprocess.run(
            [str(BIN / "gradyard"), "tokens", "create", f"bench-{index}"],
            env=stack.env,
            capture_output=True,
            text=True,
            check=True,
        )
        made.append(created.stdout.strip())
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--tenants", type=int, default=0, help="owners (default: one a client)")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--api-workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument(
        "--api-threads", type=int, default=8, help="threads each (8: as `gradyard serve`)"
    )
    args = parser.parse_args()
    before = load()
    print(before)
    with Stack(
        workers=0, api_workers=args.api_workers, api_threads=args.api_threads, env=ENV
    ) as stack:
        owners = tokens(stack, args.tenants or args.clients)
        shares = [
            [owners[i % len(owners)] for i in range(p, args.clients, args.processes)]
            for p in range(args.processes)
        ]
        api = stack.processes[-1].pid  # gunicorn: the leader of its own process group
        with multiprocessing.Pool(args.processes) as pool:
            jobs = pool.starmap_async(
                _process, [(stack.port, share, args.seconds, args.warmup) for share in shares]
            )
            time.sleep(args.warmup)
            api_cpu, busy = group_cpu_seconds(api), machine_busy_seconds()
            time.sleep(args.seconds)
            api_cpu, busy = group_cpu_seconds(api) - api_cpu, machine_busy_seconds() - busy
            parts = jobs.get()
    results = [result for part in parts for result in part]
    latencies = [1000 * seconds for seconds, _ in results]
    statuses = Counter(status for _, status in results)
    rate = len(results) / args.seconds
    errors = sum(count for status, count in statuses.items() if status != 202)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(
        f"{'clients':>7} {'tenants':>7} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'API cpu ms/req':>14} {'machine cpu ms/req':>18}"
    )
    print(
        f"{args.clients:7d} {len(owners):7d} {len(results):8d} {rate:7.1f} {p50:7.1f} "
        f"{p99:7.1f} {errors:6d} {1000 * api_cpu / max(1, len(results)):14.2f} "
        f"{1000 * busy / max(1, len(results)):18.2f}"
    )
    print("answers:", dict(statuses))
    print(
        f"machine busy {busy / args.seconds:.2f} of {os.cpu_count()} cores; "
        f"API processes {api_cpu / args.seconds:.2f} cores"
    )
    after = load()
    print(after)
    met = rate >= 500 and errors == 0
    verdict(met, f"{rate:.0f} submissions/s (target >= 500), {errors} errors")
    api_ms = 1000 * api_cpu / max(1, len(results))
    owners_text = f"{len(owners)} owner" + ("s" if len(owners) > 1 else "")
    record(
        f"submit_{owners_text.replace(' ', '_')}",
        f"submissions, {args.clients} clients, {owners_text}",
        ">= 500/s, no errors",
        f"{rate:.0f}/s, {errors} errors, p50 {p50:.0f} ms, API {api_ms:.1f} ms CPU/req",
        rate / 500,
        met,
        before,
        after,
    )


if __name__ == "__main__":
    main()
