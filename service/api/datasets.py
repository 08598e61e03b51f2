"""The datasets resource: upload (CSV or JSON), list, read with a preview, page rows, delete."""

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from service.auth import current_caller, current_owner
from service.config import current_sessions, current_settings
from service.dataset_schemas import (
    DATASET_UPLOAD,
    CsvQuery,
    DatasetListQuery,
    RowQuery,
    dataset_out,
    row_out,
)
from service.problems import Problem, validation_problem
from store import datasets, tables
from store.models import Dataset

from .parsing import cursor_checked, json_body, query_args

bp = Blueprint("datasets", __name__, url_prefix="/api/v1/datasets")
log = logging.getLogger(__name__)
PREVIEW_ROWS = 10


@bp.post("")
def upload() -> tuple[Response, int, dict[str, str]]:
    """Store a dataset (text/csv or application/json), or answer the owner's copy of it."""
    settings = current_settings()
    most = max(settings.dataset_max_bytes, settings.max_body_bytes)
    request.max_content_length = most
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        detail = f"the dataset is over the limit of {most} bytes (DATASET_MAX_BYTES)"
        raise Problem(413, "Request Entity Too Large", detail, "too-large") from exc
    limits = tables.Limits(settings.dataset_max_rows, settings.dataset_max_features)
    try:
        if request.mimetype == "text/csv":
            query = query_args(CsvQuery)
            name = query.name
            table = tables.from_csv(raw, query.target, limits)
        else:
            body = json_body(DATASET_UPLOAD)
            name = body.name
            table = tables.from_json(
                body.inputs, body.targets, body.feature_names, body.target_name, limits
            )
    except tables.TableError as exc:
        raise validation_problem([{"field": "body", "message": str(exc)}]) from exc
    dataset, created = _store_once(current_owner(), name, table)
    document = dataset_out(dataset)
    if created:
        log.info("dataset %s stored: %d rows x %d features", dataset.id, table.rows, table.features)
    return jsonify(document), 201 if created else 200, {"Location": document["links"]["self"]}


@bp.get("")
def list_datasets() -> Response:
    """The caller's datasets, newest first, a page at a time."""
    query = query_args(DatasetListQuery)
    with cursor_checked(), current_sessions().begin() as session:
        owner = current_caller().visible_owner
        page, cursor = datasets.list_datasets(session, owner, query.limit, query.cursor)
        items = [dataset_out(d) for d in page]
    nxt = f"{request.path}?limit={query.limit}&cursor={cursor}" if cursor else None
    return jsonify({"items": items, "next": nxt})


@bp.get("/<dataset_id>")
def get_dataset(dataset_id: str) -> Response:
    """One dataset, its first rows and its columns' min, max and mean."""
    with current_sessions().begin() as session:
        dataset = _owned_or_404(session, dataset_id)
        rows = datasets.row_page(session, dataset, 0, PREVIEW_ROWS)
        document = dataset_out(dataset)
        preview = [row_out(dataset, i + 1, x, t) for i, (x, t) in enumerate(rows)]
        return jsonify({**document, "preview": preview, "columns": dataset.column_stats})


@bp.get("/<dataset_id>/rows")
def rows(dataset_id: str) -> Response:
    """A dataset's rows in order, a page at a time."""
    query = query_args(RowQuery)
    with current_sessions().begin() as session:
        dataset = _owned_or_404(session, dataset_id)
        page = datasets.row_page(session, dataset, query.after, query.limit)
        items = [row_out(dataset, query.after + i + 1, x, t) for i, (x, t) in enumerate(page)]
        last = query.after + len(items)
        more = last < dataset.rows and len(items) == query.limit
    nxt = f"{request.path}?after={last}&limit={query.limit}" if more else None
    return jsonify({"items": items, "next": nxt})


@bp.delete("/<dataset_id>")
def delete_dataset(dataset_id: str) -> tuple[str, int]:
    """Remove a dataset no active job uses."""
    with current_sessions().begin() as session:
        try:
            found = datasets.delete_dataset(session, dataset_id, current_caller().visible_owner)
        except datasets.InUse as exc:
            problem = Problem(409, "Conflict", f"cannot delete: {exc}", "dataset-in-use")
            problem.extra["jobs"] = exc.jobs
            raise problem from exc
    if not found:
        raise _not_found(dataset_id)
    log.info("dataset %s deleted", dataset_id)
    return "", 204


def _owned_or_404(session: Any, dataset_id: str) -> Dataset:
    dataset = datasets.get_dataset(session, dataset_id, current_caller().visible_owner)
    if dataset is None:
        raise _not_found(dataset_id)
    return dataset


def _not_found(dataset_id: str) -> Problem:
    return Problem(404, "Not Found", f"no dataset {dataset_id}", "not-found")


def _store_once(owner: str, name: str | None, table: tables.Table) -> tuple[Dataset, bool]:
    """The new dataset and True, or the owner's dataset of the same content and False."""
    digest = table.sha256()
    try:
        with current_sessions().begin() as session:
            found = datasets.find_by_sha256(session, owner, digest)
            if found is not None:
                return found, False
            return datasets.create_dataset(session, owner, name, table), True
    except IntegrityError:
        # The same content committed first by a racing upload: that one is the dataset.
        with current_sessions().begin() as session:
            found = datasets.find_by_sha256(session, owner, digest)
            if found is None:
                raise
            return found, False
