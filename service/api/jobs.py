"""The jobs resource: submit, re-run, list, read, losses, weights, predict, confusion, cancel."""

import json
import logging
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, g, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from engine import classify, predict
from engine.errors import SpecError
from engine.losses import CLASSIFIERS
from engine.overrides import MissingPath, apply_overrides
from engine.spec import DatasetData
from engine.validation_spec import ValidationDataset
from engine.weights import parameter_count
from service import idempotency
from service.auth import current_caller, current_owner, owned_job_or_404
from service.config import current_sessions, current_settings
from service.problems import Problem, from_validation_error, unavailable, validation_problem
from service.schemas import JobListQuery, LossQuery, job_out, job_summary
from service.spec import (
    JOB_SPEC,
    PREDICT_REQUEST,
    RERUN_REQUEST,
    JobSpec,
    LimitExceeded,
    RerunRequest,
    check_limits,
)
from store import datasets, jobs, metrics, ratelimit
from store.logging_setup import job_id_var
from store.models import Job
from store.queue import BrokerUnavailable, enqueue
from store.settings import Settings
from store.status import JobStatus
from store.submissions import Submission

from . import admission
from .parsing import cursor_checked, json_body, query_args

bp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs")
log = logging.getLogger(__name__)


@bp.post("")
def submit() -> tuple[Response, int, dict[str, str]]:
    """Validate a job spec, store the job and queue it; a retried Idempotency-Key replays it."""
    owner, key = current_owner(), idempotency.header_key()
    # The rate first, before the body is read; only a job made keeps its place in the count.
    with admission.reserve(owner, key, jobs.find_by_idempotency_key) as reservation:
        return _submit(owner, json_body(JOB_SPEC), key, reservation)


@bp.post("/<job_id>/rerun")
def rerun(job_id: str) -> tuple[Response, int, dict[str, str]]:
    """Submit a job's stored spec again, some fields overridden; its name and labels carry over."""
    owner, key = current_owner(), idempotency.header_key()
    with admission.reserve(owner, key, jobs.find_by_idempotency_key) as reservation:
        return _rerun(owner, key, job_id, reservation)


def _rerun(
    owner: str, key: str | None, job_id: str, reservation: ratelimit.Reservation
) -> tuple[Response, int, dict[str, str]]:
    with current_sessions().begin() as session:
        job = owned_job_or_404(session, job_id)
        spec, name, labels = job.spec, job.name, job.labels or {}
    change = json_body(RERUN_REQUEST) if request.get_data(cache=True) else RerunRequest()
    try:
        spec = apply_overrides(spec, change.overrides)
    except MissingPath as exc:
        raise validation_problem([{"field": f"overrides.{exc.path}", "message": str(exc)}]) from exc
    if "name" in change.model_fields_set:
        name = change.name
    if "labels" in change.model_fields_set:
        labels = change.labels or {}
    # Through JSON, so the new spec meets exactly the validation a submitted body meets.
    document = json.dumps({**spec, "name": name, "labels": labels})
    try:
        body = JOB_SPEC.validate_json(document)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc
    return _submit(owner, body, key, reservation)


def _submit(
    owner: str, body: JobSpec, key: str | None, reservation: ratelimit.Reservation
) -> tuple[Response, int, dict[str, str]]:
    """Check a validated spec against the engine and the limits, store the job and queue it."""
    try:
        body = with_datasets(body, owner)
        spec = body.checked()
        check_limits(spec, current_settings())
    except (SpecError, LimitExceeded) as exc:
        raise validation_problem([{"field": exc.field, "message": str(exc)}]) from exc
    stored = spec.to_dict()
    digest = idempotency.request_hash(body.name, stored, body.labels)
    job, document, created = _store_once(owner, key, digest, stored, body.name, body.labels)
    if not created:
        if job.request_hash != digest:
            raise idempotency.key_reused()
        return jsonify(document), 200, {"Location": document["links"]["self"]}
    try:
        enqueue(current_settings(), job.id)
    except BrokerUnavailable as exc:
        with current_sessions().begin() as session:
            jobs.delete_job(session, job.id)
        raise unavailable(
            "the job queue is unreachable; try again shortly", "queue-unavailable"
        ) from exc
    reservation.keep()
    metrics.instruments().jobs_submitted.inc()
    g.job_id_token = job_id_var.set(job.id)  # later lines name the job; reset at teardown
    log.info("job %s queued", job.id)
    location = document["links"]["self"]
    return jsonify(document), 202, {"Location": location}


