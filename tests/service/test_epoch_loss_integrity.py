"""Epoch rows belong to a job without a foreign key (migration 0013): triggers refuse a
statement's rows whose job is missing, lock the jobs they name until the writer commits, and take
a job's rows when it is deleted; on Postgres and on the embedded SQLite alike."""

import threading
import uuid

import psycopg
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from store.db import sessions
from store.jobs import create_job
from store.models import EpochLoss, Job
from store.progress import insert_losses
from tests.service.conftest import DATABASE_URL

pytestmark = pytest.mark.usefixtures("services")

# The trigger's refusal: from SQLAlchemy, or from the driver itself for a COPY.
REFUSED = (IntegrityError, psycopg.IntegrityError)
NOT_IN_JOBS = "job_id is not in jobs"


def new_job(factory: sessionmaker[Session], owner: str) -> str:
    with factory.begin() as session:
        return create_job(session, {"training": {"epochs": 3}}, "integrity", owner).id


def rows_of(factory: sessionmaker[Session], *job_ids: str) -> int:
    with factory() as session:
        count = select(func.count()).where(EpochLoss.job_id.in_(job_ids))
        return session.scalar(count) or 0


def test_rows_of_a_job_that_does_not_exist_are_refused_and_none_is_kept(
    each_database: sessionmaker[Session],
) -> None:
    owner = f"integrity-{uuid.uuid4().hex[:8]}"
    job_id = new_job(each_database, owner)
    missing = str(uuid.uuid4())
    try:
        with pytest.raises(REFUSED, match=NOT_IN_JOBS), each_database.begin() as session:
            insert_losses(session, missing, [1, 2, 3], {"loss": [0.3, 0.2, 0.1]})
        # One statement naming a real job and a missing one is refused whole, too.
        with pytest.raises(REFUSED, match=NOT_IN_JOBS), each_database.begin() as session:
            session.add_all(
                [
                    EpochLoss(job_id=job_id, epoch=1, loss=0.5),
                    EpochLoss(job_id=missing, epoch=1, loss=0.5),
                ]
            )
        assert rows_of(each_database, job_id, missing) == 0
        with each_database.begin() as session:  # the job's own rows still go in
            insert_losses(session, job_id, [1, 2, 3], {"loss": [0.3, 0.2, 0.1]})
        assert rows_of(each_database, job_id) == 3
    finally:
        with each_database.begin() as session:
            session.execute(delete(Job).where(Job.owner == owner))


def test_deleting_jobs_takes_their_rows_and_only_theirs(
    each_database: sessionmaker[Session],
) -> None:
    owner = f"integrity-{uuid.uuid4().hex[:8]}"
    gone, kept = [new_job(each_database, owner) for _ in range(3)], new_job(each_database, owner)
    for job_id in [*gone, kept]:
        with each_database.begin() as session:
            insert_losses(session, job_id, [1, 2], {"loss": [0.5, 0.25]})
    try:
        with each_database.begin() as session:  # one statement, several jobs
            session.execute(delete(Job).where(Job.id.in_(gone)))
        assert rows_of(each_database, *gone) == 0
        assert rows_of(each_database, kept) == 2
    finally:
        with each_database.begin() as session:
            session.execute(delete(Job).where(Job.owner == owner))
        assert rows_of(each_database, kept) == 0


def test_a_job_being_written_cannot_be_deleted_until_its_rows_are_committed() -> None:
    """As the foreign key did: the rows' statement locks their job (KEY SHARE) until commit, so a
    deletion waits, then takes the rows with it; no row is ever left without its job."""
    factory = sessions(DATABASE_URL)
    owner = f"integrity-{uuid.uuid4().hex[:8]}"
    job_id = new_job(factory, owner)
    refused: list[BaseException] = []

    def delete_now() -> None:
        try:
            with factory.begin() as other:
                other.execute(text("SET LOCAL lock_timeout = '200ms'"))
                other.execute(delete(Job).where(Job.id == job_id))
        except OperationalError as exc:
            refused.append(exc)

    try:
        with factory.begin() as writer:
            insert_losses(writer, job_id, [1, 2, 3], {"loss": [0.3, 0.2, 0.1]})
            deleter = threading.Thread(target=delete_now)
            deleter.start()
            deleter.join(timeout=60)
        assert not deleter.is_alive()
        assert len(refused) == 1 and "lock timeout" in str(refused[0])
        assert rows_of(factory, job_id) == 3
        with factory.begin() as session:  # committed: now the deletion goes through, rows too
            session.execute(delete(Job).where(Job.id == job_id))
        assert rows_of(factory, job_id) == 0
    finally:
        with factory.begin() as session:
            session.execute(delete(Job).where(Job.owner == owner))
