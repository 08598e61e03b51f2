"""Handing a job to the workers: one message naming the task and carrying the job id.

The API and the reaper send the task *by name*, so nothing here imports the worker. On Redis
the message is the one Celery's ``send_task`` would write (protocol 2, JSON, built by
``store.messages``), pushed with a single ``LPUSH`` on a connection kept for the process: a full
``send_task`` cost the API a quarter of a submission's CPU. The file-system broker of the
embedded mode goes through a small Celery client made from the settings. The broker's
configuration is defined once, here, and the worker's Celery app builds on it.
"""

import json
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import redis
from celery import Celery
from kombu.exceptions import OperationalError
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from store.messages import task_message
from store.redis_failures import REDIS_FAILURES
from store.settings import Settings

RUN_JOB = "gradyard.run_job"
# Fail fast when the broker is down: the client gets a 503 rather than a hung request.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


_clients: dict[tuple[object, ...], Celery] = {}


class BrokerUnavailable(Exception):
    """The message broker could not take the job (or be read)."""


@dataclass(frozen=True)
class Pending:
    """A queue's messages as the broker holds them: waiting, and delivered but unacknowledged."""

    waiting: int
    # (message id, seconds since its delivery) of each message a worker holds unacknowledged.
    unacked: list[tuple[str, float]]
    # Messages whose claim found nothing to start: spent, though not yet acknowledged.
    skipped: frozenset[str] = frozenset()


# How long a skipped message's id is remembered: far longer than its acknowledgement takes.
SKIPPED_SECONDS = 3600


def mark_skipped(settings: Settings, queue: str, message_id: str) -> None:
    """Record that ``message_id``'s claim started nothing, so no top-up counts it as still
    to claim a job while its acknowledgement is on the way (``BrokerUnavailable`` if Redis is
    down). The file-system broker forgets a message once delivered: nothing to record."""
    if not settings.broker_url.startswith(("redis://", "rediss://")):
        return
    key, now = f"{queue}:skipped", time.time()
    try:
        with _redis(settings.broker_url).pipeline(transaction=True) as pipe:
            pipe.zadd(key, {message_id: now})
            pipe.zremrangebyscore(key, 0, now - SKIPPED_SECONDS)
            pipe.expire(key, SKIPPED_SECONDS)
            pipe.execute()
    except REDIS_FAILURES as exc:
        raise BrokerUnavailable(str(exc)) from exc


def broker_config(settings: Settings) -> dict[str, Any]:
    """What every Celery app of Gradyard's needs to reach the broker: URL, queue, JSON only."""
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "task_default_queue": settings.queue_name,
        "task_serializer": "json",
        "accept_content": ["json"],  # a pickled message is refused, never run
        "result_serializer": "json",
        "task_ignore_result": True,  # the job row is the result; no result backend
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {},
    }
    if settings.broker_url.startswith("filesystem"):
        folder = settings.broker_dir
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        config["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),  # else ./control
            "store_processed": False,
        }
        # The file-system transport has no fan-out exchange for remote control.
        config["worker_enable_remote_control"] = False
    return config


def _client(settings: Settings) -> Celery:
    key = (settings.broker_url, settings.queue_name, settings.broker_dir)
    if key not in _clients:  # kept for the process: it holds the broker's connection pool
        client = Celery("gradyard-client", set_as_current=False)
        client.conf.update(broker_config(settings))
        _clients[key] = client
    return _clients[key]


def enqueue(settings: Settings, job_id: str, queue: str | None = None) -> None:
    """Queue job ``job_id`` for a worker (on ``queue``, by default the settings' queue).

    ``BrokerUnavailable`` if the broker cannot be reached.
    """
    queue = queue or settings.queue_name
    if settings.broker_url.startswith("redis"):
        try:
            # kombu's Redis transport keeps a queue as a list named after it (priority 0), and
            # an anonymous-exchange publish is an LPUSH onto it: what the worker's BRPOP reads.
            _publisher(settings.broker_url).lpush(queue, task_message(RUN_JOB, [job_id], queue))
        except REDIS_FAILURES as exc:
            raise BrokerUnavailable(str(exc)) from exc
        return
    try:
        _client(settings).send_task(
            RUN_JOB, args=[job_id], queue=queue, retry=True, retry_policy=PUBLISH_RETRY
        )
    except (OperationalError, OSError) as exc:
        raise BrokerUnavailable(str(exc)) from exc


def connect(settings: Settings) -> None:
    """Open the connection ``enqueue`` publishes on (a process's first submission would)."""
    if settings.broker_url.startswith("redis"):
        try:
            _publisher(settings.broker_url).ping()
        except REDIS_FAILURES as exc:
            raise BrokerUnavailable(str(exc)) from exc


@cache
def _publisher(url: str) -> redis.Redis:
    """The process's connection pool for publishing; fails fast when the broker is down (the
    client gets a 503 rather than a hung request). Only a failed connection is retried: a push
    that timed out may have been made, and a second one would be a duplicate message."""
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.2), int(PUBLISH_RETRY["max_retries"]))
    return redis.Redis.from_url(
        url,
        socket_timeout=2,
        socket_connect_timeout=2,
        retry=retry,
        retry_on_error=[redis.ConnectionError],
        retry_on_timeout=False,
    )


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def broker_reachable(settings: Settings) -> bool:
    """True when a connection to the broker can be opened now."""
    try:
        with _client(settings).connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except (OperationalError, OSError):
        return False
    return True


def pending(settings: Settings, queue: str) -> Pending:
    """The messages of ``queue`` that the broker holds now; ``BrokerUnavailable`` if unreachable.

    Redis keeps a queue as a list, and every message delivered to a worker and not yet
    acknowledged in the hash ``unacked`` (tag -> [message, exchange, routing key]), with its
    delivery time in the sorted set ``unacked_index``: the names kombu's Redis transport uses. The
    file-system broker keeps a file per waiting message and forgets a message once delivered.
    """
    if settings.broker_url.startswith("filesystem"):
        folder = settings.broker_dir / "queue"
        suffix = f"{queue}.msg"  # kombu names them <time>_<uuid>.<queue>.msg
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        return Pending(sum(name.partition(".")[2] == suffix for name in names), [])
    try:
        with _redis(settings.broker_url).pipeline(transaction=False) as pipe:
            pipe.llen(queue)
            pipe.hgetall("unacked")
            pipe.zrange("unacked_index", 0, -1, withscores=True)
            pipe.zrange(f"{queue}:skipped", 0, -1)
            waiting, held, delivered, skipped = pipe.execute()
    except REDIS_FAILURES as exc:
        raise BrokerUnavailable(str(exc)) from exc
    now, since = time.time(), dict(delivered)
    unacked = []
    for tag, raw in held.items():
        try:
            message, _exchange, routing_key = json.loads(raw)
            message_id = str(message["headers"]["id"])
        except (ValueError, TypeError, KeyError):
            continue  # not a Celery message: it runs no job
        if routing_key == queue:
            unacked.append((message_id, now - since.get(tag, now)))
    return Pending(int(waiting), unacked, frozenset(m.decode() for m in skipped))
