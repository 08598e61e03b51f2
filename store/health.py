"""Readiness checks with hard deadlines: a stalled dependency reads "not ready", never a hang.

A stopped Redis or Postgres (``kill -STOP``, a full disk, a network that drops packets) still
accepts TCP connections, since the kernel completes the handshake, and then never answers. So each
check has timeouts of its own (socket connect and read timeouts on Redis, a connect and a
statement timeout on the database), and also runs on a thread of its own that the caller waits
on for ``CHECK_SECONDS`` at most. While a check is still running, later callers join that same
run rather than starting another, and wait only for what is left of its deadline: a stalled
dependency ties up one thread, not one per request, and once the run's deadline has passed every
caller hears "not ready" at once, until the run ends and a new one can start.
"""

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from functools import cache

import redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from store.db import engine_for
from store.queue import broker_reachable
from store.settings import Settings

CHECK_SECONDS = 3.0
# Inside the deadline, so a check that times out by itself says so before it is abandoned.
SOCKET_SECONDS = 2.0


class Probe:
    """One dependency's check, run at most once at a time, with a deadline for its callers."""

    def __init__(self, check: Callable[[], bool]) -> None:
        self._check = check
        self._lock = threading.Lock()
        self._running: Future[bool] | None = None
        self._started = 0.0

    def start(self) -> "tuple[Future[bool], float]":
        """The check's current run, started now unless one is still going, and when it began."""
        with self._lock:
            if self._running is None or self._running.done():
                self._running, self._started = Future(), time.monotonic()
                threading.Thread(target=self._run, args=(self._running,), daemon=True).start()
            return self._running, self._started

    def _run(self, result: "Future[bool]") -> None:
        try:
            result.set_result(bool(self._check()))
        except Exception:  # any failure of a dependency is "not ready", never an error page
            result.set_result(False)


def ready(settings: Settings) -> dict[str, bool]:
    """Whether the database and the broker answer, each within ``CHECK_SECONDS``."""
    runs = {
        "database": _database_probe(settings.database_url).start(),
        "broker": _broker_probe(settings).start(),
    }
    return {name: _by_deadline(*run) for name, run in runs.items()}


def _by_deadline(run: "Future[bool]", started: float) -> bool:
    try:
        return run.result(timeout=max(0.0, started + CHECK_SECONDS - time.monotonic()))
    except FutureTimeout:
        return False


@cache
def _database_probe(url: str) -> Probe:
    def check() -> bool:
        engine = engine_for(url)
        try:
            with engine.begin() as connection:
                if engine.dialect.name == "postgresql":
                    # The server's own limit, for a database that answers but is stuck on locks.
                    connection.exec_driver_sql("SET LOCAL statement_timeout = 2000")
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    return Probe(check)


def _broker_probe(settings: Settings) -> Probe:
    url = settings.broker_url
    if url.startswith(("redis://", "rediss://")):
        return _redis_probe(url)
    return _kombu_probe(settings)


@cache
def _redis_probe(url: str) -> Probe:
    client = redis.Redis.from_url(
        url, socket_timeout=SOCKET_SECONDS, socket_connect_timeout=SOCKET_SECONDS
    )
    return Probe(lambda: bool(client.ping()))


_kombu_probes: dict[tuple[str, str], Probe] = {}


def _kombu_probe(settings: Settings) -> Probe:
    key = (settings.broker_url, str(settings.broker_dir))
    if key not in _kombu_probes:
        _kombu_probes[key] = Probe(lambda: broker_reachable(settings))
    return _kombu_probes[key]
