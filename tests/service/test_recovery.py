"""Recovery paths beside a whole worker's death: its pool process alone killed, and Celery's hard
time limit. Each test has a queue and workers of its own."""

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from engine import train
from tests.service.conftest import wait_for_status
from tests.service.servers import children, running_on, start_workers, wait_until
from tests.service.specs import moons_job

pytestmark = pytest.mark.usefixtures("services")

LONG_JOB = {"name": "lose my pool process", **moons_job(1500, samples=20, seed=11)}
FAST_RECOVERY = {"CHECKPOINT_SECONDS": "0.5", "HEARTBEAT_SECONDS": "0.5", "REAPER_SECONDS": "0.5"}


def test_a_killed_pool_process_job_resumes_bitwise(client: Any, queue: str, tmp_path: Path) -> None:
    # Default HEARTBEAT_TIMEOUT (10 s): recovery within about that, as the defaults promise.
    workers = start_workers(tmp_path, 2, QUEUE_NAME=queue, **FAST_RECOVERY)
    try:
        job_id = client.post("/api/v1/jobs", json=LONG_JOB).get_json()["id"]
        first = wait_until(lambda: running_on(workers, job_id, 1), 60, "a worker to claim it")
        wait_until(lambda: _job(client, job_id)["progress"]["epoch"] > 100, 60, "some epochs")
        [pool_process] = children(first.process.pid)
        os.kill(pool_process, signal.SIGKILL)  # the pool process only: its parent lives on
        killed_at = time.monotonic()
        wait_until(lambda: _job(client, job_id)["attempts"] == 2, 60, "a second attempt")
        recovered_after = time.monotonic() - killed_at
        reference = train(_job(client, job_id)["spec"])
        done = wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=180)
    finally:
        for worker in workers:
            worker.stop()
    assert recovered_after < 40, f"resumed {recovered_after:.1f} s after the kill (target 15 s)"
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
    losses = client.get(f"/api/v1/jobs/{job_id}/losses?limit=10000").get_json()["items"]
    epochs = LONG_JOB["training"]["epochs"]
    assert [item["epoch"] for item in losses] == list(range(1, epochs + 1))
    assert [item["loss"] for item in losses] == reference.losses  # bitwise


def test_the_hard_time_limit_kills_a_job_stuck_in_one_epoch_and_says_so(
    client: Any, queue: str, tmp_path: Path
) -> None:
    # One epoch of some 44 million parameter-samples in small batches (little memory): seconds,
    # far past limit + grace, with no epoch boundary in between for the runner's own check.
    stuck = {
        "model": {"inputs": 2, "layers": [64, 64, 1], "activation": "relu"},
        "data": {"generator": "moons", "samples": 10000},
        "training": {"epochs": 3, "loss": "hinge", "batch_size": 100},
    }
    limits = {"JOB_TIME_LIMIT": "0.5", "JOB_KILL_GRACE_SECONDS": "0.5"}
    [worker] = start_workers(tmp_path, 1, QUEUE_NAME=queue, **limits)
    try:
        job_id = client.post("/api/v1/jobs", json=stuck).get_json()["id"]
        failed = wait_for_status(client, job_id, {"failed", "succeeded"}, timeout=120)
        after = client.post("/api/v1/jobs", json={"training": {"epochs": 2}}).get_json()["id"]
        assert wait_for_status(client, after, {"failed", "succeeded"})["status"] == "succeeded"
    finally:
        worker.stop()
    assert failed["status"] == "failed", failed
    assert "killed after the hard time limit" in failed["error"], failed["error"]


def _job(client: Any, job_id: str) -> dict[str, Any]:
    document: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").get_json()
    return document
