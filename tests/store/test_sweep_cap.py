"""The fair pick with sweeps: a sweep's max_parallel caps its trials, not other jobs."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from store.fair import pick, startable
from store.models import Base, Job, Sweep, utcnow
from store.settings import Settings

QUEUE = "q"
SETTINGS = Settings(max_running_per_owner=100)


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)  # a test of the models themselves: no migrations here
    with Session(engine) as session:
        yield session


def sweep(session: Session, name: str, max_parallel: int) -> str:
    row = Sweep(
        id=name,
        owner="a",
        request={},
        metric="loss",
        mode="min",
        max_parallel=max_parallel,
        trials=0,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return name


def add(session: Session, owner: str, sweep_id: str | None = None) -> str:
    number = session.query(Job).count()
    job = Job(
        id=f"{owner}-{number}",
        owner=owner,
        queue=QUEUE,
        status="queued",
        spec={},
        epochs=1,
        sweep_id=sweep_id,
        created_at=utcnow() + timedelta(seconds=number),
    )
    session.add(job)
    session.flush()
    return job.id


def run_all_that_may_start(session: Session) -> list[str]:
    order = []
    while (job_id := pick(session, QUEUE, "none", SETTINGS)) is not None:
        order.append(job_id)
        session.get_one(Job, job_id).status = "running"
        session.flush()
    return order


def test_a_sweep_runs_at_most_max_parallel_trials(session: Session) -> None:
    s = sweep(session, "s", 2)
    trials = [add(session, "a", s) for _ in range(5)]
    lone = add(session, "a")  # the same owner's lone job is not held back by the sweep's cap
    assert startable(session, QUEUE, SETTINGS) == [trials[0], trials[1], lone]
    # The lone job, in no sweep, goes before the sweep's second trial (round robin by sweep).
    assert run_all_that_may_start(session) == [trials[0], lone, trials[1]]
    session.get_one(Job, trials[0]).status = "pruned"
    assert startable(session, QUEUE, SETTINGS) == [trials[2]]
    assert run_all_that_may_start(session) == [trials[2]]


def test_two_sweeps_have_a_cap_each(session: Session) -> None:
    first, second = sweep(session, "s1", 1), sweep(session, "s2", 3)
    ones = [add(session, "a", first) for _ in range(3)]
    twos = [add(session, "a", second) for _ in range(4)]
    assert startable(session, QUEUE, SETTINGS) == [ones[0], *twos[:3]]
    assert sorted(run_all_that_may_start(session)) == sorted([ones[0], *twos[:3]])


def test_another_owner_goes_before_the_sweeps_next_trial(session: Session) -> None:
    s = sweep(session, "s", 4)
    trials = [add(session, "a", s) for _ in range(8)]
    assert pick(session, QUEUE, "none", SETTINGS) == trials[0]
    session.get_one(Job, trials[0]).status = "running"
    newcomer = add(session, "b")
    # Owner a runs one job, owner b none: b's job is fairest, though a's trial is older.
    assert pick(session, QUEUE, "none", SETTINGS) == newcomer
