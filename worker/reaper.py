"""The reaper's schedule: every worker looks for orphaned jobs at start-up and then periodically,
and (with RETENTION_DAYS set) deletes the jobs that ended before the retention period.

A thread in the worker's main process, rather than Celery beat (one more process to deploy and
keep single) or a self-rescheduling task (copies multiply with every worker restart). Several
workers reaping at once is safe: store.reaper's updates are conditional.
"""

import logging
import threading
from collections import Counter
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from store.db import sessions
from store.fair import top_up
from store.queue import BrokerUnavailable
from store.reaper import Reaped, reap
from store.retention import cutoff, purge
from store.retry import is_transient
from store.settings import Settings

log = logging.getLogger(__name__)

_stop = threading.Event()


def reap_once(settings: Settings) -> Reaped:
    """One pass: settle orphaned jobs in the database, then top up the queues they wait on.

    A queue gets messages only for the jobs it lacks one for (store.fair.top_up), at most one
    per job this pass found: a job merely waiting behind others already has its message.
    """
    factory = sessions(settings.database_url)
    with factory.begin() as session:
        reaped = reap(session, settings)
    waiting: Counter[str] = Counter(reaped.queues.values())
    sent: list[str] = []
    for queue, found in waiting.items():
        try:
            sent += top_up(factory, settings, queue, most=found)
        except BrokerUnavailable:
            # Still queued: a later pass tops the queue up once QUEUED_TIMEOUT has passed again.
            log.warning("reaper: broker unreachable; queue %s waits for a later pass", queue)
    if sent or reaped.failed or reaped.cancelled:
        log.warning(
            "reaper: enqueued %s, failed %s, cancelled %s", sent, reaped.failed, reaped.cancelled
        )
    return reaped


def purge_once(settings: Settings) -> int:
    """Delete the jobs that ended more than RETENTION_DAYS ago (none when it is unset)."""
    if settings.retention_days is None:
        return 0
    before = cutoff(settings.retention_days)
    removed = purge(sessions(settings.database_url), before, settings.purge_batch_jobs)
    if removed:
        log.info("retention: purged %d jobs that ended before %s", removed, before.isoformat())
    return removed


def _loop(settings: Settings) -> None:
    while True:
        for what, work in (("reaper", reap_once), ("retention", purge_once)):
            try:
                work(settings)
            except Exception as exc:  # never let the thread die
                if is_transient(exc):  # the database is down: one line, not a traceback
                    log.warning(
                        "%s pass skipped: database unreachable (%s)", what, type(exc).__name__
                    )
                else:
                    log.exception("%s pass failed", what)
        if _stop.wait(settings.reaper_seconds):
            return


@worker_ready.connect
def _start(sender: Any, **_: Any) -> None:
    _stop.clear()
    settings = sender.app.conf.gradyard_settings
    threading.Thread(target=_loop, args=(settings,), name="reaper", daemon=True).start()


@worker_shutdown.connect
def _shutdown(**_: Any) -> None:
    _stop.set()
