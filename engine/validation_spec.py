"""The samples' part of the job spec that data sources share: rows and targets, and how to validate.

`data.validation` is a fraction of the data held out (engine.holdout), samples given inline, or a
stored dataset by id (which the service looks up as a StoredValidation, and the worker hands the
engine inline, as it does the training dataset). `data.normalize: "standard"` standardizes the
features with the training split's statistics (engine.standardize).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from engine.reader import PYDANTIC_CONFIG, Each, plain

MAX_SAMPLES = 100_000

# fail_fast (read by pydantic, ignored by engine.reader): a list stops at its first bad item, so
# a huge invalid body costs one error, not one error object per bad number (issue 12 item 2).
Row = Annotated[tuple[float, ...], Each(min_length=1, fail_fast=True)]
SAMPLES = {"min_length": 1, "max_length": MAX_SAMPLES}
Normalize = Literal["standard"]

if TYPE_CHECKING:  # the normal form, which __post_init__ leaves in every instance
    Targets = tuple[Row, ...]
else:  # the forms a spec may use
    Targets = (
        Annotated[tuple[float, ...], Each(fail_fast=True)]
        | Annotated[tuple[Row, ...], Each(fail_fast=True)]
    )


def target_rows(targets: Any) -> Any:
    """A flat list of targets as rows of one; rows as they are."""
    if targets and not isinstance(targets[0], tuple):
        return tuple((t,) for t in targets)
    return targets


def targets_json(targets: tuple[tuple[float, ...], ...]) -> list[Any]:
    """Targets as JSON: single targets as the flat list people write."""
    single = all(len(row) == 1 for row in targets)
    return [row[0] if single else list(row) for row in targets]


@dataclass(frozen=True)
class HoldOut:
    """A seeded fraction of the data held out for validation (stratified for classifiers)."""

    __pydantic_config__ = PYDANTIC_CONFIG
    fraction: float = field(
        metadata={"gt": 0, "lt": 1, "description": "of the samples held out, e.g. 0.2"}
    )


@dataclass(frozen=True)
class InlineValidation:
    """Validation samples given in the request, shaped as the training samples."""

    __pydantic_config__ = PYDANTIC_CONFIG
    inputs: tuple[Row, ...] = field(metadata={**SAMPLES, "fail_fast": True})
    targets: Targets = field(metadata={**SAMPLES, "description": "as data.targets"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", target_rows(self.targets))

    def to_dict(self) -> dict[str, Any]:
        """Inputs and targets as lists."""
        return {"inputs": [list(r) for r in self.inputs], "targets": targets_json(self.targets)}


@dataclass(frozen=True)
class ValidationDataset:
    """A second stored dataset, by its id, validates the model (same features and classes)."""

    __pydantic_config__ = PYDANTIC_CONFIG
    dataset: str = field(
        metadata={"min_length": 1, "max_length": 64, "description": "a dataset's id"}
    )

    def to_dict(self) -> dict[str, Any]:
        """The dataset's id."""
        return {"dataset": self.dataset}


@dataclass(frozen=True)
class StoredValidation(ValidationDataset):
    """A validation dataset with the shape its store holds (as engine.spec.StoredData)."""

    samples: int = 0
    features: int = 0
    classes: int | None = None


Validation = HoldOut | InlineValidation | ValidationDataset


# The field metadata of the `validation` and `normalize` fields every data source has.
VALIDATION_DOC = {
    "description": '{"fraction": f} held out, {"dataset": id}, or inline {"inputs", "targets"}; '
    "null (the default): no validation"
}
NORMALIZE_DOC = {
    "description": '"standard": each feature standardized by the training split\'s mean and '
    "deviation, which the trained model keeps; null (the default): raw inputs"
}


def options_json(validation: Validation | None, normalize: str | None) -> dict[str, Any]:
    """The validation and normalize settings that are set, as JSON (a spec without them is
    stored as it was before they existed)."""
    options: dict[str, Any] = {}
    if validation is not None:
        options["validation"] = plain(validation)
    if normalize is not None:
        options["normalize"] = normalize
    return options
