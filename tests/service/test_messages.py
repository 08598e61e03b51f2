"""The API publishes a job with one LPUSH of a message it builds itself (store.messages): the
message must be the one Celery's own send_task writes, so that a worker runs it like any other.
tests/service/test_end_to_end.py runs such messages through a real worker process."""

import base64
import json
import uuid
from typing import Any

import pytest
import redis
from celery import Celery

from store.messages import task_message
from store.queue import RUN_JOB, broker_config, enqueue
from store.settings import Settings
from tests.service.conftest import BROKER_URL

pytestmark = pytest.mark.usefixtures("services")

# Differ from message to message (ids) or from process to process (who sent it).
VARYING = {("headers", "id"), ("headers", "root_id"), ("headers", "origin")}
VARYING |= {("properties", k) for k in ("correlation_id", "reply_to", "delivery_tag")}


def _pushed(queue: str) -> dict[str, Any]:
    client = redis.Redis.from_url(BROKER_URL)
    raw = client.lrange(queue, 0, -1)
    client.delete(queue)
    assert len(raw) == 1, raw
    document: dict[str, Any] = json.loads(raw[0])
    return document


def _shape(message: dict[str, Any]) -> dict[str, Any]:
    """The message with what varies left out, and its body decoded."""
    shape: dict[str, Any] = {}
    for part, value in message.items():
        if isinstance(value, dict):
            shape[part] = {k: v for k, v in value.items() if (part, k) not in VARYING}
        else:
            shape[part] = value
    shape["body"] = json.loads(base64.b64decode(message["body"]))
    return shape


def test_the_message_is_the_one_celery_sends() -> None:
    queue = f"gradyard-test-messages-{uuid.uuid4().hex[:8]}"
    settings = Settings(broker_url=BROKER_URL, queue_name=queue)
    celery = Celery("reference", set_as_current=False)
    celery.conf.update(broker_config(settings))
    job_id = str(uuid.uuid4())
    try:
        celery.send_task(RUN_JOB, args=[job_id], queue=queue)
        theirs = _pushed(queue)
        enqueue(settings, job_id)
        ours = _pushed(queue)
    finally:
        redis.Redis.from_url(BROKER_URL).delete(queue, f"_kombu.binding.{queue}")
    assert _shape(ours) == _shape(theirs)
    assert (
        ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]
    )
    assert ours["headers"]["id"] != theirs["headers"]["id"]


def test_each_message_has_ids_of_its_own() -> None:
    first, second = (json.loads(task_message(RUN_JOB, ["a"], "q")) for _ in range(2))
    assert first["headers"]["id"] != second["headers"]["id"]
    assert first["properties"]["delivery_tag"] != second["properties"]["delivery_tag"]
