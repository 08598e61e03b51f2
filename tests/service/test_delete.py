"""DELETE /api/v1/jobs/{id}: an ended job goes with its losses; workers and reapers racing it
write nothing back and fail with nothing."""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from engine import EpochStats
from store import jobs
from store.db import sessions
from store.events import Cursor, read_events
from store.models import EpochLoss, Job, utcnow
from store.progress import ProgressRecorder, Superseded, claim_job, fail_job, finish_job
from store.reaper import reap
from store.settings import Settings, get_settings
from tests.service.conftest import DATABASE_URL, TEST_OWNER

pytestmark = pytest.mark.usefixtures("services")

SPEC = {"training": {"epochs": 3}}
DAY = timedelta(days=1)


@pytest.fixture
def make_job() -> Iterator[Callable[..., str]]:
    """``make_job(owner=..., **columns)``: a stored job with these columns, losses for 3 epochs."""
    made: list[str] = []

    def make(owner: str = TEST_OWNER, **columns: Any) -> str:
        with sessions(DATABASE_URL).begin() as session:
            job = jobs.create_job(session, SPEC, "delete test", owner)
            for name, value in columns.items():
                setattr(job, name, value)
            jobs_losses = [EpochLoss(job_id=job.id, epoch=e, loss=1.0 / e) for e in (1, 2, 3)]
            session.add_all(jobs_losses)
            made.append(job.id)
            return job.id

    yield make
    with sessions(DATABASE_URL).begin() as session:
        session.execute(delete(Job).where(Job.id.in_(made)))


def stored(job_id: str) -> tuple[bool, int]:
    """Whether the job row exists, and how many loss rows it has."""
    with sessions(DATABASE_URL).begin() as session:
        exists = session.get(Job, job_id) is not None
        count = session.scalar(select(func.count()).where(EpochLoss.job_id == job_id))
        return exists, count or 0


def test_an_ended_job_is_deleted_with_everything_it_had(client: Any, make_job: Any) -> None:
    job_id = make_job(
        status="succeeded",
        finished_at=utcnow(),
        weights={"w": [1.0]},
        checkpoint={"c": 1},
    )
    response = client.delete(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 204 and response.data == b""
    assert stored(job_id) == (False, 0)
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 404
    again = client.delete(f"/api/v1/jobs/{job_id}")
    assert again.status_code == 404
    assert again.mimetype == "application/problem+json"


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_every_ended_status_may_be_deleted(client: Any, make_job: Any, status: str) -> None:
    job_id = make_job(status=status, finished_at=utcnow())
    assert client.delete(f"/api/v1/jobs/{job_id}").status_code == 204


@pytest.mark.parametrize("status", ["queued", "running", "cancelling"])
def test_an_active_job_must_be_cancelled_first(client: Any, make_job: Any, status: str) -> None:
    job_id = make_job(status=status)
    response = client.delete(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert "cancel it first" in response.get_json()["detail"]
    assert stored(job_id) == (True, 3)


def test_another_owners_job_is_not_found(client: Any, make_job: Any) -> None:
    job_id = make_job(owner=f"other-{uuid.uuid4().hex[:6]}", status="succeeded")
    assert client.delete(f"/api/v1/jobs/{job_id}").status_code == 404
    assert stored(job_id) == (True, 3)
    assert client.delete("/api/v1/jobs/not-a-uuid").status_code == 404


def test_a_stream_of_a_deleted_job_ends(make_job: Any) -> None:
    job_id = make_job(status="running")
    with sessions(DATABASE_URL).begin() as session:
        _, cursor = read_events(session, job_id, Cursor())
        assert not cursor.finished
        session.execute(delete(Job).where(Job.id == job_id))
        events, cursor = read_events(session, job_id, cursor)
    assert cursor.finished and events[-1].data["error"] == "job deleted"


@pytest.fixture
def patient() -> Settings:
    """A reaper that acts only on jobs silent for a day (so on no other test's jobs)."""
    day = DAY.total_seconds()
    return get_settings().model_copy(update={"heartbeat_timeout": day, "queued_timeout": day})


def end_it(session: Any, job_id: str) -> None:
    """Cancel the job if queued, fail it if a worker holds it (as a reaper that gave up)."""
    job = session.get(Job, job_id)
    if job is not None:
        try:
            jobs.request_cancel(session, job)
        except jobs.Conflict:
            return  # it ended meanwhile
    fail_job(session, job_id, "given up")


def race(job_id: str, patient: Settings, pause: float) -> str:
    """A worker ends the job while the API deletes it and a reaper passes; the worker's fate."""
    with sessions(DATABASE_URL).begin() as session:
        claim = claim_job(session, job_id, 3, 60)
    assert claim is not None
    recorder = ProgressRecorder(sessions(DATABASE_URL), job_id, claim.attempt, 0.01, 1)
    start = threading.Barrier(3)
    errors: list[BaseException] = []
    outcome: list[str] = []

    def worker() -> None:
        try:
            for epoch in range(4, 10):
                recorder.add(EpochStats(epoch, 0.1, None))
                recorder.flush()
            with sessions(DATABASE_URL).begin() as session:
                outcome.append(finish_job(session, job_id, claim.attempt, {"w": [1.0]}))
        except Superseded:
            outcome.append("superseded")

    def api() -> None:
        time.sleep(pause)
        while True:
            try:
                with sessions(DATABASE_URL).begin() as session:
                    jobs.remove_ended_job(session, job_id, TEST_OWNER)
                return
            except jobs.Conflict:
                # Still active: end it, so the delete gets its turn while the worker writes.
                with sessions(DATABASE_URL).begin() as session:
                    end_it(session, job_id)

    def reaper() -> None:
        for _ in range(5):
            time.sleep(pause)  # varied, so that the worker sometimes finishes first
            with sessions(DATABASE_URL).begin() as session:
                # Its worker looks dead: the reaper requeues the job, fencing the worker out.
                silent = utcnow() - 2 * DAY
                session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=silent))
                reap(session, patient)

    def run(work: Callable[[], None]) -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in (worker, api, reaper)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    assert errors == []
    assert stored(job_id) == (False, 0)
    # Later still: the old run's writes, another delivery's claim, a reaper: all find nothing.
    recorder = ProgressRecorder(sessions(DATABASE_URL), job_id, claim.attempt, 0.01, 1)
    recorder.add(EpochStats(10, 0.1, None))
    with pytest.raises(Superseded):
        recorder.flush()
    recorder.close()
    with sessions(DATABASE_URL).begin() as session:
        assert claim_job(session, job_id, 3, 60) is None
        fail_job(session, job_id, "late", claim.attempt)
        assert job_id not in reap(session, patient).to_enqueue
    assert stored(job_id) == (False, 0)
    return outcome[0]


def test_a_late_worker_and_a_reaper_racing_a_delete_resurrect_nothing(
    make_job: Any, patient: Settings
) -> None:
    """Over many rounds the job is gone in the end, nothing is written back, and the only error
    anyone meets is the worker's quiet ``Superseded``."""
    outcomes = [race(make_job(), patient, pause=0.008 * i) for i in range(25)]
    assert set(outcomes) <= {"succeeded", "superseded"}
    print("worker outcomes:", {o: outcomes.count(o) for o in set(outcomes)})


def test_a_worker_given_a_deleted_job_skips_it() -> None:
    from worker.runner import run_job

    assert run_job(get_settings(), str(uuid.uuid4())) == "skipped"
