"""Open event streams, counted: part of each process's threads, and a few streams per owner.

A live stream holds a request thread for up to ``EVENTS_MAX_SECONDS``, and a gunicorn process
has a fixed number of them, so streams get a budget:

- per process, ``MAX_STREAMS_PER_PROCESS`` (a semaphore, taken without waiting): streams can
  only ever hold that many of the process's threads, and the rest stay free for plain requests;
- per owner, ``MAX_STREAMS_PER_OWNER`` across every API process: one owner cannot take the whole
  budget. Counted in Redis (where submissions are counted) as a sorted set of leases per owner,
  scored by when each expires; a stream renews its lease while it lives and removes it when it
  ends, so a process that dies strands its leases for ``LEASE_SECONDS`` at most. Without Redis
  (the embedded mode, one machine) each process counts its own streams.
"""

import logging
import threading
import time
import uuid
from collections import Counter
from functools import cache
from typing import Any

import redis

from store.redis_failures import REDIS_FAILURES
from store.settings import Settings

log = logging.getLogger(__name__)

# How long a lease outlives its last renewal; a stream renews it every third of that.
LEASE_SECONDS = 15.0

# KEYS[1]: the owner's leases. ARGV: lease id, lease seconds, cap (0: none). Redis's own clock
# scores the leases, so API processes on machines whose clocks differ agree on expiry.
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local cap = tonumber(ARGV[3])
if cap > 0 and redis.call('ZCARD', KEYS[1]) >= cap then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
return 1
"""


class ProcessFull(Exception):
    """This process already serves as many streams as it may."""


class OwnerFull(Exception):
    """The owner already has as many streams open as they may."""


class CounterUnavailable(Exception):
    """The Redis that counts streams cannot be reached."""


@cache
def _client(url: str) -> redis.Redis:
    # Short timeouts: a stalled Redis refuses a stream in seconds rather than holding a thread.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


class Slot:
    """One open stream's place in both budgets, until ``release()``."""

    def __init__(self, budget: "StreamBudget", owner: str, lease: str) -> None:
        self._budget, self.owner, self._lease = budget, owner, lease
        self._renewed = time.monotonic()
        self._released = False
        self._lock = threading.Lock()

    def renew(self) -> None:
        """Keep the owner's lease alive (every third of its life at most; never raises)."""
        if time.monotonic() - self._renewed < LEASE_SECONDS / 3:
            return
        self._renewed = time.monotonic()
        self._budget._renew(self.owner, self._lease)

    def release(self) -> None:
        """Give both places back; safe to call more than once, from any thread."""
        with self._lock:
            if self._released:
                return
            self._released = True
        self._budget._release(self.owner, self._lease)


class StreamBudget:
    """Where one API process counts its open streams (made once per app)."""

    def __init__(self, settings: Settings) -> None:
        self.per_owner = settings.max_streams_per_owner
        self.per_process = settings.max_streams_per_process
        self._threads = threading.BoundedSemaphore(self.per_process)
        self._redis_url = settings.rate_limit_redis
        self._prefix = f"{settings.queue_name}:streams:"
        self._local: Counter[str] = Counter()  # open streams per owner, without Redis
        self._lock = threading.Lock()

    def open(self, owner: str) -> Slot:
        """A place for one more of ``owner``'s streams; ``ProcessFull``, ``OwnerFull`` or
        ``CounterUnavailable`` when there is none."""
        # The owner's cap first: an owner at it is told so (429), however busy the server is.
        lease = uuid.uuid4().hex
        self._take(owner, lease)
        if not self._threads.acquire(blocking=False):
            self._give_back(owner, lease)
            raise ProcessFull()
        return Slot(self, owner, lease)

    def _take(self, owner: str, lease: str) -> None:
        if self._redis_url is None:
            with self._lock:
                if self._local[owner] >= self.per_owner:
                    raise OwnerFull()
                self._local[owner] += 1
            return
        try:
            taken = self._script(owner, lease, self.per_owner)
        except REDIS_FAILURES as exc:
            raise CounterUnavailable(type(exc).__name__) from exc
        if not taken:
            raise OwnerFull()

    def _renew(self, owner: str, lease: str) -> None:
        if self._redis_url is None:
            return
        try:
            self._script(owner, lease, 0)
        except REDIS_FAILURES as exc:
            # The lease may lapse meanwhile: the owner's count is low for a while, no more.
            log.warning("could not renew a stream's lease: %s", type(exc).__name__)

    def _release(self, owner: str, lease: str) -> None:
        try:
            self._give_back(owner, lease)
        finally:
            self._threads.release()

    def _give_back(self, owner: str, lease: str) -> None:
        if self._redis_url is None:
            with self._lock:
                self._local[owner] -= 1
                if self._local[owner] <= 0:
                    del self._local[owner]
            return
        try:
            _client(self._redis_url).zrem(self._prefix + owner, lease)
        except REDIS_FAILURES as exc:
            # The lease lapses by itself within LEASE_SECONDS.
            log.warning("could not end a stream's lease: %s", type(exc).__name__)

    def _script(self, owner: str, lease: str, cap: int) -> bool:
        assert self._redis_url is not None
        return bool(
            _take(self._redis_url)(keys=[self._prefix + owner], args=[lease, LEASE_SECONDS, cap])
        )


@cache
def _take(url: str) -> Any:
    return _client(url).register_script(_TAKE)
