"""GET /metrics for Prometheus, and the per-request hooks that time requests and name the job.

/metrics is outside /api, so it needs no token: it is for a scraper on the internal network and
holds counts and timings only (no job ids, owners or specs).
"""

import time

from flask import Blueprint, Flask, Response, g, request

from service.config import current_settings
from store import metrics
from store.logging_setup import job_id_var

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    """Every metric in the Prometheus text format, summed over the API and worker processes."""
    accept = request.headers.get("Accept")
    body, content_type = metrics.exposition(current_settings().database_url, accept)
    return Response(body, content_type=content_type)


def register(app: Flask) -> None:
    """Time every request by route and status; log lines of job requests carry the job id."""
    app.before_request(_start)
    app.after_request(_observe)
    app.teardown_request(_end)


def _start() -> None:
    g.metrics_start = time.perf_counter()
    job_id = (request.view_args or {}).get("job_id")
    g.job_id_token = job_id_var.set(job_id) if job_id else None


def _observe(response: Response) -> Response:
    start = g.get("metrics_start")
    if start is not None:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.instruments().http_seconds.labels(
            route, request.method, str(response.status_code)
        ).observe(time.perf_counter() - start)
    return response


def _end(_: BaseException | None) -> None:
    token = g.pop("job_id_token", None)
    if token is not None:
        job_id_var.reset(token)
