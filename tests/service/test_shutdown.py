"""A stopping worker (SIGTERM: `docker compose stop`, Kubernetes, Ctrl-C) hands its job back at
once: the job checkpoints, goes back to ``queued``, resumes on another worker, and ends bitwise
equal to the engine alone; the stopping worker exits within seconds, not after the job."""

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from engine import train
from tests.service.conftest import wait_for_status
from tests.service.servers import running_on, start_workers, wait_until
from tests.service.specs import moons_job

pytestmark = pytest.mark.usefixtures("services")

# Tens of seconds of training: far longer than a worker may take to stop.
LONG_JOB = {"name": "stop me", **moons_job(6000, samples=20, seed=3)}


def test_sigterm_hands_the_job_to_another_worker_at_once(
    client: Any, queue: str, tmp_path: Path
) -> None:
    workers = start_workers(tmp_path, 2, QUEUE_NAME=queue, CHECKPOINT_SECONDS="60")
    try:
        job_id = client.post("/api/v1/jobs", json=LONG_JOB).get_json()["id"]
        first = wait_until(lambda: running_on(workers, job_id, 1), 60, "a worker to claim it")
        wait_until(lambda: _job(client, job_id)["progress"]["epoch"] > 50, 60, "some epochs")

        stopped_at = time.monotonic()
        os.kill(first.process.pid, signal.SIGTERM)
        first.process.wait(timeout=60)
        stopping_took = time.monotonic() - stopped_at
        [second] = [w for w in workers if w is not first]
        wait_until(lambda: running_on([second], job_id, 2), 60, "the other worker to resume it")
        resumed_after = time.monotonic() - stopped_at

        reference = train(_job(client, job_id)["spec"])
        done = wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=180)
        log = first.log_path.read_text()
    finally:
        for worker in workers:
            worker.stop()
    # Bounds for a busy shared machine; BENCHMARKS.md has the medians (targets 5 s and 2 s).
    assert stopping_took < 20, f"the stopping worker took {stopping_took:.1f} s"
    assert resumed_after < 30, f"resumed {resumed_after:.1f} s after the SIGTERM"
    assert f"job {job_id} handed back after epoch" in log, log[-3000:]
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
    losses = client.get(f"/api/v1/jobs/{job_id}/losses?limit=10000").get_json()["items"]
    epochs = LONG_JOB["training"]["epochs"]
    assert [item["epoch"] for item in losses] == list(range(1, epochs + 1))  # no gap, no repeat
    assert [item["loss"] for item in losses] == reference.losses  # bitwise


def _job(client: Any, job_id: str) -> dict[str, Any]:
    document: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").get_json()
    return document
