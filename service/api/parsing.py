"""Turning a request into validated pydantic models, or into a problem that says what is wrong."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar, get_origin

from flask import request
from pydantic import BaseModel, TypeAdapter, ValidationError

from service.problems import Problem, from_validation_error, validation_problem
from store.jobs import BadCursor

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")


def json_body(adapter: TypeAdapter[T]) -> T:
    """The request's JSON body, parsed and validated in one pass by ``adapter``."""
    mimetype = request.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise Problem(
            415,
            "Unsupported Media Type",
            f"send the body as application/json, not {mimetype or 'nothing'}",
            "unsupported-media-type",
        )
    try:
        return adapter.validate_json(request.get_data(cache=True))
    except ValidationError as exc:
        unreadable = [e["msg"] for e in exc.errors() if e["type"] == "json_invalid"]
        if unreadable:  # not JSON at all (nor UTF-8, or nested too deep): nothing to validate
            detail = f"the body is not valid JSON: {unreadable[0].removeprefix('Invalid JSON: ')}"
            raise Problem(400, "Malformed JSON", detail, "malformed-json") from exc
        raise from_validation_error(exc) from exc


def query_args(model: type[ModelT]) -> ModelT:
    """The query string validated as ``model`` (a repeated parameter keeps its last value, or
    all of them where ``model`` takes a list)."""
    args: dict[str, object] = dict(request.args.to_dict())
    for name, info in model.model_fields.items():
        if get_origin(info.annotation) is list and name in request.args:
            args[name] = request.args.getlist(name)  # a repeatable parameter keeps them all
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


@contextmanager
def cursor_checked() -> Iterator[None]:
    """Within it, a listing cursor this service did not hand out is a 422 on ``cursor``."""
    try:
        yield
    except BadCursor as exc:
        raise validation_problem([{"field": "cursor", "message": str(exc)}]) from exc
