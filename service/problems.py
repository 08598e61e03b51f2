"""One error format for every failure: RFC 9457 problem documents (application/problem+json)."""

from typing import Any

from flask import Flask, Response, json, request
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

PROBLEM_TYPES = "/problems/"


class Problem(Exception):
    """An error the API reports to the client as a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        slug: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.type = PROBLEM_TYPES + slug if slug else "about:blank"
        self.errors = errors
        self.headers = headers or {}
        self.extra: dict[str, Any] = {}  # members beside the standard ones

    def response(self) -> Response:
        """The problem as an HTTP response."""
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        response = Response(json.dumps(body), self.status, mimetype="application/problem+json")
        response.headers.update(self.headers)
        return response


# A problem lists at most this many errors, and says how many more there were: a huge invalid
# body must not make a huge answer (issue 12 item 2).
MAX_ERRORS = 20


def validation_problem(errors: list[dict[str, Any]], detail: str | None = None) -> Problem:
    """A 422 problem listing each bad field as ``{"field": "a.b.0", "message": ...}``."""
    shown, more = errors[:MAX_ERRORS], len(errors) - MAX_ERRORS
    detail = detail or "; ".join(f"{e['field']}: {e['message']}" for e in shown)
    if more > 0:
        detail += f"; and {more} more"
    problem = Problem(422, "Invalid request", detail, "validation", shown)
    if more > 0:
        problem.extra["more_errors"] = more
    return problem


def unavailable(detail: str, slug: str) -> Problem:
    """A 503 for a dependency that is down for now: the client should retry in a few seconds."""
    return Problem(503, "Service Unavailable", detail, slug, headers={"Retry-After": "5"})


def from_validation_error(exc: ValidationError, prefix: str = "") -> Problem:
    """Turn pydantic's errors into our problem format."""
    errors = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(part) for part in error["loc"])
        errors.append(
            {
                "field": prefix + field if field else prefix.rstrip(".") or "body",
                "message": error["msg"],
                "type": error["type"],
            }
        )
    return validation_problem(errors)


def refuse_empty_segments() -> None:
    """A path with an empty segment names nothing: 404, never a redirect to a guessed URL."""
    if "//" in request.path:
        detail = "no such resource: the path has an empty segment (an empty job id?)"
        raise Problem(404, "Not Found", detail, "not-found")


def register(app: Flask) -> None:
    """Make every error, ours or Flask's, leave as a problem document."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return exc.response()

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers = {}
        if status == 405 and exc.get_response().headers.get("Allow"):
            headers["Allow"] = exc.get_response().headers["Allow"]
        detail = exc.description or exc.name
        if status == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            detail = f"the request body is over the limit of {limit} bytes (MAX_BODY_BYTES)"
        return Problem(status, exc.name, detail, headers=headers).response()

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_down(exc: Exception) -> Response:
        # A restart or an outage, not a bug: the pool reconnects by itself once it is back.
        app.logger.warning("database unavailable: %s", type(exc).__name__)
        return unavailable(
            "the database is unreachable; try again shortly", "database-unavailable"
        ).response()

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error", exc_info=exc)
        return Problem(
            500, "Internal Server Error", "the server failed; it has been logged"
        ).response()
