"""The dashboard's pages, rendered on the server: the jobs list at ``/`` and one page per job.

Pages show what SQL says at load time; the page scripts (service/static/) then keep them live
through the public API alone: the job list refreshes its table fragment, a job page draws its
loss curve from ``/losses?every=N`` and grows it from the event stream.
"""

import json
import math
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

from engine.errors import SpecError
from engine.losses import CLASSIFIERS
from service.api.parsing import cursor_checked
from service.config import current_sessions, current_settings
from service.dashboard import boundary, confusion, prefill
from service.dashboard.access import COOKIE, page_caller
from service.dashboard.filters import ListQuery, list_query
from service.job_ids import is_job_id
from store import datasets, jobs
from store.models import Job, utcnow
from store.status import JobStatus

bp = Blueprint("dashboard", __name__)

PAGE_SIZE = 50


@bp.get("/")
def jobs_page() -> Any:
    """The caller's jobs with filters, and a box to submit a new one (or one to run again)."""
    query = list_query()
    caller = page_caller()
    if caller is None:
        return token_page()
    box = prefill.notebook()
    with current_sessions().begin() as session:
        if query.rerun and is_job_id(query.rerun):
            job = jobs.get_job(session, query.rerun, caller.visible_owner)
            box = prefill.rerun(job) if job is not None else box
        if query.dataset and is_job_id(query.dataset):
            dataset = datasets.get_dataset(session, query.dataset, caller.visible_owner)
            box = prefill.for_dataset(dataset) if dataset is not None else box
    return _job_list("jobs.html", query, statuses=list(JobStatus), notebook=box)


@bp.get("/jobs-table")
def jobs_table() -> Any:
    """The jobs table alone, which the jobs page fetches to stay current."""
    return _job_list("_jobs_table.html", list_query())


@bp.get("/jobs/<job_id>")
def job_page(job_id: str) -> Any:
    """One job: spec, status, timings, live loss curve, decision boundary, weights, predict."""
    found = page_job(job_id)
    if not isinstance(found, Job):
        return found
    job = found
    loss = job.spec["training"]["loss"]
    with current_sessions().begin() as session:
        dataset = _dataset_of(session, job.spec)
        # The predict box starts with the first training inputs, a row per sample.
        if dataset is not None:
            example = [x for x, _ in datasets.row_page(session, dataset, 0, 3)]
            # Read from the dataset's shape: its rows are read only to draw the picture.
            has_boundary = dataset.features == 2 and loss in CLASSIFIERS
        else:
            try:
                trained_on = boundary.training_points(job.spec)
            except SpecError:
                trained_on = None
            example = trained_on[0][:3] if trained_on else []
            has_boundary = boundary.applies(job.spec)
    example = example or [[0.0] * job.spec["model"]["inputs"]]
    return render_template(
        "job.html",
        job=job,
        spec=json.dumps(prefill.readable(job.spec), indent=2),
        has_boundary=has_boundary,
        has_accuracy=loss in CLASSIFIERS,
        confusion=_confusion_of(job),
        example_inputs=json.dumps(example),
        terminal=job.status in jobs.TERMINAL,
        now=utcnow(),
    )


@bp.get("/jobs/<job_id>/confusion-table")
def confusion_table(job_id: str) -> Any:
    """A succeeded classifier's confusion table alone, which its page fetches once it ends."""
    found = page_job(job_id)
    if not isinstance(found, Job):
        return found
    drawn = _confusion_of(found)
    if drawn is None:
        return missing("this job has no confusion table", 404)
    return render_template("_confusion.html", confusion=drawn)


@bp.get("/jobs/<job_id>/boundary.svg")
def boundary_svg(job_id: str) -> Any:
    """The decision boundary of a succeeded 2-D classification job over its training points."""
    found = page_job(job_id, weights=True)
    if not isinstance(found, Job):
        return found
    drawn, names = None, None
    if found.status == "succeeded" and found.weights is not None:
        with current_sessions().begin() as session:
            try:
                spec = datasets.inline_spec(session, found.spec)  # a dataset's rows, if it has one
            except SpecError:
                spec = found.spec  # its dataset is gone: nothing to draw over
            named = datasets.class_names(session, found.spec)
        drawn = boundary.compute(dict(spec), found.weights)
        if drawn is not None and named:
            names = [named.get(label, f"{label:g}") for label in drawn.labels]
    if drawn is None:
        return missing("this job has no decision boundary to draw", 404)
    # A succeeded job's weights never change, so neither does its picture.
    headers = {"Cache-Control": "private, max-age=86400"}
    svg = boundary.to_svg(drawn, names=names)
    return Response(svg, mimetype="image/svg+xml", headers=headers)


