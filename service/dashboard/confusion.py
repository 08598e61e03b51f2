"""A succeeded classifier's confusion table for its page: counts, class names and accuracy."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from engine import classify
from store import datasets


@dataclass(frozen=True)
class Table:
    """counts[true][predicted] over the samples (``split``: "validation" or "training"), with a
    name per class."""

    split: str
    names: list[str]
    counts: list[list[int]]

    @property
    def total(self) -> int:
        """How many (sample, output) pairs were counted."""
        return sum(map(sum, self.counts))

    @property
    def accuracy(self) -> float | None:
        """The share on the diagonal: the model's accuracy on these samples."""
        right = sum(self.counts[i][i] for i in range(len(self.counts)))
        return right / self.total if self.total else None


def table(session: Session, spec: dict[str, Any], weights: dict[str, Any]) -> Table:
    """The table of a classifier on its validation split, else on the data it trained on (a
    stored dataset's rows read here).

    SpecError when its dataset is gone; ArithmeticError when the model overflows on a sample.
    """
    split, labels, counts = classify.confusion(datasets.inline_spec(session, spec), weights)
    named = datasets.class_names(session, spec) or {}
    return Table(split, [named.get(float(label), str(label)) for label in labels], counts)
