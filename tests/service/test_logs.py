"""Structured logs: one JSON object per line, the job id on every line logged about a job."""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from store.logging_setup import JsonFormatter, job_context
from store.settings import get_settings
from tests.service.conftest import wait_for_status
from tests.service.servers import wait_until
from tests.service.test_metrics import Metered, metered_worker, run_on

FIELDS = {"time", "level", "logger", "message", "job_id"}
__all__ = ["metered_worker"]  # the fixture, shared with test_metrics


def test_a_record_is_one_json_line_naming_the_job() -> None:
    record = logging.LogRecord("gradyard.test", logging.INFO, __file__, 1, "epoch %d", (3,), None)
    with job_context("job-1"):
        inside = json.loads(JsonFormatter().format(record))
    outside = json.loads(JsonFormatter().format(record))
    assert set(inside) == FIELDS
    assert (inside["level"], inside["logger"], inside["message"]) == (
        "INFO",
        "gradyard.test",
        "epoch 3",
    )
    assert inside["job_id"] == "job-1"
    assert outside["job_id"] is None


@pytest.fixture
def api_log() -> Iterator[io.StringIO]:
    """What the API logs during a test, formatted as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("service")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.mark.usefixtures("worker")
def test_api_lines_name_the_job_and_hold_no_token(
    client: Any, api_log: io.StringIO, api_token: str
) -> None:
    job = client.post("/api/v1/jobs", json={"training": {"epochs": 5}}).get_json()
    wait_for_status(client, job["id"], {"succeeded"})
    lines = [json.loads(line) for line in api_log.getvalue().splitlines()]
    queued = [line for line in lines if line["message"] == f"job {job['id']} queued"]
    assert len(queued) == 1
    assert queued[0]["job_id"] == job["id"]
    assert all(set(line) >= FIELDS for line in lines)
    assert api_token not in api_log.getvalue()


def test_worker_lines_are_json_and_name_the_job(metered_worker: Metered) -> None:
    job_id = run_on(metered_worker)
    log = metered_worker.process.log_path

    def claimed_and_ended() -> list[dict[str, Any]]:
        """The lines about the job, once there are both (else none)."""
        # Celery's start-up banner is printed, not logged; every logged line is one JSON object.
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        assert lines and all(set(line) >= FIELDS for line in lines)
        about = [line for line in lines if job_id in line["message"]]
        return about if len(about) >= 2 else []

    # The job's end is committed before the worker logs it: on a loaded machine, the line of
    # how it ended can come a moment after the API says so.
    about = wait_until(claimed_and_ended, 60, "the lines of the job's claim and end")
    assert all(line["job_id"] == job_id for line in about)
    assert get_settings().secret_key not in log.read_text()
