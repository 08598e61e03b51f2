"""List filters at size: GET /api/v1/jobs's query over 100,000 jobs of one owner, on Postgres.

The jobs are written with COPY into a scratch database migrated to the newest schema: labels
``team`` (10 values), ``try`` (5) and ``batch`` (1,000), names ``run-NNNNN``, creation times over a
year. Each filter runs store.jobs.list_jobs (the API's query, a page of 50) 20 times; the median
and the worst are printed with the plan Postgres chose.
Run: .venv/bin/python bench/list_filters.py [--jobs 100000] [--url postgresql+psycopg://...]
"""

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from store.jobs import Filters, list_jobs

ROOT = Path(__file__).resolve().parents[1]
OWNER = "bench"
START = datetime(2026, 1, 1, tzinfo=UTC)


def filters() -> dict[str, tuple[str | None, Filters]]:
    mid = START + timedelta(days=180)
    return {
        "no filter": (None, Filters()),
        "label team (1 in 10)": (None, Filters(labels={"team": "t3"})),
        "labels team+try (none)": (None, Filters(labels={"team": "t3", "try": "2"})),
        "label batch (100 jobs)": (None, Filters(labels={"batch": "b417"})),
        "labels batch+team (10 jobs)": (None, Filters(labels={"batch": "b417", "team": "t4"})),
        "name prefix (100 jobs)": (None, Filters(name_prefix="run-417")),
        "name prefix (1 job)": (None, Filters(name_prefix="run-41700")),
        "created window (1 week)": (
            None,
            Filters(created_after=mid, created_before=mid + timedelta(days=7)),
        ),
        "status + label": ("failed", Filters(labels={"team": "t3"})),
    }


def fill(dsn: str, count: int) -> None:
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        columns = "id, owner, name, status, spec, epochs, epoch, attempts, labels, created_at"
        with cursor.copy(f"COPY jobs ({columns}) FROM STDIN") as copy:
            for i in range(count):
                labels = {"team": f"t{i % 10}", "try": str(i % 5), "batch": f"b{i // 100}"}
                status = "failed" if i % 7 == 0 else "succeeded"
                created = START + timedelta(seconds=i * 315)  # a year over 100,000 jobs
                copy.write_row(
                    (
                        str(uuid.uuid4()),
                        OWNER,
                        f"run-{i:05d}",
                        status,
                        '{"training": {}}',
                        1,
                        1,
                        1,
                        json.dumps(labels),
                        created,
                    )
                )
        cursor.execute("ANALYZE jobs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"gradyard_bench_filters_{uuid.uuid4().hex[:6]}"
    server = make_url(args.url)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    url = server.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(url)
    try:
        from alembic import command
        from alembic.config import Config

        with engine.begin() as connection:
            config = Config(str(ROOT / "alembic.ini"))
            config.attributes["connection"] = connection
            config.attributes["configure_logging"] = False
            command.upgrade(config, "head")
        fill(
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
            args.jobs,
        )
        sessions = sessionmaker(engine)
        print(f"{args.jobs} jobs of one owner; a page of 50, newest first; 20 runs each")
        for label, (status, chosen) in filters().items():
            times, found = [], 0
            for _ in range(20):
                with sessions.begin() as session:
                    started = time.perf_counter()
                    page, _ = list_jobs(session, OWNER, status, 50, None, chosen)
                    times.append((time.perf_counter() - started) * 1000)
                    found = len(page)
            print(
                f"  {label:28} {found:3} rows  median {statistics.median(times):6.2f} ms"
                f"  max {max(times):6.2f} ms"
            )
    finally:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
