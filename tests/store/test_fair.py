"""The fair pick and the recording stride, on SQLite (the embedded mode's database)."""

from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from store.fair import pick, startable
from store.models import Base, Job, utcnow
from store.progress import recorded_every
from store.settings import Settings

QUEUE = "q"


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)  # a test of the models themselves: no migrations here
    with Session(engine) as session:
        yield session


def add(session: Session, owner: str, status: str = "queued", queue: str | None = QUEUE) -> str:
    number = session.query(Job).count()
    job = Job(
        id=f"{owner}-{number}",
        owner=owner,
        queue=queue,
        status=status,
        spec={},
        epochs=1,
        created_at=utcnow() + timedelta(seconds=number),  # created in the order added
    )
    session.add(job)
    session.flush()
    return job.id


def start(session: Session, job_id: str) -> None:
    session.get_one(Job, job_id).status = "running"
    session.flush()


def test_the_owner_with_fewest_running_goes_first_under_the_cap(session: Session) -> None:
    settings = Settings(max_running_per_owner=2)
    backlog = [add(session, "a") for _ in range(4)]
    newcomers = [add(session, "b"), add(session, "c")]
    order = []
    while (job_id := pick(session, QUEUE, "none", settings)) is not None:
        order.append(job_id)
        start(session, job_id)
    # a, then b and c (no job running), then a's second; a's cap holds back the rest.
    assert order == [backlog[0], newcomers[0], newcomers[1], backlog[1]]
    assert startable(session, QUEUE, settings) == []
    session.get_one(Job, backlog[0]).status = "succeeded"
    assert startable(session, QUEUE, settings) == [backlog[2]]


def test_another_queue_is_left_alone_but_a_named_job_is_not(session: Session) -> None:
    settings = Settings()
    other = add(session, "a", queue="elsewhere")
    unqueued = add(session, "a", queue=None)
    assert pick(session, QUEUE, "none", settings) is None
    assert startable(session, QUEUE, settings) == []
    assert pick(session, QUEUE, unqueued, settings) == unqueued  # stored by hand, sent here
    assert pick(session, "elsewhere", "none", settings) == other


SIZES = [(5, 10), (10, 10), (11, 10), (1234, 50), (10**6, 10**4)]


@pytest.mark.parametrize(("epochs", "cap"), SIZES)
def test_a_thinned_curve_is_even_has_both_ends_and_fits_the_cap(epochs: int, cap: int) -> None:
    every = recorded_every(epochs, cap)
    kept = sorted({*range(1, epochs + 1, every), epochs})
    assert len(kept) <= cap + 1 and kept[0] == 1 and kept[-1] == epochs
    assert {b - a for a, b in pairwise(kept[:-1])} <= {every}  # the last gap may be shorter
    assert every == 1 or epochs > cap
