"""Admitting a new job: the owner's submissions per window, and their jobs queued or running.

Submissions are counted in Redis so every API process shares the count: fixed windows, one key
per owner and window (``<QUEUE_NAME>:rate:<owner>:<window number>``), INCR then EXPIRE in one
MULTI. Without Redis (the embedded mode's file-system broker) the database counts instead: the
owner's jobs created in the last window, which every API process sees too.
"""

import math
import time
from datetime import timedelta
from functools import cache

import redis
from sqlalchemy.orm import Session

from store import jobs
from store.models import utcnow
from store.settings import Settings


class RateLimited(Exception):
    """Too many submissions in this window; ``retry_after`` seconds until there is room."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry in {retry_after} s")
        self.retry_after = retry_after


class QuotaExceeded(Exception):
    """The owner already has as many jobs queued or running as allowed."""


class CounterUnavailable(Exception):
    """The Redis that counts submissions cannot be reached."""


def admit(session: Session, owner: str, settings: Settings) -> None:
    """Count one new job against the owner's limits, raising if it is over one."""
    # Held until the transaction ends: the counts below cannot be raced past on Postgres.
    jobs.lock_owner(session, owner)
    url = settings.rate_limit_redis
    if url is not None:
        wait = _redis_wait(url, f"{settings.queue_name}:rate:{owner}", settings)
    else:
        wait = _database_wait(session, owner, settings)
    if wait is not None:
        raise RateLimited(wait)
    active = jobs.active_count(session, owner)
    if active >= settings.max_active_jobs:
        raise QuotaExceeded(
            f"{active} of your jobs are queued or running and at most {settings.max_active_jobs} "
            "may be: wait for one to finish or cancel one"
        )


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _redis_wait(url: str, prefix: str, settings: Settings) -> int | None:
    window = settings.rate_window_seconds
    now = time.time()
    number = int(now // window)
    key = f"{prefix}:{number}"
    try:
        pipeline = _client(url).pipeline(transaction=True)
        pipeline.incr(key)
        pipeline.expire(key, window + 1)  # the key names its window, so it may go once it ends
        count, _ = pipeline.execute()
    except redis.RedisError as exc:
        # The message names host and port at most; the URL (and any password) stays out.
        raise CounterUnavailable(type(exc).__name__) from exc
    if count <= settings.rate_limit:
        return None
    return max(1, math.ceil((number + 1) * window - now))


def _database_wait(session: Session, owner: str, settings: Settings) -> int | None:
    window = timedelta(seconds=settings.rate_window_seconds)
    now = utcnow()
    created = jobs.created_since(session, owner, now - window)
    if len(created) < settings.rate_limit:
        return None
    # A sliding window: room opens when the oldest of the last `rate_limit` jobs leaves it.
    oldest = created[len(created) - settings.rate_limit]
    return max(1, math.ceil((oldest + window - now).total_seconds()))
