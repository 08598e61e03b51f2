"""Handing a job to the workers: one message carrying the job id (the row holds everything else)."""

from kombu.exceptions import OperationalError

from service.settings import get_settings
from worker.app import RUN_JOB, celery_app

# Fail fast when the broker is down: the client gets a 503 rather than a hung request.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


class BrokerUnavailable(Exception):
    """The message broker could not take the job."""


def enqueue(job_id: str) -> None:
    """Queue job ``job_id`` for a worker; ``BrokerUnavailable`` if the broker cannot be reached."""
    try:
        celery_app.send_task(
            RUN_JOB,
            args=[job_id],
            queue=get_settings().queue_name,
            retry=True,
            retry_policy=PUBLISH_RETRY,
        )
    except (OperationalError, OSError) as exc:
        raise BrokerUnavailable(str(exc)) from exc


def broker_reachable() -> bool:
    """True when a connection to the broker can be opened now."""
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except (OperationalError, OSError):
        return False
    return True
