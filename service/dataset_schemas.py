"""The datasets resource's bodies, query strings and answers, as pydantic models (for OpenAPI)."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from service.schemas import Query, _time
from store.models import Dataset

Name = Annotated[str, Field(min_length=1, max_length=200)]


class DatasetUpload(BaseModel):
    """A dataset as JSON: one input row and one target per sample (strings: class names)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    name: Name | None = None
    inputs: list[Annotated[list[float], Field(min_length=1, fail_fast=True)]] = Field(
        min_length=1, fail_fast=True
    )
    targets: list[float] | list[str] = Field(min_length=1)
    feature_names: list[Name] | None = None
    target_name: Name = "target"


DATASET_UPLOAD = TypeAdapter(DatasetUpload)


class CsvQuery(Query):
    name: Name | None = None
    target: Name | None = Field(default=None, description="the target column; default the last")


class DatasetListQuery(Query):
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=500)


class RowQuery(Query):
    after: int = Field(default=0, ge=0, description="the row before the first (rows count from 1)")
    limit: int = Field(default=100, ge=1, le=1000)


class ColumnStats(BaseModel):
    name: str
    min: float
    max: float
    mean: float


class DatasetOut(BaseModel):
    """A dataset's description (its rows: ``links.rows``)."""

    id: str
    name: str | None
    rows: int
    features: int
    feature_names: list[str]
    target_name: str
    classes: list[str] | None = Field(description="class names (labels 0..k-1), or null")
    sha256: str = Field(description="of the canonical content (store/tables.py)")
    created_at: datetime
    size_bytes: int
    links: dict[str, str]


class DatasetDetail(DatasetOut):
    preview: list[dict[str, Any]] = Field(description="the first rows")
    columns: list[ColumnStats] = Field(description="each feature's, then the target's, statistics")


class DatasetPage(BaseModel):
    items: list[DatasetOut]
    next: str | None


class RowOut(BaseModel):
    row: int
    inputs: list[float]
    target: float | str


class RowPage(BaseModel):
    items: list[RowOut]
    next: str | None


def dataset_out(dataset: Dataset) -> dict[str, Any]:
    """The JSON document of a dataset."""
    base = f"/api/v1/datasets/{dataset.id}"
    return {
        "id": dataset.id,
        "name": dataset.name,
        "rows": dataset.rows,
        "features": dataset.features,
        "feature_names": dataset.feature_names,
        "target_name": dataset.target_name,
        "classes": dataset.classes,
        "sha256": dataset.sha256,
        "created_at": _time(dataset.created_at),
        "size_bytes": dataset.size_bytes,
        "links": {"self": base, "rows": f"{base}/rows"},
    }


def row_out(dataset: Dataset, number: int, inputs: list[float], target: float) -> dict[str, Any]:
    """One row: its number (from 1), inputs, and target (a class's name where there are some)."""
    named = dataset.classes[int(target)] if dataset.classes is not None else target
    return {"row": number, "inputs": inputs, "target": named}
