"""Group commit: writes that arrive together share a transaction, on the run's Postgres.

Each test holds the first write open until the others have queued behind it, so what makes a
batch is not left to timing. The writes go to a table of their own, whose unique constraint is
checked at commit (DEFERRABLE INITIALLY DEFERRED): a way to make a commit itself fail.
"""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.db import engine_for
from store.group_commit import GroupCommit
from tests.service.servers import wait_until

TABLE = "group_commit_probe"
DEADLINE = 60  # seconds, for threads to queue on a loaded machine


@pytest.fixture
def sessions(postgres: str) -> Iterator[sessionmaker[Session]]:
    engine = engine_for(postgres)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        connection.execute(
            text(
                f"CREATE TABLE {TABLE} (value text, tx bigint, "
                "UNIQUE (value) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    yield sessionmaker(engine, expire_on_commit=False)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {TABLE}"))


def insert(
    value: str, then: Callable[[], None] = lambda: None
) -> Callable[[Session, dict[str, Any]], int]:
    """A write adding ``value``, then doing ``then``; it returns its transaction's id."""

    def write(session: Session, _shared: dict[str, Any]) -> int:
        tx = session.execute(text("SELECT txid_current()")).scalar_one()
        session.execute(
            text(f"INSERT INTO {TABLE} VALUES (:value, :tx)"), {"value": value, "tx": tx}
        )
        then()
        return int(tx)

    return write


