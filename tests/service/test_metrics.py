"""/metrics: the API's counters and timings move with the requests, the worker's with its jobs."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from service.spec import JOB_SPEC
from store.db import sessions
from store.jobs import create_job
from store.models import Job
from store.queue import enqueue
from store.settings import get_settings
from tests.service.conftest import (
    BROKER_URL,
    DATABASE_URL,
    TEST_OWNER,
    WorkerProcess,
    wait_for_status,
)
from tests.service.servers import drop_queue, free_port, private_queue, start_workers

JOB = {"name": "metered", "training": {"epochs": 30}}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return samples(response.get_data(as_text=True))


@pytest.mark.usefixtures("worker")
def test_api_metrics_move_with_a_job(client: Any, app: Any) -> None:
    before = scrape(app.test_client())  # no token: /metrics is for the scraper
    response = client.post("/api/v1/jobs", json=JOB)
    assert response.status_code == 202
    job = wait_for_status(client, response.get_json()["id"], {"succeeded"})
    after = scrape(app.test_client())

    submitted = ("gradyard_jobs_submitted_total", ())
    assert after[submitted] == before.get(submitted, 0) + 1
    posted = (
        "gradyard_http_request_duration_seconds_count",
        (("method", "POST"), ("route", "/api/v1/jobs"), ("status", "202")),
    )
    assert after[posted] == before.get(posted, 0) + 1
    # By URL rule, not raw path: one series for every job's GET.
    read = (
        "gradyard_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/api/v1/jobs/<job_id>"), ("status", "200")),
    )
    assert after[read] > before.get(read, 0)
    assert not any(job["id"] in str(labels) for _, labels in after)
    assert ("gradyard_queue_depth", ()) in after


@dataclass
class Metered:
    """A worker on a private queue, writing its metrics to ``dir``, serving them on ``port``."""

    queue: str
    port: int
    dir: Path
    process: WorkerProcess


@pytest.fixture(scope="module")
def metered_worker(services: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Metered]:
    """A worker of its own: a private queue, a multiprocess directory and a metrics port."""
    tmp = tmp_path_factory.mktemp("metered")
    queue, port = private_queue(), free_port()
    env = {
        "QUEUE_NAME": queue,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus"),
        "WORKER_METRICS_PORT": str(port),
    }
    (process,) = start_workers(tmp, 1, **env)
    try:
        yield Metered(queue, port, tmp / "prometheus", process)
    finally:
        process.stop()
        drop_queue(BROKER_URL, queue)


def run_on(worker: Metered, timeout: float = 60) -> str:
    """Store JOB, send it to ``worker``'s private queue, wait for it to end; its id."""
    spec = JOB_SPEC.validate_json(json.dumps(JOB)).checked().to_dict()
    with sessions(DATABASE_URL).begin() as session:
        job_id = create_job(session, spec, "metered", TEST_OWNER).id
    enqueue(get_settings().model_copy(update={"queue_name": worker.queue}), job_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions(DATABASE_URL).begin() as session:
            if session.get(Job, job_id).status in ("succeeded", "failed", "cancelled"):
                return job_id
        time.sleep(0.05)
    raise TimeoutError(job_id)


def test_worker_metrics_count_finished_jobs_and_time_epochs(metered_worker: Metered) -> None:
    run_on(metered_worker)
    # The pool process writes after the task returns: give it a moment.
    deadline = time.monotonic() + 10
    while True:
        text = httpx.get(f"http://127.0.0.1:{metered_worker.port}/metrics").text
        found = samples(text)
        finished = found.get(("gradyard_jobs_finished_total", (("status", "succeeded"),)), 0)
        if finished >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert finished == 1
    assert found[("gradyard_job_duration_seconds_count", (("status", "succeeded"),))] == 1
    assert found[("gradyard_epoch_duration_seconds_count", ())] >= 1
    # The API, pointed at the same directory, adds up the same files (multiprocess mode).
    combined = CollectorRegistry()
    MultiProcessCollector(combined, path=str(metered_worker.dir))
    same = samples(generate_latest(combined).decode())
    assert same[("gradyard_jobs_finished_total", (("status", "succeeded"),))] == 1


def test_a_queued_job_cancelled_by_the_api_counts_as_finished(client: Any, app: Any) -> None:
    spec = JOB_SPEC.validate_json(json.dumps(JOB)).checked().to_dict()
    with sessions(DATABASE_URL).begin() as session:  # stored, never enqueued: it stays queued
        job_id = create_job(session, spec, "cancel-me", TEST_OWNER).id
    cancelled = ("gradyard_jobs_finished_total", (("status", "cancelled"),))
    before = scrape(app.test_client()).get(cancelled, 0)
    assert client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 202
    assert client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 202  # counted once
    assert scrape(app.test_client())[cancelled] == before + 1


def test_metrics_have_process_collectors_every_status_and_openmetrics_on_request(app: Any) -> None:
    scraper = app.test_client()
    plain = scraper.get("/metrics")
    assert plain.content_type.startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(plain.get_data(True))}
    assert {"process_resident_memory_bytes", "python_info", "gradyard_queue_depth"} <= names
    finished = [
        line
        for line in plain.get_data(True).splitlines()
        if line.startswith("gradyard_jobs_finished_total{")
    ]
    assert {line.split('"')[1] for line in finished} == {
        "succeeded",
        "failed",
        "cancelled",
        "pruned",
    }

    open_metrics = scraper.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert open_metrics.content_type.startswith("application/openmetrics-text")
    assert open_metrics.get_data(True).rstrip().endswith("# EOF")
