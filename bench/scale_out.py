"""Scale-out: 200 short jobs drained by 1, 2 and 4 worker processes; jobs per second for each.

Worker processes come two ways: one Celery worker with --concurrency N (a prefork pool), or N
separate Celery workers of one process each (as on N machines). All jobs are submitted first;
the rate is jobs / (last finished_at - first started_at), read from Postgres.
Run: .venv/bin/python bench/scale_out.py [--jobs 200] [--epochs 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import load, record, verdict
from bench.stack import Stack

ENV = {"RATE_LIMIT": "1000000", "MAX_ACTIVE_JOBS": "1000000"}
# (label, separate workers, --concurrency of each)
SHAPES = [
    ("1 process", 1, 1),
    ("2: --concurrency 2", 1, 2),
    ("2: 2 workers", 2, 1),
    ("4: --concurrency 4", 1, 4),
    ("4: 4 workers", 4, 1),
]


def drain(workers: int, concurrency: int, jobs: int, epochs: int) -> tuple[float, float]:
    """Seconds from the first start to the last finish, and mean seconds per job inside."""
    with Stack(workers=workers, concurrency=concurrency, env=ENV) as stack:
        spec = {"name": "scale", "training": {"epochs": epochs}}
        for _ in range(jobs):
            assert stack.client.post("/api/v1/jobs", json=spec).status_code == 202
        dsn = make_url(stack.env["DATABASE_URL"]).set(drivername="postgresql")
        with psycopg.connect(dsn.render_as_string(hide_password=False)) as connection:
            while True:
                (left,) = connection.execute(
                    "SELECT count(*) FROM jobs WHERE status NOT IN "
                    "('succeeded', 'failed', 'cancelled')"
                ).fetchone() or (0,)
                if not left:
                    break
                time.sleep(0.1)
            span, inside = connection.execute(
                "SELECT extract(epoch FROM max(finished_at) - min(started_at)), "
                "avg(extract(epoch FROM finished_at - started_at)) FROM jobs "
                "WHERE status = 'succeeded'"
            ).fetchone() or (0, 0)
            (bad,) = connection.execute(
                "SELECT count(*) FROM jobs WHERE status <> 'succeeded'"
            ).fetchone() or (0,)
            assert bad == 0, f"{bad} jobs did not succeed"
    return float(span), float(inside)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=300, help="per job (notebook model)")
    args = parser.parse_args()
    before = load()
    print(before)
    print(f"{'worker processes':20} {'seconds':>8} {'jobs/s':>7} {'speed-up':>8} {'job ms':>7}")
    base = 0.0
    rates = {}
    for label, workers, concurrency in SHAPES:
        span, inside = drain(workers, concurrency, args.jobs, args.epochs)
        rate = args.jobs / span
        base = base or rate
        rates[label] = rate
        print(
            f"{label:20} {span:8.2f} {rate:7.1f} {rate / base:7.2f}x {1000 * inside:7.1f}"
            f"   ({load()})"
        )
    two = max(rates["2: --concurrency 2"], rates["2: 2 workers"]) / base
    verdict(two >= 1.8, f"1 -> 2 processes: {two:.2f}x (expected about 2x on 2 cores)")
    result = f"{two:.2f}x ({base:.1f} -> {base * two:.1f} jobs/s)"
    record(
        "scale_out",
        f"scale-out, {args.jobs} jobs, 1 -> 2 processes",
        "about 2x (>= 1.8x)",
        result,
        two / 1.8,
        two >= 1.8,
        before,
        load(),
    )


if __name__ == "__main__":
    main()
