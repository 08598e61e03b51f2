"""The sweeps resource: submit many trials of one spec at once, list, read, rank, cancel, delete.

Each trial is an ordinary job (store/sweeps.py); the fair claim (store/fair.py) keeps at most a
sweep's ``max_parallel`` trials running, and the queue gets one message per trial that may start.
"""

import hashlib
import json
import logging
from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from engine.errors import SpecError
from engine.overrides import MissingPath, apply_overrides
from service import idempotency
from service.api.jobs import with_datasets
from service.auth import current_caller, current_owner
from service.config import current_sessions, current_settings
from service.problems import Problem, from_validation_error, unavailable, validation_problem
from service.spec import JOB_SPEC, LimitExceeded, check_limits
from service.sweep_schemas import CurvesQuery, SweepListQuery, TrialQuery, sweep_out, trial_out
from service.sweep_spec import SWEEP_REQUEST, SweepRequest
from store import jobs, metrics, sweeps
from store.fair import top_up
from store.models import Sweep
from store.queue import BrokerUnavailable
from store.status import JobStatus
from store.trials import TooManyTrials, expand

from . import admission
from .parsing import cursor_checked, json_body, query_args

bp = Blueprint("sweeps", __name__, url_prefix="/api/v1/sweeps")
log = logging.getLogger(__name__)

Trials = list[tuple[dict[str, Any], dict[str, Any]]]


@bp.post("")
def submit() -> tuple[Response, int, dict[str, str]]:
    """Validate a sweep and every trial's spec, store them and queue what may start."""
    owner, key = current_owner(), idempotency.header_key()
    # A sweep counts once against the submission rate, however many trials it makes.
    with admission.reserve(owner, key, sweeps.find_by_idempotency_key) as reservation:
        body = json_body(SWEEP_REQUEST)
        base = _spec(body.base, owner, "base.")
        trials = _trials(body, base, owner)
        request = {**body.model_dump(mode="json"), "base": base}
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        sweep, document, created = _store_once(owner, key, digest, request, trials)
        if not created:
            if sweep.request_hash != digest:
                raise idempotency.key_reused()
            return jsonify(document), 200, {"Location": document["links"]["self"]}
        settings = current_settings()
        try:
            top_up(current_sessions(), settings, settings.queue_name)
        except BrokerUnavailable as exc:
            with current_sessions().begin() as session:
                sweeps.delete_unqueued(session, sweep.id)
            raise unavailable(
                "the job queue is unreachable; try again shortly", "queue-unavailable"
            ) from exc
        reservation.keep()
        metrics.instruments().jobs_submitted.inc(len(trials))
    log.info("sweep %s queued with %d trials", sweep.id, len(trials))
    return jsonify(document), 202, {"Location": document["links"]["self"]}


@bp.get("")
def list_sweeps() -> Response:
    """The caller's sweeps, newest first, a page at a time."""
    query = query_args(SweepListQuery)
    with cursor_checked(), current_sessions().begin() as session:
        page, cursor = sweeps.list_sweeps(
            session, current_caller().visible_owner, query.limit, query.cursor
        )
        items = [sweep_out(session, sweep) for sweep in page]
    following = f"/api/v1/sweeps?limit={query.limit}&cursor={cursor}" if cursor else None
    return jsonify({"items": items, "next": following})


@bp.get("/<sweep_id>")
def get_sweep(sweep_id: str) -> Response:
    """One sweep: its status, its trials counted by status, and the best so far."""
    with current_sessions().begin() as session:
        return jsonify(sweep_out(session, _owned(session, sweep_id), full=True))


@bp.get("/<sweep_id>/trials")
def list_trials(sweep_id: str) -> Response:
    """Every trial, in the order made or sorted by objective (best first) or by a param."""
    query = query_args(TrialQuery)
    with current_sessions().begin() as session:
        sweep = _owned(session, sweep_id)
        found = sweeps.trials(session, sweep)
    return jsonify({"items": [trial_out(t) for t in query.sorted(found, sweep.mode)]})


@bp.get("/<sweep_id>/curves")
def curves(sweep_id: str) -> Response:
    """Every trial's objective, epoch by epoch (at most ``points`` per trial), for one chart."""
    query = query_args(CurvesQuery)
    with current_sessions().begin() as session:
        sweep = _owned(session, sweep_id)
        lines = sweeps.curves(session, sweep, query.points)
    items = [{"job_id": job_id, "points": points} for job_id, points in lines.items()]
    return jsonify({"metric": sweep.metric, "mode": sweep.mode, "items": items})


