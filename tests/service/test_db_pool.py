"""The Postgres pool pings a connection only after it idled, and replaces one that died idle.

Real connections to the run's database; a pooled connection is killed from another session
with ``pg_terminate_backend``, as a server restart or a firewall's idle timeout would.
"""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from store import db
from tests.service.conftest import admin_dsn
from tests.service.servers import wait_until

BACKEND_PID = text("SELECT pg_backend_pid()")


@pytest.fixture
def engine(postgres: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A fresh engine on the run's database, its pings counted in ``engine.pings``."""
    made = db.make_engine(postgres)
    pings: list[int] = []
    ping = made.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(made.dialect, "do_ping", counted)
    made.pings = pings  # type: ignore[attr-defined]
    yield made
    made.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        pid: int = connection.execute(BACKEND_PID).scalar_one()
        return pid


def terminate(postgres: str, pid: int) -> None:
    """Kill the server side of a connection and wait until the server has let it go."""
    with psycopg.connect(admin_dsn(postgres), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        def gone() -> bool:
            found = admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
            return found.fetchone() is None

        wait_until(gone, 30, f"backend {pid} to end")


def test_a_connection_in_steady_use_is_not_pinged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_SECONDS", 3600.0)  # however loaded the machine
    first = backend_pid(engine)
    assert [backend_pid(engine) for _ in range(20)] == [first] * 20  # one pooled connection
    assert engine.pings == []  # type: ignore[attr-defined]


def test_a_connection_that_died_while_idle_is_replaced_without_an_error(
    engine: Engine, postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = backend_pid(engine)
    terminate(postgres, first)
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_SECONDS", 0.0)  # it has idled long enough
    second = backend_pid(engine)
    assert second != first
    assert engine.pings == [1]  # type: ignore[attr-defined]


def test_a_connection_killed_between_two_quick_uses_fails_once_then_the_pool_recovers(
    engine: Engine, postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_SECONDS", 3600.0)
    # Not pinged (it was in use a moment ago): the statement fails, as the API's 503 shows,
    # and SQLAlchemy drops the pool's connections, so the next checkout connects afresh.
    first = backend_pid(engine)
    terminate(postgres, first)
    with pytest.raises(OperationalError):
        backend_pid(engine)
    assert backend_pid(engine) != first


def test_a_request_thread_each_keeps_its_connection(engine: Engine) -> None:
    """gunicorn's 8 request threads, each holding a connection at once, then again: the same
    backends serve the second round (SQLAlchemy's default pool of 5 closed three and opened
    three anew each round)."""
    threads = 8
    rounds = []
    for _ in range(2):
        held = [engine.connect() for _ in range(threads)]
        rounds.append({c.execute(BACKEND_PID).scalar_one() for c in held})
        for connection in held:
            connection.close()
    assert len(rounds[0]) == threads
    assert rounds[1] == rounds[0]