def stored(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions.begin() as session:
        return dict(session.execute(text(f"SELECT value, tx FROM {TABLE}")).tuples().all())


class Locks:
    """The batch's beginning: records the keys each transaction locked; shares nothing."""

    def __init__(self) -> None:
        self.taken: list[list[str]] = []

    def __call__(self, _session: Session, keys: list[str]) -> dict[str, Any]:
        self.taken.append(keys)
        return {}


def behind_a_held_write(
    group: GroupCommit, writes: list[tuple[str, Callable[[Session], Any]]]
) -> list[Future[Any]]:
    """Run a first write that holds its transaction open until ``writes`` have all queued behind
    it, then those; the futures of the first and of each of ``writes``."""
    release = threading.Event()
    pool = ThreadPoolExecutor(len(writes) + 1)
    batches = group.batches
    first = pool.submit(group.run, "first", insert("first", lambda: release.wait(DEADLINE)))
    wait_until(lambda: group.batches == batches + 1, DEADLINE, "the first write to start")
    futures = [first] + [pool.submit(group.run, key, write) for key, write in writes]
    wait_until(lambda: group.waiting == len(writes), DEADLINE, "the writes to queue")
    release.set()
    pool.shutdown(wait=True)
    return futures


def test_writes_that_arrive_together_share_one_transaction(
    sessions: sessionmaker[Session],
) -> None:
    locks = Locks()
    group = GroupCommit(sessions, locks)
    seen: list[list[str]] = []  # what each write found in the dict its batch shares

    def noting(value: str) -> Callable[[Session, dict[str, Any]], int]:
        def write(session: Session, shared: dict[str, Any]) -> int:
            seen.append(list(shared.setdefault("before", [])))
            shared["before"].append(value)
            return insert(value)(session, shared)

        return write

    futures = behind_a_held_write(
        group, [(key, noting(f"v{n}")) for n, key in enumerate(["b", "a", "b", "c"])]
    )
    txs = [future.result() for future in futures]
    # In the order they came (threads may queue in any order): each saw the ones before it.
    assert [len(before) for before in seen] == [0, 1, 2, 3]
    assert all(seen[n] == seen[-1][:n] for n in range(4))
    assert group.batches == 2
    assert txs[0] != txs[1] and len(set(txs[1:])) == 1  # the four waited, then went together
    assert stored(sessions) == {
        "first": txs[0],
        "v0": txs[1],
        "v1": txs[1],
        "v2": txs[1],
        "v3": txs[1],
    }
    assert locks.taken == [["first"], ["a", "b", "c"]]  # each key once, sorted


def test_a_write_that_raises_runs_alone_and_so_do_the_others_of_its_batch(
    sessions: sessionmaker[Session],
) -> None:
    group = GroupCommit(sessions, Locks())
    runs: list[str] = []

    def failing() -> None:
        runs.append("failing")
        raise ValueError("this write fails")

    futures = behind_a_held_write(
        group,
        [("a", insert("kept", lambda: runs.append("kept"))), ("b", insert("lost", failing))],
    )
    futures[0].result()
    kept = futures[1].result()
    with pytest.raises(ValueError, match="this write fails"):
        futures[2].result()
    assert sorted(runs) == ["failing", "failing", "kept", "kept"]  # in the batch, then alone
    assert set(stored(sessions)) == {"first", "kept"}
    assert stored(sessions)["kept"] == kept


def test_a_failed_commit_reaches_every_caller_and_nothing_runs_again(
    sessions: sessionmaker[Session],
) -> None:
    group = GroupCommit(sessions, Locks())
    runs: list[str] = []
    same = insert("same", lambda: runs.append("same"))
    futures = behind_a_held_write(group, [("a", same), ("b", same)])
    futures[0].result()
    for future in futures[1:]:  # the constraint is checked at commit: the commit fails
        with pytest.raises(IntegrityError):
            future.result()
    assert runs == ["same", "same"]
    assert set(stored(sessions)) == {"first"}


class Deferred:
    """Writes that leave their values for the batch's end, which inserts them in one statement
    and refuses a batch holding "refused"."""

    def __init__(self) -> None:
        self.ends: list[list[str]] = []  # the values each end found, in order

    def begin(self, _session: Session, _keys: list[str]) -> dict[str, Any]:
        return {"values": []}

    def write(self, value: str) -> Callable[[Session, dict[str, Any]], str]:
        def leave(_session: Session, shared: dict[str, Any]) -> str:
            shared["values"].append(value)
            return value

        return leave

    def end(self, session: Session, shared: dict[str, Any]) -> None:
        values = shared["values"]
        self.ends.append(list(values))
        if "refused" in values:
            raise ValueError("refused")
        if not values:
            return
        tx = session.execute(text("SELECT txid_current()")).scalar_one()
        rows = [{"value": value, "tx": tx} for value in values]
        session.execute(text(f"INSERT INTO {TABLE} VALUES (:value, :tx)"), rows)


def test_the_end_runs_once_for_each_batch_after_its_writes_and_for_each_write_alone(
    sessions: sessionmaker[Session],
) -> None:
    deferred = Deferred()
    group = GroupCommit(sessions, deferred.begin, deferred.end)
    assert group.run("a", deferred.write("alone")) == "alone"
    futures = behind_a_held_write(group, [("a", deferred.write("x")), ("b", deferred.write("y"))])
    assert [future.result() for future in futures] == [futures[0].result(), "x", "y"]
    batch = stored(sessions)
    assert batch["x"] == batch["y"] != batch["alone"]  # the batch's end stored both at once
    # The held write leaves nothing: its end finds an empty batch.
    assert deferred.ends == [["alone"], [], ["x", "y"]]

    # An end that raises rolls its batch back; each write then runs alone, with an end of its own.
    with sessions.begin() as session:
        session.execute(text(f"DELETE FROM {TABLE}"))
    deferred.ends.clear()
    futures = behind_a_held_write(
        group, [("c", deferred.write("kept")), ("d", deferred.write("refused"))]
    )
    futures[0].result()
    assert futures[1].result() == "kept"
    with pytest.raises(ValueError, match="refused"):
        futures[2].result()
    assert "kept" in stored(sessions) and "refused" not in stored(sessions)
    assert deferred.ends[1] == ["kept", "refused"]
    assert sorted(deferred.ends[2:]) == [["kept"], ["refused"]]
