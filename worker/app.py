"""The Celery app, built by ``create_celery``: configuration only; the task is in worker.tasks."""

import gc
from typing import Any

from celery import Celery, current_app
from celery.signals import worker_process_init

from store import events, metrics, warmup
from store.db import dispose_after_fork
from store.queue import broker_config
from store.settings import Settings


def celery_config(settings: Settings) -> dict[str, Any]:
    """The broker's configuration plus the worker's: late acks, one long task at a time."""
    config = broker_config(settings)
    config.update(
        {
            "task_acks_late": True,  # a job whose worker dies is delivered again
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,  # jobs are long: do not hoard them
            # The runner stops a job over JOB_TIME_LIMIT at an epoch boundary, with a clear
            # error; this hard limit kills a process stuck inside one epoch for much longer.
            "task_time_limit": hard_time_limit(settings),
            # A broker restart must not kill running jobs: their rows, not messages, matter.
            "worker_cancel_long_running_tasks_on_connection_loss": False,
            "worker_hijack_root_logger": False,
        }
    )
    if settings.broker_url.startswith("redis"):
        # Longer than the longest job may run, so Redis never redelivers a job still running.
        # A job whose worker died is found sooner, by the reaper (worker.reaper).
        config["broker_transport_options"] = {
            "visibility_timeout": hard_time_limit(settings) + 3600
        }
    return config


def hard_time_limit(settings: Settings) -> float:
    """Seconds after which a job's process is killed: JOB_TIME_LIMIT plus a grace period."""
    return settings.job_time_limit + settings.job_kill_grace_seconds


def create_celery(settings: Settings) -> Celery:
    """A Celery app configured from the settings, with Gradyard's task and signal hooks."""
    metrics.prepare(settings)
    events.configure(settings)
    # The task, and the modules whose signal hooks the worker needs (they connect at import).
    hooks = ["worker.reaper", "worker.observability", "worker.shutdown", "worker.limits"]
    app = Celery("gradyard", include=["worker.tasks", *hooks])
    app.conf.update(celery_config(settings))
    app.conf.gradyard_settings = settings  # read back by the task and the hooks
    return app


@worker_process_init.connect
def _fresh_connections_after_fork(**_: Any) -> None:
    dispose_after_fork()
    # The engine allocates many short-lived objects, so the collector runs often, and its older
    # generations would scan the pool process's heap (Celery, kombu, SQLAlchemy: ~89,000 objects
    # against ~12,000 in a bare process). Freezing what is alive after the fork takes that heap
    # out of every collection. bench/gc_freeze.py (medians of 5; bare process / worker heap /
    # frozen, on a shared 2-core machine): notebook x10000 1.124 / 1.298 / 1.125 s at load 3.5;
    # moons x200 1.653 / 1.791 / 1.415 s at load 1.5. Frozen is never slower than bare.
    gc.freeze()
    warmup.start(warmup.rehearse_job, current_app.conf.gradyard_settings)  # the first job, ahead
