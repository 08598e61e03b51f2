"""The dashboard's sweep pages: the sweeps list at ``/sweeps`` and one page per sweep.

The server renders what SQL says at load time; sweeps.js and sweep.js keep them live by polling
the public API (``/api/v1/sweeps``, ``…/trials``, ``…/curves``).
"""

from typing import Any

from flask import Blueprint, render_template

from service.api.parsing import cursor_checked
from service.config import current_sessions
from service.dashboard.access import page_caller
from service.job_ids import is_job_id
from service.sweep_schemas import sweep_out
from store import sweeps

bp = Blueprint("sweep_pages", __name__)

PAGE_SIZE = 50


@bp.get("/sweeps")
def sweeps_page() -> Any:
    """The caller's newest sweeps: status, trials per status, best objective."""
    caller = page_caller()
    if caller is None:
        return render_template("token.html")
    with cursor_checked(), current_sessions().begin() as session:
        page, _ = sweeps.list_sweeps(session, caller.visible_owner, PAGE_SIZE, None)
        rows = [sweep_out(session, sweep) for sweep in page]
    return render_template("sweeps.html", sweeps=rows)


@bp.get("/sweeps/<sweep_id>")
def sweep_page(sweep_id: str) -> Any:
    """One sweep: every trial's objective curve, the trials table, objective against a param."""
    caller = page_caller()
    if caller is None:
        return render_template("token.html")
    if not is_job_id(sweep_id):  # sweep ids are made as job ids are
        return render_template("missing.html", detail="no such sweep"), 404
    with current_sessions().begin() as session:
        found = sweeps.get_sweep(session, sweep_id, caller.visible_owner)
        document = sweep_out(session, found) if found is not None else None
    if document is None:
        return render_template("missing.html", detail=f"no sweep {sweep_id}"), 404
    params = sorted({path for path in _varied(found.request if found else {})})
    return render_template("sweep.html", sweep=document, params=params)


def _varied(request: dict[str, Any]) -> list[str]:
    """The dotted paths the sweep's trials set."""
    paths = list(request.get("grid") or {})
    paths += list((request.get("random") or {}).get("space") or {})
    if request.get("seeds"):
        paths.append("training.seed")
    return paths
