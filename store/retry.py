"""Riding out a database outage: retry a unit of work with exponential backoff, up to a deadline.

Only the failures a restart or a network blip cause are retried; a bug or a constraint violation
fails at once. Each unit of work must be one transaction, so that running it again is safe.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

T = TypeVar("T")
FIRST_DELAY = 0.1
MAX_DELAY = 2.0  # short enough that a worker is back within seconds of the database


def is_transient(exc: BaseException) -> bool:
    """True for failures that go away by themselves: a lost connection, a full pool, a lock."""
    if isinstance(exc, OperationalError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def with_retry(
    work: Callable[[], T],
    deadline_seconds: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``work()``, tried again after transient failures until ``deadline_seconds`` have passed."""
    give_up = clock() + deadline_seconds
    delay = FIRST_DELAY
    while True:
        try:
            return work()
        except Exception as exc:
            if not is_transient(exc) or clock() + delay > give_up:
                raise
            log.warning("%s failed (%s); retrying in %.1f s", what, type(exc).__name__, delay)
        sleep(delay)
        delay = min(2 * delay, MAX_DELAY)
