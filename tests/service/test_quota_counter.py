"""owner_active_jobs (migration 0014): the count a submission reads stays what counting the
owner's jobs gives, through every kind of change to jobs, one row or many owners at once, on
Postgres and on the embedded SQLite; and a batch of submissions reads it only once it holds its
owners' locks (migration 0015)."""

import threading
import uuid
from collections.abc import Callable
from typing import Any, cast

import pytest
from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from store import jobs
from store.db import sessions
from store.models import Job, Sweep
from store.progress import claim_job, finish_job
from tests.service.servers import wait_until

pytestmark = pytest.mark.usefixtures("services")

SPEC = {"training": {"epochs": 3}}


def counted(session: Session, owners: list[str]) -> dict[str, int]:
    """The owners' counts the slow way: every job of theirs that holds a place."""
    table = cast(Table, Job.__table__)
    query = (
        select(Job.owner, func.count())
        .where(Job.owner.in_(owners), jobs.counts_against_quota(table))
        .group_by(Job.owner)
    )
    found = dict(session.execute(query).tuples().all())
    return {owner: found.get(owner, 0) for owner in owners}


def test_the_count_follows_every_change_to_jobs(each_database: sessionmaker[Session]) -> None:
    a, b = (f"counter-{uuid.uuid4().hex[:8]}" for _ in range(2))
    owners = [a, b]

    def check(expected: dict[str, int]) -> None:
        with each_database() as session:
            assert jobs.active_counts(session, owners) == counted(session, owners) == expected
            assert jobs.lock_owners_and_count(session, owners) == expected  # what a batch reads

    def step(change: Callable[[Session], Any]) -> Any:
        with each_database.begin() as session:
            return change(session)

    try:
        ids = {
            owner: [step(lambda s, o=owner: jobs.create_job(s, SPEC, None, o).id) for _ in range(3)]
            for owner in owners
        }
        check({a: 3, b: 3})
        claim = step(lambda s: claim_job(s, ids[a][0], 3, 60))  # queued -> running: still held
        check({a: 3, b: 3})
        step(lambda s: finish_job(s, ids[a][0], claim.attempt, {"w": []}))  # ended: place freed
        check({a: 2, b: 3})
        # One statement moving both owners' jobs, and one deleting a queued job of each.
        step(
            lambda s: s.execute(
                update(Job).where(Job.id.in_([ids[a][1], ids[b][1]])).values(status="cancelled")
            )
        )
        check({a: 1, b: 2})
        step(lambda s: s.execute(delete(Job).where(Job.id.in_([ids[a][2], ids[b][2]]))))
        check({a: 0, b: 1})
        step(lambda s: s.execute(delete(Job).where(Job.id == ids[a][0])))  # an ended one: no change
        check({a: 0, b: 1})

        # A sweep's trials hold a place only while they run.
        sweep_id = str(uuid.uuid4())
        step(
            lambda s: s.execute(
                insert(Sweep).values(
                    id=sweep_id,
                    owner=a,
                    request={},
                    metric="loss",
                    mode="min",
                    max_parallel=2,
                    trials=2,
                )
            )
        )
        trials = [step(lambda s: jobs.create_job(s, SPEC, None, a).id) for _ in range(2)]
        step(lambda s: s.execute(update(Job).where(Job.id.in_(trials)).values(sweep_id=sweep_id)))
        check({a: 0, b: 1})
        step(lambda s: s.execute(update(Job).where(Job.id.in_(trials)).values(status="running")))
        check({a: 2, b: 1})
        step(lambda s: s.execute(update(Job).where(Job.id == trials[0]).values(status="pruned")))
        check({a: 1, b: 1})
        # A job whose transaction rolls back leaves the count as it was.
        with pytest.raises(RuntimeError), each_database.begin() as session:
            jobs.create_job(session, SPEC, None, b)
            raise RuntimeError("rolled back")
        check({a: 1, b: 1})
    finally:
        with each_database.begin() as session:
            session.execute(delete(Job).where(Job.owner.in_(owners)))
            session.execute(delete(Sweep).where(Sweep.owner.in_(owners)))
        check({a: 0, b: 0})


def test_a_batch_reads_its_owners_counts_once_it_holds_their_locks(postgres: str) -> None:
    """A submission holding the owner's lock stores a job; a batch that waits for that lock
    counts the job once it is committed (a count read before the wait would miss it)."""
    owner = f"counter-{uuid.uuid4().hex[:8]}"
    factory = sessions(postgres)
    read: dict[str, int] = {}
    try:
        with factory.begin() as holder:
            jobs.lock_owners(holder, [owner])
            jobs.create_job(holder, SPEC, None, owner)
            pid = holder.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()

            def batch() -> None:
                with factory() as session:
                    read.update(jobs.lock_owners_and_count(session, [owner]))

            waiter = threading.Thread(target=batch)
            waiter.start()
            wait_until(
                lambda: blocked_by(factory, pid), 60, "the batch to wait for the owner's lock"
            )
            assert not read
        waiter.join(60)
        assert read == {owner: 1}
    finally:
        with factory.begin() as session:
            session.execute(delete(Job).where(Job.owner == owner))


def blocked_by(factory: sessionmaker[Session], pid: int) -> bool:
    """Whether some session waits for a lock that backend ``pid`` holds."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
    with factory() as session:
        return bool(session.execute(text(query), {"pid": pid}).scalar_one())
