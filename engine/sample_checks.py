"""The checks of samples against their loss and their data, which engine.spec's checked() runs:
labels, and the validation samples' shape (held out, inline, or a stored dataset's).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import SpecError
from engine.losses import CLASS_LABELS, CLASSIFIERS, LABELS
from engine.validation_spec import (
    HoldOut,
    InlineValidation,
    StoredValidation,
    Validation,
    ValidationDataset,
)


@dataclass(frozen=True)
class DataShape:
    """What the validation checks need of the training data."""

    width: int | None
    samples: int
    classes: int | None  # a stored classification dataset's; None otherwise


def check_labels(
    targets: tuple[tuple[float, ...], ...], loss: str, where: str = "data.targets"
) -> None:
    """SpecError naming the first target that is not one of the loss's two labels."""
    labels = LABELS[loss]
    for i, row in enumerate(targets):
        if any(t not in labels for t in row):
            message = f"{loss} needs labels {labels[0]:g} or {labels[1]:g}"
            raise SpecError(f"{where}.{i}: {message}", f"{where}.{i}")


def check_integer_labels(
    targets: tuple[tuple[float, ...], ...], k: int, loss: str, where: str
) -> None:
    """SpecError naming the first target that is not one integer label from 0 to k - 1."""
    for i, row in enumerate(targets):
        if len(row) != 1:
            message = f"{loss} takes one class label per sample, not {len(row)} targets"
            raise SpecError(f"{where}.{i}: {message}", f"{where}.{i}")
        if not (float(row[0]).is_integer() and 0 <= row[0] < k):  # 1.0 is label 1; 1.5 none
            message = f"{loss} needs an integer label from 0 to {k - 1}, got {row[0]:g}"
            raise SpecError(f"{where}.{i}: {message}", f"{where}.{i}")


def check_validation(
    v: Validation | None, data: DataShape, loss: str, outputs: int, k: int
) -> None:
    """SpecError naming the field unless the validation samples fit the data's (described by
    ``data``) and the loss (``outputs`` targets per sample, ``k`` model outputs)."""
    if isinstance(v, HoldOut):
        if data.samples < 2:
            message = f"holding out a fraction needs at least 2 samples, not {data.samples}"
            raise SpecError(message, "data.validation.fraction")
    elif isinstance(v, InlineValidation):
        where = "data.validation"
        for i, row in enumerate(v.inputs):
            if len(row) != data.width:
                message = (
                    f"{where}.inputs.{i} has {len(row)} inputs; data samples have {data.width}"
                )
                raise SpecError(message, f"{where}.inputs.{i}")
        if len(v.targets) != len(v.inputs):
            message = f"{where}.targets has {len(v.targets)} targets for {len(v.inputs)} inputs"
            raise SpecError(message, f"{where}.targets")
        width = 1 if loss in CLASS_LABELS else outputs
        for i, row in enumerate(v.targets):
            if len(row) != width:
                message = f"{where}.targets.{i} has {len(row)} targets; data has {width}"
                raise SpecError(message, f"{where}.targets.{i}")
        if loss in LABELS:
            check_labels(v.targets, loss, f"{where}.targets")
        if loss in CLASS_LABELS:
            check_integer_labels(v.targets, k, loss, f"{where}.targets")
    elif isinstance(v, StoredValidation):
        _validation_dataset(data, v, loss, k)
    elif isinstance(v, ValidationDataset):
        message = "data.validation.dataset must be looked up (by the service) before it is checked"
        raise SpecError(message, "data.validation.dataset")


def _validation_dataset(data: DataShape, v: StoredValidation, loss: str, k: int) -> None:
    # Same features; same classes (the service compares their names too).
    where = "data.validation.dataset"
    if v.features != data.width:
        message = f"dataset {v.dataset} has {v.features} features; the data has {data.width}"
        raise SpecError(message, where)
    if loss not in CLASSIFIERS:
        if v.classes is not None:
            message = f"dataset {v.dataset} has classes, which {loss} (a regression) cannot fit"
            raise SpecError(message, where)
        return
    if v.classes is None:
        message = (
            f"dataset {v.dataset} has a numeric target (regression), which {loss} cannot score"
        )
        raise SpecError(message, where)
    # The data's classes: a stored dataset's, else the model's outputs (2 for a binary loss).
    expected = data.classes or (k if loss in CLASS_LABELS else 2)
    if v.classes != expected:
        message = f"dataset {v.dataset} has {v.classes} classes; the data has {expected}"
        raise SpecError(message, where)
