"""The job state machine: one enum, its transition table, and moves that cannot break it."""

import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import Base, Job, utcnow
from store.moves import move, set_status
from store.status import ACTIVE, TERMINAL, TRANSITIONS, IllegalTransition, JobStatus, sources


def test_the_table_covers_every_status_and_terminal_ones_go_nowhere() -> None:
    assert set(TRANSITIONS) == set(JobStatus)
    ended = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PRUNED}
    assert ended == TERMINAL
    assert sources(JobStatus.PRUNED) == {JobStatus.RUNNING}  # a cancel asked wins over pruning
    assert set(JobStatus) - TERMINAL == ACTIVE
    assert all(not TRANSITIONS[s] for s in TERMINAL)
    assert sources(JobStatus.CANCELLING) == {JobStatus.RUNNING}
    with pytest.raises(IllegalTransition):
        sources(JobStatus.CANCELLED, among=[JobStatus.RUNNING])


@pytest.fixture
def session() -> Session:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)  # a test of the models themselves: no migrations here
    with Session(engine) as session:
        yield session


def add_job(session: Session, status: JobStatus) -> Job:
    job = Job(id=f"job-{status}", spec={}, epochs=1, status=status, created_at=utcnow())
    session.add(job)
    session.flush()
    return job


@pytest.mark.parametrize("start", list(JobStatus))
@pytest.mark.parametrize("to", list(JobStatus))
def test_move_changes_a_job_only_along_the_table(
    session: Session, start: JobStatus, to: JobStatus
) -> None:
    job = add_job(session, start)
    moved = move(session, to, Job.id == job.id)
    session.refresh(job)
    allowed = to in TRANSITIONS[start]
    assert (moved == [job.id]) is allowed
    assert job.status == (to if allowed else start)


@pytest.mark.parametrize("start", list(JobStatus))
def test_set_status_refuses_what_the_table_forbids(session: Session, start: JobStatus) -> None:
    job = add_job(session, start)
    for to in JobStatus:
        if to in TRANSITIONS[start]:
            continue
        with pytest.raises(IllegalTransition):
            set_status(job, to)
    assert job.status == start


def test_the_schema_refuses_a_status_outside_the_enum(session: Session) -> None:
    job = add_job(session, JobStatus.QUEUED)
    with pytest.raises(IntegrityError):
        session.execute(update(Job).where(Job.id == job.id).values(status="paused"))
