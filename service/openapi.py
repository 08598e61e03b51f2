"""The OpenAPI 3.1 document, built from the same pydantic models that validate and answer."""

from typing import Any

from pydantic import BaseModel

from service.schemas import (
    JobListQuery,
    JobOut,
    JobPage,
    LossPage,
    LossQuery,
    PredictOut,
    ProblemOut,
)
from service.spec import JobSpec, PredictRequest

REF = "#/components/schemas/{model}"
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _schema_ref(model: type[BaseModel], schemas: dict[str, Any], mode: str) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    return [
        {"name": name, "in": "query", "required": False, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def build_openapi() -> dict[str, Any]:
    """The whole API description."""
    schemas: dict[str, Any] = {}

    def body(model: type[BaseModel]) -> dict[str, Any]:
        return {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(model, schemas, "validation")}},
        }

    def ok(model: type[BaseModel] | None, description: str) -> dict[str, Any]:
        if model is None:
            return {
                "description": description,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        ref = _schema_ref(model, schemas, "serialization")
        return {"description": description, "content": {"application/json": {"schema": ref}}}

    problem = {
        "description": "a problem document (RFC 9457)",
        "content": {
            "application/problem+json": {
                "schema": _schema_ref(ProblemOut, schemas, "serialization")
            }
        },
    }
    errors = {code: problem for code in ("400", "404", "409", "413", "415", "422", "503")}

    def op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "summary": summary,
            "responses": {**responses, **errors, "default": problem},
            **extra,
        }

    paths = {
        "/api/v1/jobs": {
            "post": op(
                "Submit a training job",
                {"202": ok(JobOut, "the job, queued")},
                requestBody=body(JobSpec),
            ),
            "get": op(
                "List jobs, newest first",
                {"200": ok(JobPage, "a page of jobs")},
                parameters=_query_parameters(JobListQuery),
            ),
        },
        "/api/v1/jobs/{job_id}": {
            "get": op("Get a job", {"200": ok(JobOut, "the job")}, parameters=[JOB_ID]),
        },
        "/api/v1/jobs/{job_id}/losses": {
            "get": op(
                "Per-epoch losses",
                {"200": ok(LossPage, "a page of losses")},
                parameters=[JOB_ID, *_query_parameters(LossQuery)],
            ),
        },
        "/api/v1/jobs/{job_id}/weights": {
            "get": op(
                "Final weights",
                {"200": ok(None, "the engine's weights document")},
                parameters=[JOB_ID],
            ),
        },
        "/api/v1/jobs/{job_id}/predict": {
            "post": op(
                "Predict with the trained model",
                {"200": ok(PredictOut, "outputs")},
                parameters=[JOB_ID],
                requestBody=body(PredictRequest),
            ),
        },
        "/api/v1/jobs/{job_id}/cancel": {
            "post": op(
                "Cancel a job",
                {"202": ok(JobOut, "the job, cancelled or cancelling")},
                parameters=[JOB_ID],
            ),
        },
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": ok(None, "alive")}}},
        "/readyz": {
            "get": {
                "summary": "Readiness: database and broker reachable",
                "responses": {"200": ok(None, "ready"), "503": problem},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Gradyard",
            "version": "1.0.0",
            "description": "Train small neural networks on demand.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
