"""A job's live events: ``GET /api/v1/jobs/{id}/events``, a Server-Sent Events stream.

What the stream sends, and how ``Last-Event-ID`` resumes it, is store/events.py's business.
Each open stream holds a server thread for at most ``EVENTS_MAX_SECONDS`` (by default less than
gunicorn's 30 s worker timeout, so a sync worker is never killed mid-stream); then it ends and the
client reconnects with its ``Last-Event-ID``. So that streams never take the threads plain
requests need, each one first takes a place in the process's and its owner's budget
(store/streams.py): none left is a 503 (this process) or a 429 (this owner), with Retry-After.
While it runs, the stream re-checks its token every ``RECHECK_SECONDS`` and ends once it has
been revoked.
"""

import logging
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.api.parsing import query_args
from service.auth import current_owner, owned_job_or_404, still_authorized
from service.config import current_sessions, current_settings
from service.problems import Problem, unavailable, validation_problem
from service.schemas import EventsQuery
from store import events, streams
from store.settings import Settings

bp = Blueprint("events", __name__, url_prefix="/api/v1/jobs")
log = logging.getLogger(__name__)

RECHECK_SECONDS = 2.0
# When to try again: streams end and free their place every EVENTS_MAX_SECONDS at the latest.
RETRY_AFTER = 5
_BUDGET = "gradyard.streams"


def install(app: Flask, settings: Settings) -> None:
    """Give ``app`` the budget its streams are counted in (``create_app`` does)."""
    app.extensions[_BUDGET] = streams.StreamBudget(settings)


@bp.get("/<job_id>/events")
def job_events(job_id: str) -> Response:
    """Stream the job's status changes and persisted epochs until it ends."""
    most_points = query_args(EventsQuery).points
    try:
        cursor = events.Cursor.parse(request.headers.get("Last-Event-ID"))
    except events.BadCursor as exc:
        raise validation_problem([{"field": "Last-Event-ID", "message": str(exc)}]) from exc
    with current_sessions().begin() as session:
        owned_job_or_404(session, job_id)
    if cursor.finished:
        # 204 is how SSE tells a client to stop reconnecting: it has seen the end already.
        finished = Response(status=204)
        del finished.headers["Content-Type"]  # no body, so no type (it said text/html)
        return finished
    slot = _open_slot()
    try:
        settings = current_settings()
        authorized = still_authorized()

        def allowed() -> bool:
            slot.renew()
            return authorized()

        body = events.stream(
            current_sessions(),
            job_id,
            cursor,
            events.wakeups(),
            settings.events_heartbeat_seconds,
            settings.events_max_seconds,
            allowed=allowed,
            recheck_seconds=RECHECK_SECONDS,
            most_points=most_points,
        )
        response = Response(
            _releasing(slot, body),
            mimetype="text/event-stream",
            headers={
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx and friends: pass each event on at once
            },
        )
    except BaseException:
        slot.release()
        raise
    # The server closes the response when the stream ends or the client goes away (and a
    # stream that was never started has no end of its own to release at).
    response.call_on_close(slot.release)
    return response


def _releasing(slot: streams.Slot, body: Iterator[str]) -> Iterator[str]:
    """``body``, giving the slot back the moment it ends, before the server closes it.

    Flask's error handlers are behind us once the stream has started: an exception here would
    reach the server, which answers 500 if nothing was sent yet. So a failure ends the stream
    instead (the client reconnects with its Last-Event-ID, and meets a 503 if the database is
    still down); anything but an outage is logged with its traceback, as a bug.
    """
    try:
        yield from body
    except (OperationalError, PoolTimeout) as exc:
        log.warning("event stream ended, database unavailable: %s", exc)
    except Exception:
        log.exception("event stream ended by an unexpected error")
    finally:
        slot.release()


def _open_slot() -> streams.Slot:
    budget: streams.StreamBudget = current_app.extensions[_BUDGET]
    retry = {"Retry-After": str(RETRY_AFTER)}
    try:
        return budget.open(current_owner())
    except streams.ProcessFull as exc:
        detail = (
            f"this server already serves {budget.per_process} event streams, as many as it may "
            f"(MAX_STREAMS_PER_PROCESS); retry in {RETRY_AFTER} s"
        )
        raise Problem(503, "Service Unavailable", detail, "streams-busy", headers=retry) from exc
    except streams.OwnerFull as exc:
        detail = (
            f"you have {budget.per_owner} event streams open, as many as you may "
            f"(MAX_STREAMS_PER_OWNER): close one, or retry in {RETRY_AFTER} s"
        )
        raise Problem(429, "Too Many Streams", detail, "too-many-streams", headers=retry) from exc
    except streams.CounterUnavailable as exc:
        detail = "the stream counter is unreachable; try again shortly"
        raise unavailable(detail, "queue-unavailable") from exc
