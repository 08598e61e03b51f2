"""The OpenAPI 3.1 document, built from the same pydantic models that validate and answer.

The job spec's schemas come from the TypeAdapter over the engine's dataclasses, which is the
spec's one definition: nothing here restates a field, a default or a name.
"""

from typing import Any

from pydantic import BaseModel, TypeAdapter

from service.dataset_schemas import (
    DATASET_UPLOAD,
    CsvQuery,
    DatasetDetail,
    DatasetListQuery,
    DatasetOut,
    DatasetPage,
    RowPage,
    RowQuery,
)
from service.schemas import (
    ConfusionOut,
    EventsQuery,
    JobListQuery,
    JobOut,
    JobPage,
    LossPage,
    LossQuery,
    OnnxQuery,
    PredictOut,
    ProblemOut,
    WeightsOut,
)
from service.spec import JOB_SPEC, PREDICT_REQUEST, RERUN_REQUEST
from service.sweep_schemas import (
    CurvesOut,
    CurvesQuery,
    SweepListQuery,
    SweepOut,
    SweepPage,
    TrialPage,
    TrialQuery,
)
from service.sweep_spec import SWEEP_REQUEST

REF = "#/components/schemas/{model}"
# Any other id is a 404 (service/job_ids.py).
JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
SWEEP_ID = {
    "name": "sweep_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
SWEEP_DESCRIPTION = (
    "Trials are the grid's product, or `random.trials` seeded draws from `random.space`, each "
    "repeated for every seed in `seeds` (as `training.seed`); paths are dotted paths into "
    "`base`. Every trial's spec is validated as a submitted job's before anything is stored: a "
    "bad one is a 422 naming `trials.N.<field>`; more than MAX_SWEEP_TRIALS trials is a 422. "
    "Each trial is a job (`GET /api/v1/jobs?sweep=ID`); at most `max_parallel` run at once. "
    "With `pruning`, a trial whose best objective is worse than the median of the other trials "
    "at the same epoch (past `warmup_epochs`, with `min_trials` others there) ends `pruned`. "
    "A sweep counts once against the submission rate."
)
DATASET_ID = {"name": "dataset_id", "in": "path", "required": True, "schema": {"type": "string"}}
CSV_BODY = {
    "description": "a header row, then one sample per row; numbers, but for a target column of "
    "class names",
    "schema": {"type": "string"},
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
TEXT = {"type": "string"}
EVENTS_DESCRIPTION = (
    "`status` events carry {status, epoch, epochs, error}; `epoch` events carry {epoch, epochs, "
    "loss, accuracy, rmse, val_loss, val_accuracy, val_rmse, points}, where points lists [epoch, "
    "loss, accuracy, rmse, val_loss, val_accuracy, val_rmse] for the epochs persisted since the "
    "last epoch event (at most 500, or `points`, evenly spaced, ending with the newest). Event "
    "ids are EPOCH:STATUS; send the last one back as Last-Event-ID to resume with no gap or "
    "repeat. Comment lines keep the connection alive. Each owner may have MAX_STREAMS_PER_OWNER "
    "streams open at once (429 beyond) and each server process serves MAX_STREAMS_PER_PROCESS (503 "
    "beyond), both with Retry-After; a stream ends soon after its token is revoked."
)
RERUN_DESCRIPTION = (
    "The new job trains the original's stored (normalised) spec with each override applied: "
    'a dotted path such as "training.learning_rate" or "model.layers" (a list index is a '
    "number) set to the given JSON value; a path the spec does not have is a 422. The result is "
    "validated and limited exactly as a submitted spec. The name and labels carry over unless "
    "the body gives them."
)


def _response(description: str, media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A response with one media type and its schema."""
    return {"description": description, "content": {media_type: {"schema": schema}}}


def _schema_ref(
    source: type[BaseModel] | TypeAdapter[Any], schemas: dict[str, Any], mode: str
) -> dict[str, str]:
    adapter = source if isinstance(source, TypeAdapter) else TypeAdapter(source)
    schema = adapter.json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    schemas.update(schema.pop("$defs", {}))
    name = schema["title"]  # the class's name, as for every schema in $defs
    schemas[name] = schema
    return {"$ref": REF.format(model=name)}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    return [
        {"name": name, "in": "query", "required": False, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def build_openapi() -> dict[str, Any]:
    """The whole API description."""
    schemas: dict[str, Any] = {}

    def body(adapter: TypeAdapter[Any]) -> dict[str, Any]:
        return {
            "required": True,
            "content": {
                "application/json": {"schema": _schema_ref(adapter, schemas, "validation")}
            },
        }

    def ok(model: type[BaseModel] | None, description: str) -> dict[str, Any]:
        schema = (
            {"type": "object"} if model is None else _schema_ref(model, schemas, "serialization")
        )
        return _response(description, "application/json", schema)

    problem = _response(
        "a problem document (RFC 9457)",
        "application/problem+json",
        _schema_ref(ProblemOut, schemas, "serialization"),
    )

    def op(
        operation_id: str,
        summary: str,
        responses: dict[str, Any],
        errors: str,
        tag: str = "jobs",
        **extra: Any,
    ) -> dict[str, Any]:
        # Only the error statuses this operation can answer (plus 401 without a token, and 503
        # while the database is down, which every API call can meet).
        codes = sorted({*errors.split(), "401", "503"})
        return {
            "operationId": operation_id,
            "tags": [tag],
            "summary": summary,
            "responses": {**responses, **{code: problem for code in codes}},
            **extra,
        }

    def system_op(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
        # Outside /api/v1: no token, and only the errors each one lists.
        return {
            "operationId": operation_id,
            "tags": ["system"],
            "summary": summary,
            "security": [],
            "responses": responses,
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
                requestBody=body(JOB_SPEC),
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
            "delete": op(
                "delete_job",
                "Delete an ended job with its losses and weights",
                {"204": {"description": "deleted"}},
                "404 409",
                parameters=[JOB_ID],
            ),
        },
        "/api/v1/jobs/{job_id}/rerun": {
            "post": op(
                "rerun_job",
                "Submit a job again, with some spec fields overridden",
                {
                    "202": ok(JobOut, "the new job, queued"),
                    "200": ok(JobOut, "the job first submitted with this Idempotency-Key"),
                },
                "400 404 413 415 422 429",
                parameters=[JOB_ID, IDEMPOTENCY_KEY],
                requestBody={**body(RERUN_REQUEST), "required": False},
                description=RERUN_DESCRIPTION,
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
                {
                    "200": _response(
                        "the stream, until the job's terminal status (or EVENTS_MAX_SECONDS)",
                        "text/event-stream",
                        TEXT,
                    ),
                    "204": {"description": "Last-Event-ID already saw the end"},
                },
                "404 422 429",
                parameters=[JOB_ID, LAST_EVENT_ID, *_query_parameters(EventsQuery)],
                description=EVENTS_DESCRIPTION,
            ),
        },
        "/api/v1/jobs/{job_id}/weights": {
            "get": op(
                "get_weights",
                "Final weights",
                {"200": ok(WeightsOut, "the engine's weights document")},
                "404 409",
                parameters=[JOB_ID],
            ),
        },
        "/api/v1/jobs/{job_id}/model.py": {
            "get": op(
                "export_python",
                "The trained model as one dependency-free Python file",
                {
                    "200": _response(
                        "Python source: the weights inline and predict(rows)", "text/x-python", TEXT
                    )
                },
                "404 409",
                parameters=[JOB_ID],
            ),
        },
        "/api/v1/jobs/{job_id}/model.onnx": {
            "get": op(
                "export_onnx",
                "The trained model as ONNX",
                {
                    "200": _response(
                        "an ONNX model: input [N, inputs], output [N, outputs]; "
                        "the job id and spec in metadata_props",
                        "application/onnx",
                        {**TEXT, "format": "binary"},
                    )
                },
                "404 409 422",
                parameters=[JOB_ID, *_query_parameters(OnnxQuery)],
            ),
        },
        "/api/v1/jobs/{job_id}/predict": {
            "post": op(
                "predict",
                "Predict with the trained model",
                {"200": ok(PredictOut, "outputs")},
                "400 404 409 413 415 422 429",
                parameters=[JOB_ID],
                requestBody=body(PREDICT_REQUEST),
            ),
        },
        "/api/v1/jobs/{job_id}/confusion": {
            "get": op(
                "get_confusion",
                "Confusion matrix of a classifier on its training data",
                {"200": ok(ConfusionOut, "the labels and counts[true][predicted]")},
                "404 409 422",
                parameters=[JOB_ID],
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
        "/api/v1/sweeps": {
            "post": op(
                "submit_sweep",
                "Submit a sweep: many trials of one job spec",
                {
                    "202": ok(SweepOut, "the sweep, its trials queued"),
                    "200": ok(SweepOut, "the sweep first submitted with this Idempotency-Key"),
                },
                "400 413 415 422 429",
                tag="sweeps",
                description=SWEEP_DESCRIPTION,
                requestBody=body(SWEEP_REQUEST),
                parameters=[IDEMPOTENCY_KEY],
            ),
            "get": op(
                "list_sweeps",
                "List sweeps, newest first",
                {"200": ok(SweepPage, "a page of sweeps")},
                "422",
                tag="sweeps",
                parameters=_query_parameters(SweepListQuery),
            ),
        },
        "/api/v1/sweeps/{sweep_id}": {
            "get": op(
                "get_sweep",
                "Get a sweep: status, trials per status, best trial",
                {"200": ok(SweepOut, "the sweep")},
                "404",
                tag="sweeps",
                parameters=[SWEEP_ID],
            ),
            "delete": op(
                "delete_sweep",
                "Delete an ended sweep with its trials",
                {"204": {"description": "deleted"}},
                "404 409",
                tag="sweeps",
                parameters=[SWEEP_ID],
            ),
        },
        "/api/v1/sweeps/{sweep_id}/trials": {
            "get": op(
                "list_trials",
                "A sweep's trials, sorted by objective or a param",
                {"200": ok(TrialPage, "every trial")},
                "404 422",
                tag="sweeps",
                parameters=[SWEEP_ID, *_query_parameters(TrialQuery)],
            ),
        },
        "/api/v1/sweeps/{sweep_id}/curves": {
            "get": op(
                "sweep_curves",
                "Every trial's objective, epoch by epoch",
                {"200": ok(CurvesOut, "one line per trial")},
                "404 422",
                tag="sweeps",
                parameters=[SWEEP_ID, *_query_parameters(CurvesQuery)],
            ),
        },
        "/api/v1/sweeps/{sweep_id}/cancel": {
            "post": op(
                "cancel_sweep",
                "Cancel a sweep: every trial still queued or running",
                {"202": ok(SweepOut, "the sweep, cancelled")},
                "404 409",
                tag="sweeps",
                parameters=[SWEEP_ID],
            ),
        },
        "/api/v1/datasets": {
            "post": op(
                "upload_dataset",
                "Upload a dataset (CSV or JSON); the same content again answers the first",
                {
                    "201": ok(DatasetOut, "the dataset, stored"),
                    "200": ok(DatasetOut, "the owner's dataset of the same content"),
                },
                "400 413 415 422",
                tag="datasets",
                parameters=_query_parameters(CsvQuery),
                requestBody={
                    "required": True,
                    "content": {
                        "text/csv": CSV_BODY,
                        "application/json": {
                            "schema": _schema_ref(DATASET_UPLOAD, schemas, "validation")
                        },
                    },
                },
            ),
            "get": op(
                "list_datasets",
                "List datasets, newest first",
                {"200": ok(DatasetPage, "a page of datasets")},
                "422",
                tag="datasets",
                parameters=_query_parameters(DatasetListQuery),
            ),
        },
        "/api/v1/datasets/{dataset_id}": {
            "get": op(
                "get_dataset",
                "Get a dataset, its first rows and its columns' statistics",
                {"200": ok(DatasetDetail, "the dataset")},
                "404",
                tag="datasets",
                parameters=[DATASET_ID],
            ),
            "delete": op(
                "delete_dataset",
                "Delete a dataset that no active job uses",
                {"204": {"description": "deleted"}},
                "404 409",
                tag="datasets",
                parameters=[DATASET_ID],
            ),
        },
        "/api/v1/datasets/{dataset_id}/rows": {
            "get": op(
                "list_dataset_rows",
                "A dataset's rows, a page at a time",
                {"200": ok(RowPage, "a page of rows")},
                "404 422",
                tag="datasets",
                parameters=[DATASET_ID, *_query_parameters(RowQuery)],
            ),
        },
        "/healthz": {"get": system_op("health", "Liveness", {"200": ok(None, "alive")})},
        "/readyz": {
            "get": system_op(
                "readiness",
                "Readiness: database and broker reachable",
                {"200": ok(None, "ready"), "503": problem},
            )
        },
        "/metrics": {
            "get": system_op(
                "metrics",
                "Prometheus metrics, for a scraper on the internal network",
                {"200": _response("the Prometheus text exposition format", "text/plain", TEXT)},
            )
        },
    }
    # A job's stored spec is the request's normal form (every default filled in, no name or
    # labels): an instance of the request's JobSpec schema, so the document points there.
    schemas["JobOut"]["properties"]["spec"] = {"$ref": REF.format(model="JobSpec")}
    # A sweep's base is a job spec, validated as one (service/api/sweeps.py).
    schemas["SweepRequest"]["properties"]["base"] = {"$ref": REF.format(model="JobSpec")}
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