@bp.get("")
def list_jobs() -> Response:
    """The caller's jobs, newest first, a page at a time."""
    query = query_args(JobListQuery)
    with cursor_checked(), current_sessions().begin() as session:
        page, cursor = jobs.list_jobs(
            session,
            current_caller().visible_owner,
            query.status,
            query.limit,
            query.cursor,
            query.filters(),
        )
        items = [job_summary(job) for job in page]
    return jsonify({"items": items, "next": _next_url(cursor=cursor) if cursor else None})


@bp.get("/<job_id>")
def get_job(job_id: str) -> Response:
    """One job."""
    with current_sessions().begin() as session:
        return jsonify(job_out(owned_job_or_404(session, job_id)))


@bp.get("/<job_id>/losses")
def losses(job_id: str) -> Response:
    """A job's per-epoch losses in epoch order, a page at a time, optionally downsampled."""
    query = query_args(LossQuery)
    with current_sessions().begin() as session:
        owned_job_or_404(session, job_id)
        rows, after = jobs.loss_page(session, job_id, query.after, query.limit, query.every)
    items = [dict(r._mapping) for r in rows]
    return jsonify({"items": items, "next": _next_url(after=after) if after else None})


@bp.get("/<job_id>/weights")
def weights(job_id: str) -> Response:
    """The trained model's weights (the engine's JSON) once the job has succeeded."""
    with current_sessions().begin() as session:
        return jsonify(final_weights(owned_job_or_404(session, job_id)))


@bp.post("/<job_id>/predict")
def predict_outputs(job_id: str) -> Response:
    """Run inputs through a succeeded job's model."""
    settings = current_settings()
    _count_prediction(settings)  # before the body is read
    body = json_body(PREDICT_REQUEST)
    if len(body.inputs) > settings.max_predict_batch:
        message = (
            f"{len(body.inputs)} inputs, over the limit of {settings.max_predict_batch} "
            "(MAX_PREDICT_BATCH)"
        )
        raise validation_problem([{"field": "inputs", "message": message}])
    with current_sessions().begin() as session:
        job = owned_job_or_404(session, job_id)
        model, loss = final_weights(job), job.spec.get("training", {}).get("loss")
        names = datasets.class_names(session, job.spec) if loss in CLASSIFIERS else None
    width = model["inputs"]
    bad = [i for i, row in enumerate(body.inputs) if len(row) != width]
    if bad:
        errors = [
            {"field": f"inputs.{i}", "message": f"the model takes {width} inputs per sample"}
            for i in bad[:20]
        ]
        raise validation_problem(errors)
    # What the request costs, before any of it is spent: a multiply-add per row and parameter.
    size = parameter_count(model)
    work = len(body.inputs) * size
    if work > settings.max_predict_work:
        message = (
            f"{len(body.inputs):,} rows x {size:,} weights and biases is {work:,} multiply-adds, "
            f"over the limit of {settings.max_predict_work:,} (MAX_PREDICT_WORK): send at most "
            f"{settings.max_predict_work // size:,} rows at a time"
        )
        raise validation_problem([{"field": "inputs", "message": message}])
    try:
        outputs = predict(model, body.inputs)
    except ArithmeticError as exc:
        raise validation_problem([{"field": "inputs", "message": str(exc)}]) from exc
    answer: dict[str, Any] = {"outputs": outputs}
    if loss in CLASSIFIERS:
        probabilities = classify.probabilities(loss, outputs)
        if probabilities is not None:
            answer["probabilities"] = probabilities
        classes = classify.labels(loss, outputs)
        # The class names of the dataset it trained on, where it had some.
        answer["classes"] = [names[c] for c in classes] if names else classes  # type: ignore[index]
    return jsonify(answer)


