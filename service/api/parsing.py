"""Turning a request into validated pydantic models, or into a problem that says what is wrong."""

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from service.problems import Problem, from_validation_error

ModelT = TypeVar("ModelT", bound=BaseModel)


def json_body(model: type[ModelT]) -> ModelT:
    """The request's JSON body validated as ``model``."""
    mimetype = request.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise Problem(
            415,
            "Unsupported Media Type",
            f"send the body as application/json, not {mimetype or 'nothing'}",
            "unsupported-media-type",
        )
    raw = request.get_data(cache=True)
    try:
        document: Any = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Problem(
            400, "Malformed JSON", f"the body is not valid JSON: {exc}", "malformed-json"
        ) from exc
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


def query_args(model: type[ModelT]) -> ModelT:
    """The query string validated as ``model`` (a repeated parameter keeps its last value)."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise from_validation_error(exc) from exc
