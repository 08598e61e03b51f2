"""Load: many clients submit small jobs at once; every job must end exactly once, nothing doubled.

A real stack (bench/stack.py: gunicorn with two worker processes, Celery workers, a database of
its own). Each client submits its share of the jobs, then polls them to their end. Afterwards the
database is checked: every job terminal, each run by one delivery, each epoch recorded once; and
every answer the API gave was a 2xx or a 4xx its OpenAPI document lists. No 5xx at all.
Run: .venv/bin/python bench/load.py [--jobs 1000] [--clients 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import Stack

TERMINAL = {"succeeded", "failed", "cancelled", "pruned"}
# Limits a single load client would otherwise meet: this measures the queue, not the quotas.
ENV = {"RATE_LIMIT": "1000000", "MAX_ACTIVE_JOBS": "1000000"}


def spec(index: int) -> dict[str, Any]:
    """A small job; every tenth is numerically hostile, so failures are part of the load."""
    if index % 10 == 9:
        return {
            "name": f"load-{index}",
            "model": {"inputs": 2, "layers": [4, 1], "activation": "relu"},
            "data": {"generator": "moons", "samples": 10},
            "training": {"epochs": 5, "learning_rate": 1e300},
        }
    return {"name": f"load-{index}", "training": {"epochs": 5 + index % 20, "seed": index}}


@dataclass
class Client:
    """One load client: its jobs, every answer it got, and every status it saw per job."""

    indices: range
    headers: dict[str, str]
    answers: list[tuple[str, int]] = field(default_factory=list)
    submit_seconds: list[float] = field(default_factory=list)
    seen: dict[str, list[str]] = field(default_factory=dict)

    def run(self, url: str) -> None:
        with httpx.Client(base_url=url, headers=self.headers, timeout=60) as http:
            for index in self.indices:
                self._submit(http, index)
            pending = set(self.seen)
            while pending:
                for job_id in list(pending):
                    status = self._get(http, "GET /api/v1/jobs/{job_id}", f"/api/v1/jobs/{job_id}")
                    self.seen[job_id].append(status["status"])
                    if status["status"] in TERMINAL:
                        pending.discard(job_id)
                        self._get(
                            http,
                            "GET /api/v1/jobs/{job_id}/losses",
                            f"/api/v1/jobs/{job_id}/losses",
                        )
                time.sleep(0.2)

    def _submit(self, http: httpx.Client, index: int) -> None:
        while True:
            start = time.perf_counter()
            response = http.post("/api/v1/jobs", json=spec(index))
            self.answers.append(("POST /api/v1/jobs", response.status_code))
            if response.status_code == 202:
                self.submit_seconds.append(time.perf_counter() - start)
                self.seen[response.json()["id"]] = ["queued"]
                return
            # A documented refusal to come back later: do so, as a well-behaved client.
            time.sleep(float(response.headers.get("Retry-After", "1")))

    def _get(self, http: httpx.Client, operation: str, path: str) -> dict[str, Any]:
        response = http.get(path)
        self.answers.append((operation, response.status_code))
        document: dict[str, Any] = response.json()
        return document


def documented(openapi: dict[str, Any]) -> set[tuple[str, int]]:
    """(operation, status) pairs the OpenAPI document lists."""
    pairs = set()
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for code in operation.get("responses", {}):
                if code.isdigit():
                    pairs.add((f"{method.upper()} {path}", int(code)))
    return pairs


def check_database(database_url: str, expected: int) -> list[str]:
    """What is wrong with the jobs in the database after the load (nothing, one hopes)."""
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    problems = []
    with psycopg.connect(url) as connection:
        jobs = connection.execute("SELECT id, status, attempts, epoch, epochs FROM jobs").fetchall()
        counts = dict(
            connection.execute(
                "SELECT job_id, count(DISTINCT epoch) FROM epoch_losses GROUP BY job_id"
            ).fetchall()
        )
        doubled = connection.execute(
            "SELECT count(*) FROM (SELECT 1 FROM epoch_losses GROUP BY job_id, epoch "
            "HAVING count(*) > 1) d"
        ).fetchone()[0]
    if len(jobs) != expected:
        problems.append(f"{len(jobs)} jobs stored, {expected} submitted")
    for job_id, status, attempts, epoch, epochs in jobs:
        if status not in TERMINAL:
            problems.append(f"job {job_id} ended {status}")
        if attempts != 1:
            problems.append(f"job {job_id} was delivered {attempts} times")
        if status == "succeeded" and counts.get(job_id, 0) != epochs:
            problems.append(f"job {job_id} has {counts.get(job_id, 0)} of {epochs} epochs")
        if counts.get(job_id, 0) != epoch:
            problems.append(f"job {job_id} says epoch {epoch} but has {counts.get(job_id, 0)}")
    if doubled:
        problems.append(f"{doubled} per-epoch rows recorded twice")
    return problems


def run_load(
    url: str,
    database_url: str,
    jobs: int,
    clients: int,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Load the API at ``url`` (jobs stored in ``database_url``); a report of what went wrong."""
    openapi = httpx.get(f"{url}/openapi.json", timeout=30).json()
    load = [Client(range(i, jobs, clients), headers or {}) for i in range(clients)]
    threads = [threading.Thread(target=client.run, args=(url,)) for client in load]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    problems = check_database(database_url, jobs)

    answers = Counter(answer for client in load for answer in client.answers)
    allowed = documented(openapi)
    for (operation, status), count in answers.items():
        if not (200 <= status < 300 or (400 <= status < 500 and (operation, status) in allowed)):
            problems.append(f"{count} answers {status} to {operation}, undocumented")
    for client in load:
        for job_id, statuses in client.seen.items():
            ends = [s for s in statuses if s in TERMINAL]
            if len(set(ends)) != 1 or statuses[statuses.index(ends[0]) :] != ends:
                problems.append(f"job {job_id} went through {statuses}: not one ending")
    submits = sorted(s for client in load for s in client.submit_seconds)
    return {
        "jobs": jobs,
        "clients": clients,
        "seconds": seconds,
        "answers": answers,
        "submit_ms": {
            "p50": 1000 * statistics.median(submits),
            "p95": 1000 * submits[int(0.95 * (len(submits) - 1))],
            "max": 1000 * submits[-1],
        },
        "statuses": Counter(statuses[-1] for c in load for statuses in c.seen.values()),
        "problems": problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    args = parser.parse_args()
    with Stack(workers=1, concurrency=args.concurrency, api_workers=2, env=ENV) as stack:
        report = run_load(stack.url, stack.env["DATABASE_URL"], args.jobs, args.clients)
    print(
        f"{report['jobs']} jobs from {report['clients']} clients in {report['seconds']:.1f} s "
        f"({report['jobs'] / report['seconds']:.1f} jobs/s end to end)"
    )
    submit = report["submit_ms"]
    print(
        f"submit latency: p50 {submit['p50']:.0f} ms, p95 {submit['p95']:.0f} ms, "
        f"max {submit['max']:.0f} ms"
    )
    print("final statuses:", dict(report["statuses"]))
    for (operation, status), count in sorted(report["answers"].items()):
        print(f"  {count:6d} x {status} {operation}")
    if report["problems"]:
        print(f"{len(report['problems'])} PROBLEMS:")
        for problem in report["problems"][:50]:
            print("  " + problem)
        raise SystemExit(1)
    print("OK: every job ended exactly once, no epoch recorded twice, no undocumented answer")


if __name__ == "__main__":
    main()
