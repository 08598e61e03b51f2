"""A job's life as Server-Sent Events, read from SQL; Redis pub/sub only says when to read again.

The job row and its epoch_losses are the truth. A stream reads them, sends what is new since its
cursor, and waits: for a wake-up that the worker publishes after each progress flush and at the end
of the job (where the broker is Redis), else for ``events_poll_seconds``. A lost wake-up costs at
most ``events_heartbeat_seconds``, after which the stream reads anyway.

Event ids are the cursor ``EPOCH:STATUS``: the last epoch and the last status the client has been
sent (``0:queued``, ``0:running``, ``120:running``, ``120:succeeded``). Resuming from a
``Last-Event-ID`` sends only epochs after EPOCH and a status event only when the status differs, so
a reconnecting client sees no gap and no repeat. Epochs a retried job rewinds and trains again are
not sent twice: training resumes bit for bit, so they are the same numbers.

Events, in the order they happened:

- ``status`` ``{"status", "epoch", "epochs", "error"}``: a status the client has not seen. A
  non-terminal status is sent before the epochs it saw recorded; a terminal one after every epoch,
  and then the stream ends.
- ``epoch`` ``{"epoch", "epochs", "loss", "accuracy", "rmse", "val_loss", "val_accuracy",
  "val_rmse", "points"}``: the epochs persisted since the last epoch event (one flushed batch, or
  several when they landed between two reads). ``epoch`` and the measures are the newest epoch's
  (null where it has none); ``points`` holds ``[epoch, loss, accuracy, rmse, val_loss,
  val_accuracy, val_rmse]`` rows (``POINT``) for the new epochs, at most ``MAX_POINTS`` of them
  (or fewer, as the client asks: none for a client that only waits for the end), evenly spaced,
  always ending with the newest stored (the whole curve is at ``/losses``). A job
  that records every Nth epoch only (``progress.recorded_every``) has points for those; its newest
  epoch may have none, and then only its loss and accuracy (from the job row).
"""

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import redis
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import EpochLoss, Job
from store.redis_failures import REDIS_FAILURES
from store.settings import Settings
from store.status import TERMINAL, JobStatus

log = logging.getLogger(__name__)

MAX_POINTS = 500
# How long a browser waits before reconnecting after the stream ends (the SSE "retry" field).
RETRY_MS = 1000
_CURSOR = re.compile(r"(\d{1,9}):([a-z]{1,16})")


class BadCursor(ValueError):
    """A Last-Event-ID this service did not hand out."""


