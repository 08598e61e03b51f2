"""The embedded mode's epoch writes (store.progress.insert_losses on SQLite): multi-row statements
in chunks, exact floats, absent measures as NULL, and a retried batch that changes nothing."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.db import make_engine
from store.models import Base, EpochLoss, Job
from store.progress import insert_losses

JOB = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path}/gradyard.db")  # the embedded mode's pragmas
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Job(id=JOB, queue="q", status="running", spec={}, epochs=5000))
        session.commit()
        yield session
    engine.dispose()


def stored(session: Session) -> list[tuple[object, ...]]:
    query = select(EpochLoss.epoch, EpochLoss.loss, EpochLoss.accuracy, EpochLoss.val_loss)
    return [tuple(row) for row in session.execute(query.order_by(EpochLoss.epoch))]


def test_a_batch_over_several_statements_keeps_every_row_exactly(session: Session) -> None:
    epochs = list(range(1, 2502))  # 2,501 rows: three statements of at most 1,000
    losses: list[float | None] = [1 / (3 * e) for e in epochs]  # floats with no short form
    accuracies: list[float | None] = [None if e % 7 else e / 2501 for e in epochs]
    with session.begin():
        insert_losses(session, JOB, epochs, {"loss": losses, "accuracy": accuracies})
    rows = stored(session)
    assert [row[0] for row in rows] == epochs
    assert [row[1] for row in rows] == losses  # bitwise: bound as doubles, not as text
    assert [row[2] for row in rows] == accuracies
    assert all(row[3] is None for row in rows)  # a measure not given is NULL


def test_a_retried_batch_leaves_the_rows_as_they_were(session: Session) -> None:
    with session.begin():
        insert_losses(session, JOB, [1, 2, 3], {"loss": [0.5, 0.25, 0.125]})
    # The commit reached the database, its reply was lost, and the flush runs again.
    with session.begin():
        insert_losses(session, JOB, [1, 2, 3], {"loss": [0.5, 0.25, 0.125]})
    with session.begin():
        insert_losses(session, JOB, [4], {"loss": [0.0625]})
    assert stored(session) == [
        (1, 0.5, None, None),
        (2, 0.25, None, None),
        (3, 0.125, None, None),
        (4, 0.0625, None, None),
    ]
