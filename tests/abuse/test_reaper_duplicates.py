"""Issue 12, item 9: the reaper must not pile up messages for jobs that are merely waiting.

Ten jobs wait on a queue no worker reads. A worker on another queue runs its reaper thread every
0.2 s with a QUEUED_TIMEOUT of 0.5 s, so every few passes find the ten jobs "unstarted for too
long". The queue must never hold more than ten messages; once they are lost (the queue's key
deleted) the next pass must put back exactly ten; and when a worker finally reads the queue, each
job runs once.
"""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from store.db import sessions
from store.models import Job
from tests.abuse.own_queue import ENDED, Tenant, own_stack, owner_name, times
from tests.service.conftest import BROKER_URL, DATABASE_URL, WorkerProcess
from tests.service.servers import drop_queue, private_queue, start_workers, wait_until

pytestmark = pytest.mark.usefixtures("services")

JOB = {"training": {"epochs": 1}}
REAPER_ENV = {
    "REAPER_SECONDS": "0.2",
    "QUEUED_TIMEOUT": "0.5",
    # All ten could start at once: every one of them needs its message.
    "MAX_RUNNING_PER_OWNER": "10",
}


class Passes:
    """Watches the reaper's passes over the jobs (each one stamps their ``heartbeat_at``) and
    the queue's length meanwhile."""

    def __init__(self, job_ids: list[str], queue: str) -> None:
        self.job_ids, self.queue = job_ids, queue
        self.broker = redis.Redis.from_url(BROKER_URL)
        self.seen: set[datetime] = set()
        self.longest = 0

    def length(self) -> int:
        length = int(self.broker.llen(self.queue))
        self.longest = max(self.longest, length)
        return length

    def count(self) -> int:
        """Passes seen so far that found the jobs waiting past QUEUED_TIMEOUT."""
        self.length()
        with sessions(DATABASE_URL).begin() as session:
            stamps = session.scalars(select(Job.heartbeat_at).where(Job.id.in_(self.job_ids)))
            self.seen.update(stamp for stamp in stamps if stamp is not None)
        self.length()
        return len(self.seen)

    def wait(self, passes: int) -> None:
        target = self.count() + passes
        wait_until(lambda: self.count() >= target, 120, f"{passes} reaper passes", interval=0.02)


def test_waiting_jobs_keep_one_message_each(
    make_token: Callable[[str], str], tmp_path: Path
) -> None:
    with own_stack(tmp_path, workers=0) as stack:  # nobody reads stack.queue
        tenant = Tenant(stack.api, make_token(owner_name("waiting")))
        jobs = [tenant.submit(JOB) for _ in range(10)]
        passes = Passes(jobs, stack.queue)
        assert passes.length() == 10

        reaper_queue = private_queue()
        (tmp_path / "reaper").mkdir()
        (tmp_path / "reader").mkdir()
        (reaper,) = start_workers(tmp_path / "reaper", 1, QUEUE_NAME=reaper_queue, **REAPER_ENV)
        reader: list[WorkerProcess] = []
        try:
            passes.wait(5)
            assert passes.longest == 10, f"the queue grew to {passes.longest} messages"

            passes.broker.delete(stack.queue)  # every message lost
            wait_until(lambda: passes.length() == 10, 60, "the messages to be restored")
            passes.wait(3)
            assert passes.longest == 10, f"the queue grew to {passes.longest} messages"

            reader = start_workers(tmp_path / "reader", 1, QUEUE_NAME=stack.queue)
            wait_until(
                lambda: all(t.status in ENDED for t in times(jobs).values()),
                120,
                "every job to run",
                interval=0.2,
            )
            wait_until(lambda: passes.length() == 0, 60, "the queue to drain")
        finally:
            for worker in [reaper, *reader]:
                worker.stop()
            drop_queue(BROKER_URL, reaper_queue)
        rows = times(jobs)
        assert {t.status for t in rows.values()} == {"succeeded"}
        assert {t.attempts for t in rows.values()} == {1}  # each ran once, on one message
        print(f"\nlongest queue seen: {passes.longest} messages for 10 jobs")