@bp.post("/<sweep_id>/cancel")
def cancel(sweep_id: str) -> tuple[Response, int]:
    """Cancel every trial still queued, and ask every running one to stop."""
    with current_sessions().begin() as session:
        sweep = _owned(session, sweep_id)
        counted = sweeps.counts(session, [sweep.id])[sweep.id]
        if sweeps.status(sweep, counted) == "succeeded":
            detail = "cannot cancel: every trial of the sweep has ended"
            raise Problem(409, "Conflict", detail, "sweep-finished")
        ended = sweeps.cancel(session, sweep)
    metrics.instruments().jobs_finished.labels(JobStatus.CANCELLED).inc(ended)
    with current_sessions().begin() as session:
        return jsonify(sweep_out(session, _owned(session, sweep_id), full=True)), 202


@bp.delete("/<sweep_id>")
def delete(sweep_id: str) -> tuple[str, int]:
    """Remove an ended sweep with its trials."""
    with current_sessions().begin() as session:
        try:
            sweeps.remove_ended(session, sweep_id, current_caller().visible_owner)
        except sweeps.NotFound as exc:
            raise Problem(404, "Not Found", str(exc), "not-found") from exc
        except sweeps.Conflict as exc:
            raise Problem(409, "Conflict", f"cannot delete: {exc}", "sweep-active") from exc
    log.info("sweep %s deleted", sweep_id)
    return "", 204


def _owned(session: Any, sweep_id: str) -> Sweep:
    sweep = sweeps.get_sweep(session, sweep_id, current_caller().visible_owner)
    if sweep is None:
        raise Problem(404, "Not Found", f"no sweep {sweep_id}", "not-found")
    return sweep


def _trials(body: SweepRequest, base: dict[str, Any], owner: str) -> Trials:
    """Every trial's (params, normalised spec); a 422 naming the first bad trial and field."""
    random = body.random
    try:
        every = expand(
            body.grid,
            {path: dist.model_dump() for path, dist in random.space.items()} if random else None,
            random.trials if random else 0,
            random.seed if random else 0,
            body.seeds,
            current_settings().max_sweep_trials,
        )
    except TooManyTrials as exc:
        field = "grid" if body.grid else "random.trials" if random else "seeds"
        raise validation_problem([{"field": field, "message": str(exc)}]) from exc
    trials: Trials = []
    for index, params in enumerate(every):
        prefix = f"trials.{index}."
        try:
            document = apply_overrides(base, params)
        except MissingPath as exc:
            message = f"trial {index}: {exc}"
            raise validation_problem([{"field": prefix + exc.path, "message": message}]) from exc
        trials.append((params, _spec(document, owner, prefix)))
    return trials


def _spec(document: dict[str, Any], owner: str, prefix: str) -> dict[str, Any]:
    """A job spec validated as a submitted one is, normalised; a 422 whose fields start so."""
    what = prefix.rstrip(".").replace("trials.", "trial ")
    try:
        # Through JSON, so it meets exactly the validation a submitted body meets.
        body = JOB_SPEC.validate_json(json.dumps(document))
    except ValidationError as exc:
        problem = from_validation_error(exc, prefix=prefix)
        problem.detail = f"{what}: {problem.detail}"  # the fields say which trial too
        raise problem from exc
    try:
        body = with_datasets(body, owner)  # a dataset's shape, as a lone job's
        spec = body.checked()
        check_limits(spec, current_settings())
    except (SpecError, LimitExceeded) as exc:
        message = f"{what}: {exc}"
        raise validation_problem([{"field": prefix + exc.field, "message": message}]) from exc
    return spec.to_dict()


def _store_once(
    owner: str, key: str | None, digest: str, request: dict[str, Any], trials: Trials
) -> tuple[Sweep, dict[str, Any], bool]:
    """A new sweep and True, or False and the sweep the owner already submitted with ``key``."""
    queue = current_settings().queue_name  # where top_up sends the trials' messages
    try:
        with current_sessions().begin() as session:
            sweep = sweeps.find_by_idempotency_key(session, owner, key) if key else None
            if sweep is not None:
                return sweep, sweep_out(session, sweep, full=True), False
            admission.admit(session, owner)
            try:  # a sweep's trials count while they run: it needs room for one, at least
                jobs.check_quota(session, owner, current_settings().max_active_jobs)
            except jobs.QuotaExceeded as exc:
                raise admission.quota_full(exc) from exc
            name = request.get("name")
            sweep = sweeps.create_sweep(session, owner, name, request, trials, queue, key, digest)
            return sweep, sweep_out(session, sweep, full=True), True
    except IntegrityError:
        if key is None:
            raise
        # A request with the same key committed first: that one is the original.
        with current_sessions().begin() as session:
            sweep = sweeps.find_by_idempotency_key(session, owner, key)
            if sweep is None:
                raise
            return sweep, sweep_out(session, sweep, full=True), False
