"""A stopping worker hands its running jobs back within seconds, instead of finishing them.

On a warm shutdown (SIGTERM from `docker compose stop` or Kubernetes, Ctrl-C) Celery stops taking
messages and waits for the running tasks, which could be hours. Its main process therefore tells
each pool process to stop (``HANDBACK_SIGNAL``), and the runner, at its next progress batch,
checkpoints the job, puts it back in the queue for another worker (``queued``) and returns: the
pool is idle and the worker exits, and the job resumes from that checkpoint elsewhere.
"""

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

from celery.signals import task_prerun, worker_process_init, worker_shutting_down

log = logging.getLogger(__name__)

# SIGUSR2: billiard uses SIGUSR1 for soft time limits, and SIGTERM ends a pool process outright.
HANDBACK_SIGNAL = signal.SIGUSR2
# Set in a pool process once its worker is stopping: the runner hands its job back.
stop_requested = threading.Event()


def _request_stop(_signum: int, _frame: object) -> None:
    stop_requested.set()


@worker_process_init.connect
def _fresh_process(**_: Any) -> None:
    stop_requested.clear()


@task_prerun.connect
def _listen_for_handback(**_: Any) -> None:
    # Here, in the pool process before each task, not at its start: billiard sets its own
    # handler for most signals (SIGUSR2 too) after the pool process's initializer has run.
    if signal.getsignal(HANDBACK_SIGNAL) is not _request_stop:
        signal.signal(HANDBACK_SIGNAL, _request_stop)


@worker_shutting_down.connect
def _tell_the_pool(**_: Any) -> None:
    for pid in _children(os.getpid()):
        try:
            os.kill(pid, HANDBACK_SIGNAL)
        except ProcessLookupError:  # it ended meanwhile
            continue
    log.info("worker stopping: running jobs are handed back to the queue")


def _children(pid: int) -> list[int]:
    """The process's child processes (Linux's /proc: each of its threads lists those it forked)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found
