"""Celery tasks: transport concerns only; running a job is worker.runner's business."""

from typing import Any

from billiard.einfo import ExceptionInfo
from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded

from store.queue import RUN_JOB
from worker import runner


class JobTask(Task):
    """A job's task: when the hard time limit kills it, its row still says why it ended."""

    def on_failure(
        self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: ExceptionInfo
    ) -> None:
        if isinstance(exc, TimeLimitExceeded):
            error = f"killed after the hard time limit of {exc.args[0]} s"
            runner.fail_killed(self.app.conf.gradyard_settings, task_id, error)


@shared_task(name=RUN_JOB, base=JobTask, bind=True)
def run_job(self: JobTask, job_id: str) -> str:
    """Run the fairest job that may start (often the one with this id); record it in its row."""
    return runner.run_job(self.app.conf.gradyard_settings, job_id, self.request.id)
