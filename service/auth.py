"""Who is asking: the Bearer token on every ``/api/`` request, and whether a job is theirs.

Each token acts for one owner; an admin token sees and acts on every owner's jobs. With AUTH off
(the embedded try-out) every request acts for the owner "local". Views call ``current_owner()``
and ``owned_job_or_404()``; another owner's job is a 404, indistinguishable from no job.
"""

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, g, request
from sqlalchemy.orm import Session

from service.config import current_sessions, current_settings
from service.problems import Problem
from store import jobs, tokens
from store.db import reads
from store.models import Job

API_PREFIX = "/api/"


@dataclass(frozen=True)
class Caller:
    """The owner a request acts for, and whether it may see every owner's jobs."""

    owner: str
    admin: bool = False

    @property
    def visible_owner(self) -> str | None:
        """The owner whose jobs this caller sees; None for all of them."""
        return None if self.admin else self.owner


LOCAL = Caller("local")


def register(app: Flask) -> None:
    """Require a valid token on every API request (unless AUTH is off)."""
    app.before_request(_authenticate)


def _authenticate() -> None:
    if not request.path.startswith(API_PREFIX):
        return
    settings = current_settings()
    if not settings.auth:
        g.caller = LOCAL
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("send the header Authorization: Bearer <token>", None)
    with reads(settings.database_url) as connection:
        holder = tokens.find_token(connection, token, settings.secret_key)
    if holder is None:
        # The body never repeats the token: error bodies and logs stay free of secrets.
        raise _unauthorized("the token is wrong or has been revoked", "invalid_token")
    g.caller = Caller(holder.owner, holder.admin)


def still_authorized() -> Callable[[], bool]:
    """A check that the current request's token is still live, for use after the request has
    handed its response over (a stream re-checks while it runs: a token may be revoked)."""
    settings = current_settings()
    if not settings.auth:
        return lambda: True
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    factory = current_sessions()

    def check() -> bool:
        with factory.begin() as session:
            return tokens.find_token(session, token, settings.secret_key) is not None

    return check


def _unauthorized(detail: str, error: str | None) -> Problem:
    challenge = 'Bearer realm="gradyard"' + (f', error="{error}"' if error else "")
    return Problem(
        401, "Unauthorized", detail, "unauthorized", headers={"WWW-Authenticate": challenge}
    )


def current_caller() -> Caller:
    """The caller of the current API request."""
    caller: Caller = g.caller
    return caller


def current_owner() -> str:
    """The owner the current API request acts for (and new jobs belong to)."""
    return current_caller().owner


def owned_job_or_404(session: Session, job_id: str) -> Job:
    """The job with this id if the caller may see it, else a 404 problem (as for no such job)."""
    job = jobs.get_job(session, job_id, current_caller().visible_owner)
    if job is None:
        raise Problem(404, "Not Found", f"no job {job_id}", "not-found")
    return job
