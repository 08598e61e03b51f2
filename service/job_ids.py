"""Job ids in paths are UUIDs: any other ``<job_id>`` is a 404 before a view or SQL sees it.

Validating at the edge keeps what the database cannot hold (a NUL byte, say, which Postgres
refuses in text) away from every query, on every job route of the API and of the dashboard.
"""

import re

from flask import Flask, request

from service.problems import Problem

# How store.jobs.create_job names jobs: str(uuid.uuid4()), lower-case and hyphenated.
_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def register(app: Flask) -> None:
    """Answer 404 for a job route whose id is not a job id."""
    app.before_request(_check_job_id)


def _check_job_id() -> None:
    job_id = (request.view_args or {}).get("job_id")
    if job_id is not None and not _JOB_ID.fullmatch(job_id):
        raise Problem(404, "Not Found", "no such job: job ids are UUIDs", "not-found")
