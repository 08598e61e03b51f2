"""Celery tasks: transport concerns only; running a job is worker.runner's business."""

from typing import Any

from billiard.einfo import ExceptionInfo
from celery import Task
from celery.exceptions import TimeLimitExceeded

from worker import runner
from worker.app import RUN_JOB, celery_app


class JobTask(Task):
    """A job's task: when the hard time limit kills it, its row still says why it ended."""

    def on_failure(
        self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: ExceptionInfo
    ) -> None:
        if isinstance(exc, TimeLimitExceeded) and args:
            runner.fail_killed(args[0], f"killed after the hard time limit of {exc.args[0]} s")


@celery_app.task(name=RUN_JOB, base=JobTask)
def run_job(job_id: str) -> str:
    """Train the job with this id and record everything about it in its row."""
    return runner.run_job(job_id)