@bp.get("/<job_id>/confusion")
def confusion(job_id: str) -> Response:
    """A succeeded classifier's confusion matrix on its validation split, if it had one, else on
    its training data (``split`` says which)."""
    with current_sessions().begin() as session:
        job = owned_job_or_404(session, job_id)
        loss = job.spec["training"]["loss"]
        if loss not in CLASSIFIERS:
            detail = f"{loss} is a regression loss: the job has no classes"
            raise Problem(422, "Not a Classifier", detail, "not-a-classifier")
        model = final_weights(job)
        try:
            spec = datasets.inline_spec(session, job.spec)
        except SpecError as exc:
            raise Problem(409, "Conflict", str(exc), "dataset-deleted") from exc
        named = datasets.class_names(session, job.spec)
    split, labels, counts = classify.confusion(spec, model)
    answer: dict[str, Any] = {"split": split, "labels": labels, "counts": counts}
    if named:  # the dataset's class names, by label
        answer["names"] = [named[float(label)] for label in labels]
    return jsonify(answer)


@bp.post("/<job_id>/cancel")
def cancel(job_id: str) -> tuple[Response, int]:
    """Cancel a queued job, or ask a running one to stop at its next epoch."""
    with current_sessions().begin() as session:
        job = owned_job_or_404(session, job_id)
        was = job.status
        try:
            job = jobs.request_cancel(session, job)
        except jobs.Conflict as exc:
            raise Problem(409, "Conflict", f"cannot cancel: {exc}", "job-finished") from exc
        if was == "queued" and job.status == "cancelled":  # no worker will count this ending
            metrics.instruments().jobs_finished.labels(JobStatus.CANCELLED).inc()
        return jsonify(job_out(job)), 202


@bp.delete("/<job_id>")
def delete_job(job_id: str) -> tuple[str, int]:
    """Remove an ended job with its losses, checkpoint and weights."""
    with current_sessions().begin() as session:
        try:
            jobs.remove_ended_job(session, job_id, current_caller().visible_owner)
        except jobs.NotFound as exc:
            raise Problem(404, "Not Found", str(exc), "not-found") from exc
        except jobs.Conflict as exc:
            raise Problem(409, "Conflict", f"cannot delete: {exc}", "job-active") from exc
    log.info("job %s deleted", job_id)
    return "", 204


def with_datasets(body: JobSpec, owner: str) -> JobSpec:
    """The spec with its stored datasets' shapes (a dataset's width is model.inputs' default);
    SpecError naming the field for one that is not the owner's, or does not fit."""
    d = body.data
    if not isinstance(d, DatasetData) and not isinstance(d.validation, ValidationDataset):
        return body
    with current_sessions().begin() as session:
        return replace(body, data=datasets.looked_up(session, d, owner))


def _store_once(
    owner: str,
    key: str | None,
    digest: str,
    spec: dict[str, Any],
    name: str | None,
    labels: dict[str, str],
) -> tuple[Job, dict[str, Any], bool]:
    """A new job and True, or False and the job the owner already submitted with ``key``."""
    submission = Submission(owner, spec, name, labels, key, digest)
    try:
        job, created = admission.store_job(submission)
    except IntegrityError:
        if key is None:
            raise
        # A request with the same key committed first: that one is the original.
        with current_sessions().begin() as session:
            original = jobs.find_by_idempotency_key(session, owner, key)
        if original is None:
            raise
        return original, job_out(original), False
    return job, job_out(job), created


def _count_prediction(settings: Settings) -> None:
    try:
        ratelimit.count_prediction(current_owner(), settings)
    except ratelimit.RateLimited as exc:
        raise admission.rate_limited(
            f"at most {settings.predict_rate_limit} predictions per "
            f"{settings.rate_window_seconds} s (PREDICT_RATE_LIMIT)",
            exc.retry_after,
        ) from exc
    except ratelimit.CounterUnavailable as exc:
        raise admission.counter_unavailable() from exc


def final_weights(job: Job) -> dict[str, Any]:
    """The job's weights document, or a 409 problem before it has succeeded."""
    if job.status != "succeeded" or job.weights is None:
        raise Problem(
            409,
            "Conflict",
            f"job is {job.status}; weights exist once it has succeeded",
            "job-not-finished",
        )
    return job.weights


def _next_url(**changes: Any) -> str:
    args = request.args.to_dict()
    args.update({key: str(value) for key, value in changes.items()})
    return f"{request.path}?{urlencode(args)}"
