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
# Any other id is a 404 (service/job_ids.py).
JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a retry with the same key and body returns the first job, not a new one",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
}
LAST_EVENT_ID = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "the id of the last event received (EPOCH:STATUS): resume after it",
    "schema": {"type": "string", "pattern": "^[0-9]+:[a-z]+$"},
}
EVENT_STREAM = {
    "description": "the stream, until the job's terminal status (or EVENTS_MAX_SECONDS)",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}
EVENTS_DESCRIPTION = (
    "`status` events carry {status, epoch, epochs, error}; `epoch` events carry {epoch, epochs, "
    "loss, accuracy, points}, where points lists [epoch, loss, accuracy] for the epochs persisted "
    "since the last epoch event (at most 500, evenly spaced, ending with the newest). Event ids "
    "are EPOCH:STATUS; send the last one back as Last-Event-ID to resume with no gap or repeat. "
    "Comment lines keep the connection alive. Each owner may have MAX_STREAMS_PER_OWNER streams "
    "open at once (429 beyond) and each server process serves MAX_STREAMS_PER_PROCESS (503 "
    "beyond), both with Retry-After; a stream ends soon after its token is revoked."
)


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

    def op(
        operation_id: str, summary: str, responses: dict[str, Any], errors: str, **extra: Any
    ) -> dict[str, Any]:
        # Only the error statuses this operation can answer (plus 401 without a token, and 503
        # while the database is down, which every API call can meet).
        codes = sorted({*errors.split(), "401", "503"})
        return {
            "operationId": operation_id,
            "tags": ["jobs"],
            "summary": summary,
            "responses": {**responses, **{code: problem for code in codes}},
            **extra,
        }

    paths = {
        "/api/v1/jobs": {
            "post": op(
                "submit_job",
                "Submit a training job",
                {
                    "202": ok(JobOut, "the job, queued"),
                    "200": ok(JobOut, "the job first submitted with this Idempotency-Key"),
                },
                "400 413 415 422 429",
                requestBody=body(JobSpec),
                parameters=[IDEMPOTENCY_KEY],
            ),
            "get": op(
                "list_jobs",
                "List jobs, newest first",
                {"200": ok(JobPage, "a page of jobs")},
                "422",
                parameters=_query_parameters(JobListQuery),
            ),
        },
        "/api/v1/jobs/{job_id}": {
            "get": op(
                "get_job", "Get a job", {"200": ok(JobOut, "the job")}, "404", parameters=[JOB_ID]
            ),
        },
        "/api/v1/jobs/{job_id}/losses": {
            "get": op(
                "list_losses",
                "Per-epoch losses",
                {"200": ok(LossPage, "a page of losses")},
                "404 422",
                parameters=[JOB_ID, *_query_parameters(LossQuery)],
            ),
        },
        "/api/v1/jobs/{job_id}/events": {
            "get": op(
                "stream_job_events",
                "Live events of a job (Server-Sent Events)",
                {"200": EVENT_STREAM, "204": {"description": "Last-Event-ID already saw the end"}},
                "404 422 429",
                parameters=[JOB_ID, LAST_EVENT_ID],
                description=EVENTS_DESCRIPTION,
            ),
        },
        "/api/v1/jobs/{job_id}/weights": {
            "get": op(
                "get_weights",
                "Final weights",
                {"200": ok(None, "the engine's weights document")},
                "404 409",
                parameters=[JOB_ID],
            ),
        },
        "/api/v1/jobs/{job_id}/predict": {
            "post": op(
                "predict",
                "Predict with the trained model",
                {"200": ok(PredictOut, "outputs")},
                "400 404 409 413 415 422 429",
                parameters=[JOB_ID],
                requestBody=body(PredictRequest),
            ),
        },
        "/api/v1/jobs/{job_id}/cancel": {
            "post": op(
                "cancel_job",
                "Cancel a job",
                {"202": ok(JobOut, "the job, cancelled or cancelling")},
                "404 409",
                parameters=[JOB_ID],
            ),
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "tags": ["system"],
                "summary": "Liveness",
                "security": [],
                "responses": {"200": ok(None, "alive")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readiness",
                "tags": ["system"],
                "summary": "Readiness: database and broker reachable",
                "security": [],
                "responses": {"200": ok(None, "ready"), "503": problem},
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "tags": ["system"],
                "summary": "Prometheus metrics, for a scraper on the internal network",
                "security": [],
                "responses": {
                    "200": {
                        "description": "the Prometheus text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
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
        # Every /api/v1 call sends `Authorization: Bearer <token>` (unless AUTH=off).
        "security": [{"bearer": []}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