def _dataset_of(session: Any, spec: dict[str, Any]) -> Any:
    """The stored dataset a job trains on (any owner's: the job's own), or None."""
    dataset_id = (spec.get("data") or {}).get("dataset")
    return datasets.get_dataset(session, dataset_id, None) if dataset_id else None


def _job_list(template: str, query: ListQuery, **context: Any) -> Any:
    """``template`` with a page of the caller's jobs, or the token form to show instead."""
    caller = page_caller()
    if caller is None:
        return token_page()
    with cursor_checked(), current_sessions().begin() as session:
        rows, cursor = jobs.list_jobs(
            session, caller.visible_owner, query.status, PAGE_SIZE, query.cursor, query.filters()
        )
    return render_template(
        template, jobs=rows, status=query.status, query=query, next_cursor=cursor, **context
    )


def _confusion_of(job: Job) -> confusion.Table | None:
    """A classifier's confusion table once it has succeeded; None before, for a regression, or
    without its data."""
    if job.status != "succeeded" or job.spec["training"]["loss"] not in CLASSIFIERS:
        return None
    with current_sessions().begin() as session:
        found = jobs.get_job(session, job.id, None)
        if found is None or found.weights is None:
            return None
        try:
            return confusion.table(session, found.spec, found.weights)
        except (SpecError, ArithmeticError):
            return None  # its dataset is gone, or the model overflows on a sample


@bp.get("/favicon.ico")
def favicon() -> Response:
    """The icon browsers ask for by default (favicon.svg drawn at 16, 32 and 48 pixels)."""
    return current_app.send_static_file("favicon.ico")


def page_job(job_id: str, weights: bool = False) -> Any:
    """The caller's job, or the page to show instead (the token form, or not found)."""
    caller = page_caller()
    if caller is None:
        return token_page()
    if not is_job_id(job_id):
        # Not worth a query, and not one the database may take (Postgres refuses a NUL byte).
        shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in job_id[:80])
        return missing(f"no job {shown}", 404)
    with current_sessions().begin() as session:
        job = jobs.get_job(session, job_id, caller.visible_owner)
        if job is not None and weights:
            _ = job.weights  # deferred column: load it while the session is open
    return job if job is not None else missing(f"no job {job_id}", 404)


def token_page() -> str:
    # A 200: the page itself is fine; it is the form that asks for the token.
    return render_template("token.html")


def missing(detail: str, status: int) -> tuple[str, int]:
    return render_template("missing.html", detail=detail), status


@bp.app_context_processor
def _common() -> dict[str, Any]:
    """What the page header needs, on every page that extends base.html (the API's /docs too)."""
    return {
        "auth": current_settings().auth,
        "cookie": COOKIE,
        "has_token": COOKIE in request.cookies,
    }


@bp.app_template_filter("age")
def age(moment: datetime | None) -> str:
    """How long ago, roughly: "12 s ago", "3 min ago", "5 h ago", "2 d ago"."""
    if moment is None:
        return "-"
    seconds = max(0, int((utcnow() - moment).total_seconds()))
    return f"{_span(seconds)} ago"


@bp.app_template_filter("duration")
def duration(job: Job) -> str:
    """How long the job has run (so far, while it runs)."""
    if job.started_at is None:
        return "-"
    end = job.finished_at or utcnow()
    return _span(int((end - job.started_at).total_seconds()))


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


@bp.app_template_filter("number")
def number(value: float | None) -> str:
    """A loss: 4 significant digits ("0.01403", "1.000", "2.500e-5"), or "-" for none.

    The same rule as ``number()`` in service/static/dashboard.js, which updates these live.
    """
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    mantissa, _, exponent = f"{value:.3e}".partition("e")
    power = int(exponent)
    return f"{mantissa}e{power}" if power < -4 or power >= 4 else f"{value:.{3 - power}f}"


@bp.app_template_filter("percent")
def percent(value: float | None) -> str:
    """An accuracy as a percentage with one decimal ("98.3%", "100.0%"), or "-" for none."""
    return "-" if value is None else f"{100 * value:.1f}%"
