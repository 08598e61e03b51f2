"""Structured logs: one JSON object per line, with the id of the job being handled on each.

A context variable carries the job id, so every line logged while a job is handled (by a view
or by a worker's task, and by anything they call) names it without passing it around. Only the
message and these fields are written: no request bodies or headers, so no tokens or secrets.
"""

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, message, job_id (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "job_id": job_id_var.get(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        job_id = job_id_var.get()
        return super().format(record) + (f" [job {job_id}]" if job_id else "")


def configure(log_format: str, level: int | str = logging.INFO) -> None:
    """Send every logger's records to stderr in ``log_format`` (LOG_FORMAT: json or text)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Gunicorn's loggers keep their own handlers (and its access log's destination); inside a
    # gunicorn worker their lines take the same format. The master's few lines stay its own.
    for name in ("gunicorn.error", "gunicorn.access"):
        for own in logging.getLogger(name).handlers:
            own.setFormatter(handler.formatter)


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    """Within the block, every log line names ``job_id``."""
    token = job_id_var.set(job_id)
    try:
        yield
    finally:
        job_id_var.reset(token)
