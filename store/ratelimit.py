"""Per-owner limits: submissions per window, jobs queued or running, and predictions per window.

Submissions are counted in Redis so every API process shares the count: fixed windows, one key
per owner and window (``<QUEUE_NAME>:rate:<owner>:<window number>``). A submission takes its
place first (``reserve``, before the request's body is even read: one script, one round trip,
that counts it, renews the key's expiry, and at once takes a refused one back) and gives it
back (DECR) unless it made a job, so a refusal, an invalid body or a replayed
``Idempotency-Key`` costs nothing, and the count stays exact however many submissions race
(a script runs atomically). Without Redis (the embedded mode's file-system broker) the
database counts instead: the owner's jobs created in the last window, which every API process
sees too. The quota of active jobs is checked under the owner's lock (``store.submissions``).

Predictions are counted per window likewise (``<QUEUE_NAME>:predict:<owner>:<window>``), each
request whatever its outcome, since each costs the API CPU; without Redis each process counts.
"""

import logging
import math
import threading
import time
from collections import Counter
from datetime import timedelta
from functools import cache
from types import TracebackType
from typing import Any

import redis
from sqlalchemy.orm import Session

from store import jobs
from store.models import utcnow
from store.redis_failures import REDIS_FAILURES
from store.settings import Settings

log = logging.getLogger(__name__)

# Counts one in the window (ARGV[1]: the key's lifetime); past the limit ARGV[2] (unless it is
# negative: count whatever happens) it takes that one back at once and answers minus the count.
_TAKE = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local limit = tonumber(ARGV[2])
if limit >= 0 and count > limit then
  redis.call('DECR', KEYS[1])
  return -count
end
return count
"""

# Gives back one place, unless the window's key has expired already (DECR would create it anew).
_GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""


class RateLimited(Exception):
    """Too many in this window; ``retry_after`` seconds until there is room."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry in {retry_after} s")
        self.retry_after = retry_after


class CounterUnavailable(Exception):
    """The Redis that counts submissions cannot be reached."""


class Reservation:
    """A submission's place in its owner's count: ``keep()`` it once a job is made; leaving the
    ``with`` block without that gives it back."""

    def __init__(self, url: str | None = None, key: str | None = None) -> None:
        self._url, self._key = url, key

    def keep(self) -> None:
        """The job was made: the place stays counted."""
        self._key = None

    def give_back(self) -> None:
        """Nothing was made: the place is free again (once; later calls do nothing)."""
        if self._url is None or self._key is None:
            return
        key, self._key = self._key, None
        try:
            _give_back(self._url)(keys=[key])
        except REDIS_FAILURES as exc:
            # Counted once too often until the window ends: the safe side of the limit.
            log.warning("could not give back a submission's place: %s", type(exc).__name__)

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.give_back()


def reserve(session: Session, owner: str, settings: Settings) -> Reservation:
    """Take a place in the owner's submissions for this window; ``RateLimited`` if none is left.

    Call it before reading the request's body; without Redis it only checks (the database
    counts the jobs themselves), and ``admit`` checks again once the owner is locked.
    """
    url = settings.rate_limit_redis
    if url is None:
        wait = _database_wait(session, owner, settings)
        if wait is not None:
            raise RateLimited(wait)
        return Reservation()
    prefix = f"{settings.queue_name}:rate:{owner}"
    key, count, wait = _take(url, prefix, settings.rate_window_seconds, settings.rate_limit)
    if count < 0:  # refused, and not counted either
        raise RateLimited(wait)
    return Reservation(url, key)


def admit(session: Session, owner: str, settings: Settings) -> None:
    """Lock the owner's submissions until the transaction ends (and, without Redis, check their
    rate): then ``jobs.check_quota`` counts their active jobs exactly."""
    # Held until the transaction ends: the counts cannot be raced past on Postgres.
    jobs.lock_owner(session, owner)
    check_database_rate(session, owner, settings)


def counted_in_database(settings: Settings) -> bool:
    """Whether submissions are counted by their jobs in the database (without Redis)."""
    return settings.rate_limit_redis is None


def check_database_rate(session: Session, owner: str, settings: Settings) -> None:
    """Without Redis, ``RateLimited`` when the owner's jobs of the window fill their rate
    (exact once the owner is locked: ``admit``, or a group of submissions)."""
    if counted_in_database(settings):
        wait = _database_wait(session, owner, settings)
        if wait is not None:
            raise RateLimited(wait)


def count_prediction(owner: str, settings: Settings) -> None:
    """Count one prediction of the owner's; ``RateLimited`` past ``predict_rate_limit``."""
    window = settings.rate_window_seconds
    url = settings.rate_limit_redis
    if url is None:
        count, wait = _local_predictions.incr(owner, window)
    else:
        _, count, wait = _take(url, f"{settings.queue_name}:predict:{owner}", window, -1)
    if count > settings.predict_rate_limit:
        raise RateLimited(wait)


def connect(settings: Settings) -> None:
    """Open the counter's connection and load its scripts (a process's first request would)."""
    url = settings.rate_limit_redis
    if url is None:
        return
    try:
        _client(url).script_load(_TAKE)
        _client(url).script_load(_GIVE_BACK)
    except REDIS_FAILURES as exc:
        raise CounterUnavailable(type(exc).__name__) from exc


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


@cache
def _give_back(url: str) -> Any:
    return _client(url).register_script(_GIVE_BACK)


@cache
def _take_script(url: str) -> Any:
    return _client(url).register_script(_TAKE)


def _take(url: str, prefix: str, window: int, limit: int) -> tuple[str, int, int]:
    """Count one in the current window unless that passes ``limit`` (< 0: no limit): its key,
    the count now (negative when refused, and so not counted), and seconds until it ends."""
    now = time.time()
    number = int(now // window)
    key = f"{prefix}:{number}"
    try:
        # The key names its window, so it may go once the window ends.
        count = int(_take_script(url)(keys=[key], args=[window + 1, limit]))
    except REDIS_FAILURES as exc:
        # The message names host and port at most; the URL (and any password) stays out.
        raise CounterUnavailable(type(exc).__name__) from exc
    return key, count, max(1, math.ceil((number + 1) * window - now))


def _database_wait(session: Session, owner: str, settings: Settings) -> int | None:
    window = timedelta(seconds=settings.rate_window_seconds)
    now = utcnow()
    created = jobs.created_since(session, owner, now - window)
    if len(created) < settings.rate_limit:
        return None
    # A sliding window: room opens when the oldest of the last `rate_limit` jobs leaves it.
    oldest = created[len(created) - settings.rate_limit]
    return max(1, math.ceil((oldest + window - now).total_seconds()))


class _LocalWindows:
    """Fixed-window counts kept by this process: what counts predictions without Redis."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, int]] = Counter()
        self._lock = threading.Lock()

    def incr(self, owner: str, window: int) -> tuple[int, int]:
        now = time.time()
        number = int(now // window)
        with self._lock:
            for stale in [k for k in self._counts if k[1] < number]:
                del self._counts[stale]
            self._counts[owner, number] += 1
            count = self._counts[owner, number]
        return count, max(1, math.ceil((number + 1) * window - now))


_local_predictions = _LocalWindows()
