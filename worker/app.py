"""The Celery app: configuration only; the tasks live in worker.tasks, their logic elsewhere."""

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from service.db import dispose_after_fork
from service.settings import Settings, get_settings

RUN_JOB = "gradyard.run_job"


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for Gradyard's broker: JSON only, one long task at a time per process."""
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "task_default_queue": settings.queue_name,
        "task_serializer": "json",
        "accept_content": ["json"],  # a pickled message is refused, never run
        "result_serializer": "json",
        "task_ignore_result": True,  # the job row is the result; no result backend
        "task_acks_late": True,  # a job whose worker dies is delivered again
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,  # jobs are long: do not hoard them
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "broker_transport_options": {},
    }
    if settings.broker_url.startswith("filesystem"):
        queue_dir = settings.broker_dir / "queue"
        (settings.broker_dir / "processed").mkdir(parents=True, exist_ok=True)
        queue_dir.mkdir(parents=True, exist_ok=True)
        config["broker_transport_options"] = {
            "data_folder_in": str(queue_dir),
            "data_folder_out": str(queue_dir),
            "processed_folder": str(settings.broker_dir / "processed"),
            "store_processed": False,
        }
        # The file-system transport has no fan-out exchange for remote control.
        config["worker_enable_remote_control"] = False
    elif settings.broker_url.startswith("redis"):
        # Longer than the longest job may run, so Redis never redelivers a job still running.
        config["broker_transport_options"] = {"visibility_timeout": 24 * 3600}
    return config


def create_celery(settings: Settings | None = None) -> Celery:
    """A Celery app configured from the settings."""
    app = Celery("gradyard", include=["worker.tasks"])
    app.conf.update(celery_config(settings or get_settings()))
    return app


celery_app = create_celery()


@worker_process_init.connect
def _fresh_connections_after_fork(**_: Any) -> None:
    dispose_after_fork()
