"""Whether a submission (a job or a sweep) may be made: its place in the owner's rate, the
owner's lock under which the quota is counted, and the 429s and 503s they answer.

A sweep counts once against the rate, as one job does, and a replayed Idempotency-Key is free:
``reserve`` asks the caller's ``made`` whether the key already made something.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from service.config import current_sessions, current_settings
from service.problems import Problem, unavailable
from store import jobs, ratelimit, submissions
from store.models import Job
from store.settings import Settings


def reserve(
    owner: str, key: str | None, made: Callable[[Session, str, str], object | None]
) -> ratelimit.Reservation:
    """The submission's place in the owner's rate, or its 429; a replay (``made(session,
    owner, key)`` finds what the key made) needs none."""
    settings = current_settings()
    try:
        with current_sessions().begin() as session:
            return ratelimit.reserve(session, owner, settings)
    except ratelimit.RateLimited as exc:
        if key is not None:
            with current_sessions().begin() as session:
                if made(session, owner, key) is not None:
                    return ratelimit.Reservation()  # a retry of a submission made: it is free
        raise _submissions_limited(settings, exc.retry_after) from exc
    except ratelimit.CounterUnavailable as exc:
        raise counter_unavailable() from exc


def admit(session: Any, owner: str) -> None:
    """Hold the owner's submissions for the quota's count (and, without Redis, check the rate)."""
    settings = current_settings()
    try:
        ratelimit.admit(session, owner, settings)
    except ratelimit.RateLimited as exc:
        raise _submissions_limited(settings, exc.retry_after) from exc


def store_job(submission: submissions.Submission) -> tuple[Job, bool]:
    """``submissions.store``, its refusals as their 429s (``IntegrityError`` goes through)."""
    settings = current_settings()
    try:
        return submissions.store(submission, settings)
    except jobs.QuotaExceeded as exc:
        raise quota_full(exc) from exc
    except ratelimit.RateLimited as exc:
        raise _submissions_limited(settings, exc.retry_after) from exc


def quota_full(exc: jobs.QuotaExceeded) -> Problem:
    """The 429 of an owner whose active jobs fill their quota."""
    return Problem(429, "Too Many Active Jobs", str(exc), "too-many-active-jobs")


def rate_limited(limit: str, retry_after: int) -> Problem:
    """The 429 of a request over ``limit`` (what the limit is, in words)."""
    headers = {"Retry-After": str(retry_after)}
    detail = f"{limit}; retry in {retry_after} s"
    return Problem(429, "Too Many Requests", detail, "rate-limited", headers=headers)


def counter_unavailable() -> Problem:
    """The 503 when the Redis that counts requests cannot be reached."""
    return unavailable("the request counter is unreachable; try again shortly", "queue-unavailable")


def _submissions_limited(settings: Settings, retry_after: int) -> Problem:
    limit = f"at most {settings.rate_limit} submissions per {settings.rate_window_seconds} s"
    return rate_limited(limit, retry_after)
