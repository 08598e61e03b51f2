"""What the jobs page's submit box starts with: the notebook's job, a job to run again, or a
first job for a dataset. The user edits it before submitting; the API checks it as any other."""

import json
from typing import Any

from engine import parse_spec
from engine.errors import SpecError
from store.models import Dataset, Job

# The job the submit box starts with: the notebook's, as `gradyard serve` suggests it.
NOTEBOOK_JOB: dict[str, Any] = {"name": "notebook", "training": {"epochs": 20}}
HIDDEN = 16  # neurons of the one hidden layer a dataset's first job gets


def notebook() -> str:
    """The notebook's job, as JSON."""
    return _shown(NOTEBOOK_JOB)


def rerun(job: Job) -> str:
    """The job's stored spec with its name and labels: the body that submits it again."""
    return _shown({"name": job.name, "labels": job.labels or {}, **readable(job.spec)})


def for_dataset(dataset: Dataset) -> str:
    """A first job that trains on the dataset: k-class cross-entropy for a classification
    dataset (labels 0..k-1), else a regression on its numeric target."""
    classes = len(dataset.classes) if dataset.classes is not None else None
    if classes is not None:
        model = {"layers": [HIDDEN, classes], "output_activation": "linear"}
        loss = "cross_entropy"
    else:
        model = {"layers": [HIDDEN, 1], "output_activation": "linear"}
        loss = "mean_squared"
    body = {
        "name": dataset.name or f"dataset {dataset.id[:8]}",
        "model": {**model, "activation": "tanh"},
        "data": {"dataset": dataset.id},
        "training": {"loss": loss, "optimizer": "adam", "learning_rate": 0.01, "epochs": 100},
    }
    return _shown(body)


def readable(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec in the engine's own key order (a JSONB column keeps keys in its own order)."""
    try:
        return parse_spec(spec).to_dict()
    except SpecError:
        return spec


def _shown(body: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in body.items() if v is not None}, indent=2)
