"""The jobs page's query string: a status, the API's filters as a plain HTML form sends them, and
what the submit box starts with.

A form sends every field, the empty ones as ``name=``, and its date boxes carry no time zone:
empty fields are dropped, and a moment without a zone is UTC (the times the pages show).
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from flask import request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service.problems import from_validation_error
from store.jobs import Filters
from store.status import JobStatus

# KEY:VALUE, as the API's ?label= takes it (service/schemas.py).
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}:[^:\s\x00]{1,63}$")
MAX_LABELS = 16
Id = Annotated[str, Field(max_length=80)]


class ListQuery(BaseModel):
    """What the jobs page (and its table fragment) is asked for."""

    model_config = ConfigDict(extra="forbid")

    status: JobStatus | None = None
    cursor: str | None = Field(default=None, max_length=500)
    name: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00]*$")
    labels: list[str] = Field(default_factory=list, description="KEY:VALUE, space separated")
    created_after: datetime | None = None
    created_before: datetime | None = None
    rerun: Id | None = None  # a job whose spec the submit box starts with
    dataset: Id | None = None  # a dataset the submit box's job trains on

    @field_validator("labels", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        items = value.replace(",", " ").split()
        bad = [item for item in items if not LABEL.match(item)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not KEY:VALUE")
        if len(items) > MAX_LABELS:
            raise ValueError(f"at most {MAX_LABELS} labels")
        return items

    @field_validator("created_after", "created_before")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    def filters(self) -> Filters:
        """The store's filters for this query."""
        return Filters(
            labels=dict(item.split(":", 1) for item in self.labels),
            name_prefix=self.name,
            created_after=self.created_after,
            created_before=self.created_before,
        )

    def form_value(self, field: str) -> str:
        """What the filter form's box for ``field`` shows again."""
        if field == "labels":
            return " ".join(self.labels)
        value = getattr(self, field)
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
        return "" if value is None else str(value)

    def filtered(self) -> bool:
        """True when some filter besides the status is on."""
        return bool(self.name or self.labels or self.created_after or self.created_before)

    def link_args(self, **changes: str | None) -> dict[str, str]:
        """The filters as query arguments, some changed (None drops one), for a link."""
        fields = ("status", "name", "labels", "created_after", "created_before")
        values: dict[str, str | None] = {f: self.form_value(f) for f in fields}
        values.update(changes)
        return {f: value for f in fields if (value := values[f])}


def list_query() -> ListQuery:
    """The request's query string as a ``ListQuery``, or a 422 problem naming the bad field."""
    args = {key: value for key, value in request.args.items() if value.strip()}
    try:
        return ListQuery.model_validate(args)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc
