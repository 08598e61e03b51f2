"""bench/load.py, trimmed: concurrent clients against gunicorn with two worker processes.

The full run (1,000 jobs from 20 clients) is ``.venv/bin/python bench/load.py``; here 40 jobs
from as many clients (so CI stays quick): every job ends exactly once, no epoch is recorded twice,
and every answer is a 2xx or a documented 4xx.
"""

from pathlib import Path

import pytest

from bench.load import run_load
from tests.service.servers import (
    ApiServer,
    auth_headers_for,
    database_of_its_own,
    private_queue,
    start_workers,
)

pytestmark = pytest.mark.usefixtures("services")


def test_concurrent_clients_every_job_ends_once(tmp_path: Path) -> None:
    with database_of_its_own("load") as database_url:
        env = {"DATABASE_URL": database_url, "QUEUE_NAME": private_queue()}
        workers = start_workers(tmp_path, 2, **env)
        api = ApiServer(tmp_path / "api.log", workers=2, **env)
        try:
            report = run_load(api.url, database_url, 40, 20, auth_headers_for(database_url))
        finally:
            for worker in workers:
                worker.process.terminate()
            api.stop()
            for worker in workers:
                worker.stop()
    assert report["problems"] == []
    assert report["statuses"] == {"succeeded": 36, "failed": 4}  # every tenth job overflows