@dataclass(frozen=True)
class Cursor:
    """What a client has been sent: epochs up to ``epoch`` and the status ``status``."""

    epoch: int = 0
    status: str | None = None

    def __str__(self) -> str:
        return f"{self.epoch}:{self.status or ''}"

    @classmethod
    def parse(cls, text: str | None) -> "Cursor":
        """The cursor an event id names; an absent or empty id starts from the beginning."""
        if not text:
            return cls()
        match = _CURSOR.fullmatch(text.strip())
        if match is None:
            raise BadCursor(f"{text[:40]!r} is not an id this stream sent (EPOCH:STATUS)")
        return cls(int(match.group(1)), match.group(2))

    @property
    def finished(self) -> bool:
        """True once the client has been sent a terminal status: nothing more will come."""
        return self.status in TERMINAL


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event."""

    id: str
    event: str
    data: dict[str, Any]

    def encode(self) -> str:
        """The event on the wire (its data is one line of JSON)."""
        return f"id: {self.id}\nevent: {self.event}\ndata: {json.dumps(self.data)}\n\n"


# A point of an epoch event, in order (the first three as before validation existed).
POINT = ("epoch", "loss", "accuracy", "rmse", "val_loss", "val_accuracy", "val_rmse")
_POINT_COLUMNS = [getattr(EpochLoss, name) for name in POINT]


def read_events(
    session: Session, job_id: str, cursor: Cursor, most_points: int | None = None
) -> tuple[list[Event], Cursor]:
    """The events that bring a client at ``cursor`` up to the job as stored now, and the new cursor;
    an epoch event has at most ``most_points`` points (None: ``MAX_POINTS``).

    A vanished job reads as a terminal ``failed`` status, so no stream waits on it forever.
    """
    job = session.execute(
        select(
            Job.status, Job.epoch, Job.epochs, Job.error, Job.latest_loss, Job.latest_accuracy
        ).where(Job.id == job_id)
    ).one_or_none()
    if job is None:
        gone = Cursor(cursor.epoch, JobStatus.FAILED)
        data = {
            "status": JobStatus.FAILED,
            "epoch": cursor.epoch,
            "epochs": None,
            "error": "job deleted",
        }
        return [Event(str(gone), "status", data)], gone
    if cursor.epoch > job.epoch and job.status in TERMINAL:
        # An id past an ended job's last epoch names nothing: the end is at the row's epoch.
        # (A running job may be behind its client's id after a rewind: those epochs are not
        # sent again, so there the cursor stands.)
        cursor = Cursor(job.epoch, cursor.status)
    events: list[Event] = []
    status_changed = job.status != cursor.status
    if status_changed and job.status not in TERMINAL:
        cursor = Cursor(cursor.epoch, job.status)
        events.append(_status_event(cursor, job))
    if job.epoch > cursor.epoch:
        # The row's epoch was written in the same transaction as every loss up to it.
        if most_points != 0:
            most = MAX_POINTS if most_points is None else most_points
            points = _points(session, job_id, cursor.epoch, job.epoch, most)
            row = points[-1] if points and points[-1][0] == job.epoch else None
        else:  # no points: only the newest epoch's row, for its measures
            points, row = [], _row(session, job_id, job.epoch)
        cursor = Cursor(job.epoch, cursor.status)
        if row is not None:
            newest = dict(zip(POINT, row, strict=True))
        else:  # a thinned curve: the newest epoch has no row, the job row has its loss
            newest = dict.fromkeys(POINT)
            newest.update(epoch=job.epoch, loss=job.latest_loss, accuracy=job.latest_accuracy)
        if points or newest["loss"] is not None:
            data = {**newest, "epochs": job.epochs, "points": points}
            events.append(Event(str(cursor), "epoch", data))
    if status_changed and job.status in TERMINAL:
        cursor = Cursor(cursor.epoch, job.status)
        events.append(_status_event(cursor, job))
    return events, cursor


def _status_event(cursor: Cursor, job: Any) -> Event:
    data = {"status": job.status, "epoch": job.epoch, "epochs": job.epochs, "error": job.error}
    return Event(str(cursor), "status", data)


def _points(session: Session, job_id: str, after: int, last: int, most: int) -> list[list[Any]]:
    # Every stride-th new row, counted back from the newest so that the newest is always in.
    # Rows, not epoch numbers: a thinned curve stores every Nth epoch only.
    new = (EpochLoss.job_id == job_id, EpochLoss.epoch > after, EpochLoss.epoch <= last)
    stride = -(-(session.scalar(select(func.count()).where(*new)) or 0) // most)
    back = func.row_number().over(order_by=EpochLoss.epoch.desc()).label("back")
    rows = select(*_POINT_COLUMNS, back).where(*new).subquery()
    query = select(*(rows.c[name] for name in POINT))
    if stride > 1:
        query = query.where((rows.c.back - 1) % stride == 0)
    found = session.execute(query.order_by(rows.c.epoch))
    return [list(row) for row in found]


def _row(session: Session, job_id: str, epoch: int) -> list[Any] | None:
    """The stored measures of one epoch, as a point; None where it has no row."""
    where = (EpochLoss.job_id == job_id, EpochLoss.epoch == epoch)
    row = session.execute(select(*_POINT_COLUMNS).where(*where)).one_or_none()
    return list(row) if row is not None else None


def stream(
    sessions: sessionmaker[Session],
    job_id: str,
    cursor: Cursor,
    wakeups: "Wakeups",
    heartbeat_seconds: float,
    max_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    allowed: Callable[[], bool] = lambda: True,
    recheck_seconds: float = math.inf,
    most_points: int | None = None,
) -> Iterator[str]:
    """The job's events as SSE text until its terminal status or ``max_seconds``; at most
    ``most_points`` points in an epoch event.

    Every ``recheck_seconds`` it asks ``allowed()`` whether the client may still listen (its token
    may have been revoked meanwhile), and ends at once if not.
    A generator: the server closing it (the client went away) closes the subscription too.
    """
    with wakeups.subscribe(job_id) as wait:  # before the first read, so no wake-up is missed
        started = quiet_since = checked = clock()
        # The reconnection delay rides with the first event: a block of its own would reach
        # clients as an empty event.
        retry = f"retry: {RETRY_MS}\n"
        while True:
            with sessions.begin() as session:
                events, cursor = read_events(session, job_id, cursor, most_points)
            for item in events:
                yield retry + item.encode()
                retry, quiet_since = "", clock()
            if cursor.finished:
                return
            now = clock()
            if now - started >= max_seconds:
                return  # the client reconnects with Last-Event-ID and carries on
            if now - checked >= recheck_seconds:
                if not allowed():
                    return  # and its reconnection is refused
                checked = now
            if now - quiet_since >= heartbeat_seconds:
                yield ": keep-alive\n\n"  # an SSE comment: keeps proxies from timing out
                quiet_since = now
            wait(
                min(
                    heartbeat_seconds - (clock() - quiet_since),
                    max_seconds - (now - started),
                    recheck_seconds - (now - checked),
                )
            )


def channel(job_id: str) -> str:
    """The Redis pub/sub channel that announces changes to one job."""
    return f"gradyard:job-events:{job_id}"


@cache
def _redis(url: str) -> redis.Redis:
    # Short timeouts: a wake-up is a courtesy and must never hold up the worker for long.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


class Wakeups:
    """Wake-up signals for streams: Redis pub/sub where ``redis_url`` is set, else polling."""

    def __init__(self, redis_url: str | None, poll_seconds: float) -> None:
        self.redis_url = redis_url
        self.poll_seconds = poll_seconds

    def publish(self, job_id: str) -> None:
        """Tell the streams watching ``job_id`` to read it again; never raises."""
        if self.redis_url is None:
            return
        try:
            _redis(self.redis_url).publish(channel(job_id), b"")
        except REDIS_FAILURES as exc:
            # Streams still read at every heartbeat; losing a wake-up only delays them.
            log.warning("could not publish a wake-up for job %s: %s", job_id, exc)

    @contextmanager
    def subscribe(self, job_id: str) -> Iterator[Callable[[float], None]]:
        """A ``wait(seconds)`` that returns early when the job is announced to have changed."""
        if self.redis_url is None:
            yield self._sleep
            return
        pubsub = _redis(self.redis_url).pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(channel(job_id))
        except REDIS_FAILURES as exc:
            log.warning("no wake-ups for job %s, polling instead: %s", job_id, exc)
            pubsub.close()
            yield self._sleep
            return

        def wait(seconds: float) -> None:
            try:
                if pubsub.get_message(timeout=max(seconds, 0.0)) is not None:
                    # Several flushes since the last read need only one more read.
                    while pubsub.get_message(timeout=0.0) is not None:
                        pass
            except REDIS_FAILURES:
                time.sleep(min(max(seconds, 0.0), self.poll_seconds))

        try:
            yield wait
        finally:
            pubsub.close()

    def _sleep(self, seconds: float) -> None:
        time.sleep(min(max(seconds, 0.0), self.poll_seconds))


# Set when an app or worker is built (``configure``); until then streams poll and nobody wakes.
_wakeups = Wakeups(None, 0.5)


def configure(settings: Settings) -> None:
    """Wake streams through the settings' broker when it is Redis (called by the app factories)."""
    global _wakeups
    url = settings.broker_url if settings.broker_url.startswith(("redis://", "rediss://")) else None
    _wakeups = Wakeups(url, settings.events_poll_seconds)


def wakeups() -> Wakeups:
    """The wake-ups the configured broker allows."""
    return _wakeups


def publish(job_id: str) -> None:
    """Wake the job's streams now (call it after the change has committed)."""
    wakeups().publish(job_id)


def publish_after_commit(session: Session, job_id: str) -> None:
    """Wake the job's streams once ``session``'s transaction commits (not before: they would read
    the old row and then sleep)."""
    event.listen(session, "after_commit", lambda _s: wakeups().publish(job_id), once=True)
