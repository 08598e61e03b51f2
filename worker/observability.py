"""The worker's logs and metrics, hooked onto Celery's signals so the tasks stay transport-only.

Each task's job id goes into the logging context for the task's duration; each delivery's end
is counted by status and timed. With WORKER_METRICS_PORT set, the worker's main process serves
/metrics for its pool processes (they write to PROMETHEUS_MULTIPROC_DIR, which that needs).
"""

import logging
import time
from contextvars import Token
from typing import Any

from celery import Task, current_app
from celery.signals import setup_logging, task_postrun, task_prerun, worker_init
from prometheus_client import start_http_server

from store import logging_setup, metrics
from store.queue import RUN_JOB
from store.status import TERMINAL

log = logging.getLogger(__name__)
_running: dict[str, tuple[Token[str | None], float]] = {}


@setup_logging.connect
def _json_logs(loglevel: int | str | None = None, **_: Any) -> None:
    # The signal names no app: the one being started is Celery's current app.
    settings = current_app.conf.gradyard_settings
    logging_setup.configure(settings.log_format, loglevel or logging.INFO)


@worker_init.connect
def _serve_metrics(sender: Any, **_: Any) -> None:
    port = sender.app.conf.gradyard_settings.worker_metrics_port
    if port is None:
        return
    if not metrics.MULTIPROCESS:
        log.warning("WORKER_METRICS_PORT without PROMETHEUS_MULTIPROC_DIR: pool metrics unseen")
    try:
        start_http_server(port, registry=metrics.registry())
    except OSError as exc:  # a busy port costs the metrics, never the jobs
        log.error("worker metrics not served on port %d: %s", port, exc)
        return
    log.info("worker metrics on port %d", port)


@task_prerun.connect
def _job_started(task_id: str, task: Task, args: tuple[Any, ...], **_: Any) -> None:
    if task.name == RUN_JOB and args:
        _running[task_id] = (logging_setup.job_id_var.set(str(args[0])), time.perf_counter())


@task_postrun.connect
def _job_ended(task_id: str, retval: Any = None, **_: Any) -> None:
    token, start = _running.pop(task_id, (None, None))
    if start is not None and retval in TERMINAL:
        metrics.instruments().jobs_finished.labels(retval).inc()
        metrics.instruments().job_seconds.labels(retval).observe(time.perf_counter() - start)
    if token is not None:
        logging_setup.job_id_var.reset(token)
