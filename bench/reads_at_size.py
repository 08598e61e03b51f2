"""Reads at size: GET /losses of a 100,000-epoch job, its first page and 500 downsampled points.

Training 100,000 epochs would only fill the table, so the rows are written straight into
Postgres with COPY (plus other jobs' rows, so the index has to pick this job out), and the job
row is marked succeeded. Each read is timed from the client, over HTTP through gunicorn;
EXPLAIN ANALYZE shows the plan of the query the API runs for it.
Run: .venv/bin/python bench/reads_at_size.py [--epochs 100000] [--other-jobs 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import load, percentile, record, verdict
from bench.stack import Stack

QUERIES = {
    "first page": (
        "?limit=1000",
        "SELECT epoch, loss, accuracy FROM epoch_losses WHERE job_id = %s AND epoch > 0 "
        "ORDER BY epoch LIMIT 1001",
    ),
    # store.jobs.loss_page names the kept epochs (1, 201, ..., 100201): 501 of them.
    "every=200 (500 points)": (
        "?every=200&limit=500",
        "SELECT epoch, loss, accuracy FROM epoch_losses WHERE job_id = %s AND epoch > 0 "
        "AND epoch = ANY(%s) ORDER BY epoch LIMIT 501",
    ),
}


def fill(dsn: str, job_id: str, epochs: int, others: int) -> None:
    """``epochs`` loss rows for ``job_id`` and as many for ``others`` made-up jobs."""
    with psycopg.connect(dsn) as connection:
        for index in range(others):
            other = str(uuid.uuid4())
            connection.execute(
                "INSERT INTO jobs (id, owner, name, status, spec, epochs, epoch, attempts, "
                "created_at) SELECT %s, owner, 'other', 'succeeded', spec, epochs, epochs, 1, "
                "created_at FROM jobs WHERE id = %s",
                (other, job_id),
            )
            _copy(connection, other, epochs, index + 1)
        _copy(connection, job_id, epochs, 0)
        connection.execute(
            "UPDATE jobs SET status = 'succeeded', epoch = %s, attempts = 1, "
            "started_at = now(), finished_at = now() WHERE id = %s",
            (epochs, job_id),
        )
        connection.execute("ANALYZE epoch_losses")


def _copy(connection: psycopg.Connection, job_id: str, epochs: int, seed: int) -> None:
    with connection.cursor().copy(
        "COPY epoch_losses (job_id, epoch, loss, accuracy) FROM STDIN"
    ) as copy:
        for epoch in range(1, epochs + 1):
            copy.write_row((job_id, epoch, 1.0 / (epoch + seed), None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100_000)
    parser.add_argument("--other-jobs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    before = load()
    print(before)
    with Stack(workers=0, env={"MAX_EPOCHS": str(args.epochs)}) as stack:
        dsn = make_url(stack.env["DATABASE_URL"]).set(drivername="postgresql")
        dsn_text = dsn.render_as_string(hide_password=False)
        spec = {"name": "big", "training": {"epochs": args.epochs}}
        job_id = stack.client.post("/api/v1/jobs", json=spec).json()["id"]
        start = time.perf_counter()
        fill(dsn_text, job_id, args.epochs, args.other_jobs)
        rows = args.epochs * (args.other_jobs + 1)
        print(f"wrote {rows} loss rows in {time.perf_counter() - start:.1f} s")
        print(f"{'read':24} {'points':>6} {'median ms':>9} {'p90 ms':>7} {'max ms':>7}")
        worst = 0.0
        for name, (query, _) in QUERIES.items():
            url = f"/api/v1/jobs/{job_id}/losses{query}"
            stack.client.get(url)  # warm: the first read pays for the connection
            times, points = [], 0
            for _ in range(args.repeats):
                begin = time.perf_counter()
                response = stack.client.get(url)
                times.append(1000 * (time.perf_counter() - begin))
                points = len(response.json()["items"])
            median = statistics.median(times)
            worst = max(worst, median)
            print(
                f"{name:24} {points:6d} {median:9.1f} {percentile(times, 90):7.1f} "
                f"{max(times):7.1f}"
            )
        with psycopg.connect(dsn_text) as connection:
            for name, (_, sql) in QUERIES.items():
                print(f"\nEXPLAIN ANALYZE, {name}:")
                kept = [1 + k * 200 for k in range(501)]
                params = (job_id, kept) if "ANY" in sql else (job_id,)
                plan = connection.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                for (line,) in plan:
                    print("  " + (line if len(line) <= 150 else line[:146] + " ..."))
    print(load())
    verdict(worst < 50, f"slowest median read {worst:.1f} ms (target < 50 ms each)")
    record(
        "reads_at_size",
        "GET /losses of a 100,000-epoch job",
        "< 50 ms each (median)",
        f"slowest median {worst:.1f} ms",
        worst / 50,
        worst < 50,
        before,
        load(),
    )


if __name__ == "__main__":
    main()
