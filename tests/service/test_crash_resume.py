"""A worker killed mid-job (``kill -9``): the job resumes from its checkpoint on the next worker.

Each test has a queue of its own and two workers started for it: it kills the one running the job,
and only what it started. With Redis the killed worker's message stays unacknowledged until the
visibility timeout (hours); the other worker's reaper finds the job by its silent heartbeat and
requeues it.
"""

import re
from pathlib import Path
from typing import Any

import pytest

from engine import train
from store.db import sessions
from store.models import Job
from tests.service.conftest import DATABASE_URL, wait_for_status
from tests.service.servers import (
    kill_hard,
    running_on,
    start_workers,
    wait_until,
)
from tests.service.specs import moons_job

pytestmark = pytest.mark.usefixtures("services")

# Under a millisecond an epoch here: 4000 epochs are seconds of training, checkpointed every half
# second (800 could end within 0.55 s, before a checkpoint was ever seen behind the progress).
LONG_JOB = {"name": "crash me", **moons_job(4000, samples=20, seed=7)}
# The same with a validation split, standardized inputs and early stopping: it stops at epoch
# 3163 (best 2763), long after the crash, so the watch's state crosses the checkpoint.
_VALIDATED = moons_job(4000, samples=40, seed=7, early_stopping={"patience": 400})
VALIDATED_JOB = {
    "name": "crash me validated",
    **_VALIDATED,
    "data": {**_VALIDATED["data"], "validation": {"fraction": 0.25}, "normalize": "standard"},
}
# Fast beats and a short patience, so a dead worker's job is found within seconds.
CRASH_ENV = {
    "CHECKPOINT_SECONDS": "0.5",
    "HEARTBEAT_SECONDS": "0.2",
    "HEARTBEAT_TIMEOUT": "2",
    "REAPER_SECONDS": "0.5",
}


def submit(client: Any, spec: dict[str, Any]) -> str:
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    job_id: str = response.get_json()["id"]
    return job_id


def checkpoint_behind_progress(job_id: str) -> int | None:
    """The checkpoint's epoch once one is stored and epochs past it are recorded, else None."""
    with sessions(DATABASE_URL).begin() as session:
        job = session.get_one(Job, job_id)
        if job.checkpoint is not None and job.checkpoint["epoch"] < job.epoch:
            return int(job.checkpoint["epoch"])
    return None


def all_losses(client: Any, job_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/v1/jobs/{job_id}/losses?limit=10000").get_json()
    assert page["next"] is None
    items: list[dict[str, Any]] = page["items"]
    return items


@pytest.mark.parametrize("job", [LONG_JOB, VALIDATED_JOB], ids=["plain", "validated"])
def test_killed_worker_job_resumes_bitwise_on_the_next(
    client: Any, queue: str, tmp_path: Path, job: dict[str, Any]
) -> None:
    workers = start_workers(tmp_path, 2, QUEUE_NAME=queue, **CRASH_ENV)
    measures: list[dict[str, float]] = []
    try:
        job_id = submit(client, job)
        first = wait_until(lambda: running_on(workers, job_id, 1), 30, "a worker to claim it")
        wait_until(lambda: checkpoint_behind_progress(job_id), 30, "a checkpoint")
        kill_hard(first)
        killed = client.get(f"/api/v1/jobs/{job_id}").get_json()
        assert killed["status"] == "running" and killed["attempts"] == 1

        # Meanwhile, the other worker's reaper finds the job.
        reference = train(killed["spec"], on_epoch=lambda e, loss, m: measures.append(m))
        done = wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=120)
        [second] = [worker for worker in workers if worker is not first]
        log = second.log_path.read_text()
    finally:
        for worker in workers:
            worker.stop()
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2 and done["error"] is None
    resumes = f"job {job_id} attempt 2 resumes after epoch "
    assert resumes in log, log[-3000:]
    resumed_after = int(re.search(re.escape(resumes) + r"(\d+)", log).group(1))  # type: ignore[union-attr]
    assert 0 < resumed_after < killed["progress"]["epoch"]  # from the checkpoint, not epoch 1

    losses = all_losses(client, job_id)
    epochs = reference.epochs_run
    assert [item["epoch"] for item in losses] == list(range(1, epochs + 1))  # no gap, no repeat
    assert [item["loss"] for item in losses] == reference.losses  # bitwise
    for name in ("val_loss", "val_accuracy"):
        assert [item[name] for item in losses] == [m.get(name) for m in measures]
    assert (done["stopped_epoch"], done["best_epoch"]) == (
        reference.stopped_epoch,
        reference.best_epoch,
    )
    if job is VALIDATED_JOB:  # early stopping ended it, after the crash, on the best weights
        assert reference.stopped_epoch is not None and reference.stopped_epoch > resumed_after
    assert client.get(f"/api/v1/jobs/{job_id}/weights").get_json() == reference.weights


def test_job_whose_workers_keep_dying_fails_after_its_attempts(
    client: Any, queue: str, tmp_path: Path
) -> None:
    workers = start_workers(tmp_path, 2, QUEUE_NAME=queue, MAX_ATTEMPTS="1", **CRASH_ENV)
    try:
        job_id = submit(client, LONG_JOB)
        first = wait_until(lambda: running_on(workers, job_id, 1), 30, "a worker to claim it")
        kill_hard(first)
        failed = wait_for_status(client, job_id, {"failed", "succeeded"}, timeout=30)
    finally:
        for worker in workers:
            worker.stop()
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "stopped responding" in failed["error"] and "MAX_ATTEMPTS" in failed["error"]
    assert failed["finished_at"] is not None
