"""A Celery task message (protocol 2, JSON) as kombu's Redis transport stores it in a queue.

What ``Celery.send_task(name, args=..., queue=...)`` writes, field for field, so that a worker
cannot tell the two apart (tests/service/test_messages.py compares the two, and
test_end_to_end.py runs ours through a real worker). Built here so that the API publishes a job
with one ``LPUSH`` instead of a whole Celery producer.
"""

import base64
import json
import os
import socket
import uuid
from functools import cache
from typing import Any

# The body's third part: no workflow (callbacks, errbacks, chain, chord) follows the task.
_NO_WORKFLOW = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def task_message(task: str, args: list[Any], queue: str) -> bytes:
    """The JSON document of one message running ``task(*args)``, routed to ``queue``."""
    task_id = str(uuid.uuid4())
    body = json.dumps([args, {}, _NO_WORKFLOW]).encode()
    message = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": task,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": repr(args),
            "kwargsrepr": "{}",
            "origin": _origin(),
            "ignore_result": None,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": _reply_to(),
            "delivery_mode": 2,  # persistent
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return json.dumps(message).encode()


def _origin() -> str:
    # Celery's "gen<pid>@<host>": who sent it, as a worker's logs show it. Per process (a fork
    # has its own pid), so not cached across a fork.
    return f"gen{os.getpid()}@{_host()}"


@cache
def _host() -> str:
    return socket.gethostname()


@cache
def _reply_to() -> str:
    # Celery's client node id; nothing replies to it (results are ignored), but it is there.
    return str(uuid.uuid4())
