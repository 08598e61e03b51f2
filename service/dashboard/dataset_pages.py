"""The datasets pages: the caller's datasets with an upload box at ``/datasets``, and one page
per dataset (its columns' stats, its first rows, the jobs that trained on it)."""

from typing import Any

from flask import render_template, request

from service.api.parsing import cursor_checked
from service.config import current_sessions
from service.dashboard.access import page_caller
from service.dashboard.views import PAGE_SIZE, bp, missing, token_page
from service.job_ids import is_job_id
from store import datasets

PREVIEW_ROWS = 10
JOBS_SHOWN = 50


@bp.get("/datasets")
def datasets_page() -> Any:
    """The caller's datasets, newest first, and a box to upload a CSV file."""
    caller = page_caller()
    if caller is None:
        return token_page()
    cursor = request.args.get("cursor") or None
    with cursor_checked(), current_sessions().begin() as session:
        rows, after = datasets.list_datasets(session, caller.visible_owner, PAGE_SIZE, cursor)
    return render_template("datasets.html", datasets=rows, next_cursor=after)


@bp.get("/datasets/<dataset_id>")
def dataset_page(dataset_id: str) -> Any:
    """One dataset: its shape, columns' min, max and mean, first rows, and the jobs that used it."""
    caller = page_caller()
    if caller is None:
        return token_page()
    shown = "".join(c if c.isprintable() else "?" for c in dataset_id[:80])
    if not is_job_id(dataset_id):  # the same uuid4 form as a job's id
        return missing(f"no dataset {shown}", 404)
    with current_sessions().begin() as session:
        dataset = datasets.get_dataset(session, dataset_id, caller.visible_owner)
        if dataset is None:
            return missing(f"no dataset {shown}", 404)
        preview = datasets.row_page(session, dataset, 0, PREVIEW_ROWS)
        used_by = datasets.jobs_using(session, dataset_id, caller.visible_owner, JOBS_SHOWN)
        names = dataset.classes
        rows = [(x, names[int(t)] if names is not None else t) for x, t in preview]
        return render_template("dataset.html", dataset=dataset, rows=rows, jobs=used_by)
