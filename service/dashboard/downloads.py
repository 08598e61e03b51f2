"""A succeeded job's model as files for plain links on its page: the weights document, the
model as Python source, and as ONNX (the API's /weights, /model.py and /model.onnx, read with the
page's cookie, since a link cannot send a token header)."""

import json
from typing import Any

from flask import Response

from engine.errors import SpecError
from engine.export_py import to_python
from service.dashboard.views import bp, missing, page_job
from service.export_onnx import to_onnx
from store.models import Job


@bp.get("/jobs/<job_id>/weights.json")
def weights_download(job_id: str) -> Any:
    """The trained weights as a file download."""
    found = _succeeded(job_id)
    if not isinstance(found, Job):
        return found
    text = json.dumps(found.weights, indent=2)
    return _download(text.encode(), "application/json", f"gradyard-{found.id}-weights.json")


@bp.get("/jobs/<job_id>/model.py")
def python_download(job_id: str) -> Any:
    """The trained model as one dependency-free Python file with predict(rows)."""
    found = _succeeded(job_id)
    if not isinstance(found, Job):
        return found
    try:
        source = to_python(found.weights or {}, found.id, found.spec)
    except SpecError as exc:
        return missing(f"cannot export: {exc}", 409)
    return _download(source.encode(), "text/x-python; charset=utf-8", f"model_{found.id}.py")


@bp.get("/jobs/<job_id>/model.onnx")
def onnx_download(job_id: str) -> Any:
    """The trained model as ONNX, float64."""
    found = _succeeded(job_id)
    if not isinstance(found, Job):
        return found
    try:
        content = to_onnx(found.weights or {}, found.id, found.spec)
    except SpecError as exc:
        return missing(f"cannot export: {exc}", 409)
    return _download(content, "application/onnx", f"model_{found.id}.onnx")


def _succeeded(job_id: str) -> Any:
    """The caller's succeeded job with its weights, or the page to show instead."""
    found = page_job(job_id, weights=True)
    if isinstance(found, Job) and (found.status != "succeeded" or found.weights is None):
        return missing(f"job is {found.status}; its model exists once it has succeeded", 409)
    return found


def _download(content: bytes, mimetype: str, filename: str) -> Response:
    disposition = f'attachment; filename="{filename}"'
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": disposition})
