"""Job ids in paths are UUIDs: any other ``<job_id>`` is a 404 before a view or SQL sees it.

Validating at the edge keeps what the database cannot hold (a NUL byte, say, which Postgres
refuses in text) away from every query of the API. The dashboard's pages check their ids the same
way themselves, to answer with their own "no such job" page rather than a problem document.
"""

import re

from flask import Flask, request

from service.problems import Problem

# How store.jobs.create_job names jobs: str(uuid.uuid4()), lower-case and hyphenated.
_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_job_id(text: str) -> bool:
    """True for a string that can name a job."""
    return _JOB_ID.fullmatch(text) is not None


def register(app: Flask) -> None:
    """Answer 404 for a job route whose id is not a job id."""
    app.before_request(_check_job_id)


def _check_job_id() -> None:
    args = request.view_args or {}
    if not request.path.startswith("/api/"):
        return
    job_id = args.get("job_id")
    if job_id is not None and not is_job_id(job_id):
        raise Problem(404, "Not Found", "no such job: job ids are UUIDs", "not-found")
    sweep_id = args.get("sweep_id")  # named as jobs are (store/sweeps.py)
    if sweep_id is not None and not is_job_id(sweep_id):
        raise Problem(404, "Not Found", "no such sweep: sweep ids are UUIDs", "not-found")
