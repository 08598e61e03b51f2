"""A job's live events: ``GET /api/v1/jobs/{id}/events``, a Server-Sent Events stream.

What the stream sends, and how ``Last-Event-ID`` resumes it, is service/events.py's business.
Each open stream holds a server thread (a whole process under gunicorn's sync workers, which is
why ``gradyard serve`` runs gthread workers) for at most ``EVENTS_MAX_SECONDS`` (by default less
than gunicorn's 30 s worker timeout, so a sync worker is never killed mid-stream); then it ends
and the client reconnects with its ``Last-Event-ID``.
"""

from flask import Blueprint, Response, request

from service.auth import owned_job_or_404
from service.config import current_sessions, current_settings
from service.problems import validation_problem
from store import events

bp = Blueprint("events", __name__, url_prefix="/api/v1/jobs")


@bp.get("/<job_id>/events")
def job_events(job_id: str) -> Response:
    """Stream the job's status changes and persisted epochs until it ends."""
    try:
        cursor = events.Cursor.parse(request.headers.get("Last-Event-ID"))
    except events.BadCursor as exc:
        raise validation_problem([{"field": "Last-Event-ID", "message": str(exc)}]) from exc
    with current_sessions().begin() as session:
        owned_job_or_404(session, job_id)
    if cursor.finished:
        # 204 is how SSE tells a client to stop reconnecting: it has seen the end already.
        return Response(status=204)
    settings = current_settings()
    body = events.stream(
        current_sessions(),
        job_id,
        cursor,
        events.wakeups(),
        settings.events_heartbeat_seconds,
        settings.events_max_seconds,
    )
    return Response(
        body,
        mimetype="text/event-stream",
        headers={
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx and friends: pass each event on at once
        },
    )
