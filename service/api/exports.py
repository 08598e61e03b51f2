"""A succeeded job's model as a file to take away: Python source, or ONNX."""

from flask import Blueprint, Response

from engine.errors import SpecError
from engine.export_py import to_python
from service.auth import owned_job_or_404
from service.config import current_sessions
from service.export_onnx import to_onnx
from service.problems import Problem
from service.schemas import OnnxQuery

from .jobs import final_weights
from .parsing import query_args

bp = Blueprint("exports", __name__, url_prefix="/api/v1/jobs")


@bp.get("/<job_id>/model.py")
def model_py(job_id: str) -> Response:
    """The trained model as one dependency-free Python file with predict(rows)."""
    with current_sessions().begin() as session:
        job = owned_job_or_404(session, job_id)
        weights, spec = final_weights(job), job.spec
    try:
        source = to_python(weights, job_id, spec)
    except SpecError as exc:
        raise Problem(409, "Conflict", f"cannot export: {exc}", "not-exportable") from exc
    return _download(source.encode(), "text/x-python; charset=utf-8", f"model_{job_id}.py")


@bp.get("/<job_id>/model.onnx")
def model_onnx(job_id: str) -> Response:
    """The trained model as ONNX (Gemm and activation operators), float64 or float32."""
    query = query_args(OnnxQuery)
    with current_sessions().begin() as session:
        job = owned_job_or_404(session, job_id)
        weights, spec = final_weights(job), job.spec
    try:
        content = to_onnx(weights, job_id, spec, query.dtype)
    except SpecError as exc:
        raise Problem(409, "Conflict", f"cannot export: {exc}", "not-exportable") from exc
    return _download(content, "application/onnx", f"model_{job_id}.onnx")


def _download(content: bytes, mimetype: str, filename: str) -> Response:
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
