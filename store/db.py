"""Database engines and session factories, one per database URL, for the API and the worker."""

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode so the API reads while the worker writes."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if make_url(url).get_backend_name() == "postgresql":
        # A server that accepts the connection and never answers fails it in seconds, not never.
        engine = create_engine(url, connect_args={"connect_timeout": 5}, pool_size=POOL_SIZE)
        event.listen(engine.pool, "checkin", _note_checkin)
        event.listen(engine.pool, "checkout", _ping_if_idle(engine))
        return engine
    return create_engine(url, pool_pre_ping=True)


# Connections a process keeps open: as many as its threads may hold at once (gunicorn's 8
# request threads; a worker's runner, heartbeat, progress writer and reaper), and some over.
# SQLAlchemy's default of 5 kept the API's sixth to eighth connections only for a request each:
# under load each process opened and closed some 25 a second, a Postgres backend started and
# ended for each (bench/submit_throughput.py).
POOL_SIZE = 10

# A connection back in the pool for longer than this is pinged before it is handed out again;
# one in steady use is not. pool_pre_ping's round trip on every checkout was two of a
# submission's seven (bench/submit_throughput.py): under load connections come back within
# milliseconds, and a server restarted meanwhile fails the statement, after which SQLAlchemy
# replaces every pooled connection. Idle ones, the ones a restart or a firewall's timeout
# leaves dead, are still pinged.
IDLE_BEFORE_PING_SECONDS = 1.0


def _note_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(engine: Engine) -> Callable[..., None]:
    """A checkout hook pinging a connection that idled (as pre-ping does: the dialect's ping,
    out of any transaction); a failed ping has the pool replace the connection."""

    def checkout(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        checked_in = record.info.get("checked_in")
        if checked_in is None or time.monotonic() - checked_in < IDLE_BEFORE_PING_SECONDS:
            return  # new, or back from use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection died while idle: {exc}") from exc

    return checkout


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}
# A process's first requests come in several threads at once: one pool per database, not two.
_made_once = threading.RLock()


def engine_for(url: str) -> Engine:
    """The process's engine for the database at ``url``: one pool per database."""
    if url not in _engines:
        with _made_once:
            if url not in _engines:
                _engines[url] = make_engine(url)
    return _engines[url]


def sessions(url: str) -> sessionmaker[Session]:
    """The session factory on ``url``; callers open ``with sessions(url).begin() as session``."""
    if url not in _factories:
        with _made_once:
            if url not in _factories:
                _factories[url] = sessionmaker(engine_for(url), expire_on_commit=False)
    return _factories[url]


def reads(url: str) -> Connection:
    """A connection for one read statement, out of any transaction (autocommit): one round trip
    rather than BEGIN, the statement and COMMIT. ``with reads(url) as connection: ...``"""
    return engine_for(url).connect().execution_options(isolation_level="AUTOCOMMIT")


def dispose_after_fork() -> None:
    """Drop pooled connections inherited from a parent process (Celery's prefork pool forks)."""
    for engine in _engines.values():
        engine.dispose(close=False)


def dispose_all() -> None:
    """Close every pooled connection of this process."""
    for engine in _engines.values():
        engine.dispose()


def printable_url(url: str) -> str:
    """The database URL without its password, for printing."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]
