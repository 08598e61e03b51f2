"""Celery tasks: transport concerns only; running a job is worker.runner's business."""

from worker import runner
from worker.app import RUN_JOB, celery_app


@celery_app.task(name=RUN_JOB)
def run_job(job_id: str) -> str:
    """Train the job with this id and record everything about it in its row."""
    return runner.run_job(job_id)
