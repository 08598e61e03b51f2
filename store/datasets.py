"""What the API and the worker do to datasets in SQL: store once, find, list, page rows, delete,
and hand a job's spec its rows inline.

Every function takes the caller's session; the caller owns the transaction.
"""

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, defer, undefer

from engine.errors import SpecError
from engine.losses import LABELS
from engine.spec import DataField, DatasetData, StoredData
from engine.validation_spec import StoredValidation, ValidationDataset
from store.jobs import newest_first_page
from store.models import Dataset, Job, utcnow
from store.status import ACTIVE
from store.tables import Table, unpack

FLOAT = 8  # bytes per packed value


class InUse(Exception):
    """Active jobs still train on the dataset; ``jobs`` lists their ids."""

    def __init__(self, jobs: list[str]) -> None:
        super().__init__(f"jobs still use the dataset: {', '.join(jobs)}")
        self.jobs = jobs


def find_by_sha256(session: Session, owner: str, sha256: str) -> Dataset | None:
    """The owner's dataset with this content, or None."""
    query = select(Dataset).where(Dataset.owner == owner, Dataset.sha256 == sha256)
    return session.scalars(query).one_or_none()


def create_dataset(session: Session, owner: str, name: str | None, table: Table) -> Dataset:
    """Store ``table`` for ``owner`` (a second copy of its content: IntegrityError at the flush)."""
    inputs, targets = table.packed()
    dataset = Dataset(
        id=str(uuid.uuid4()),
        owner=owner,
        name=name,
        rows=table.rows,
        features=table.features,
        feature_names=table.feature_names,
        target_name=table.target_name,
        classes=table.classes,
        column_stats=table.column_stats(),
        sha256=table.sha256(),
        size_bytes=len(inputs) + len(targets),
        created_at=utcnow(),
        inputs=inputs,
        targets=targets,
    )
    session.add(dataset)
    session.flush()
    return dataset


def get_dataset(session: Session, dataset_id: str, owner: str | None) -> Dataset | None:
    """The owner's dataset (any owner's for None), or None: another's is as absent as none."""
    query = select(Dataset).where(Dataset.id == dataset_id)
    if owner is not None:
        query = query.where(Dataset.owner == owner)
    return session.scalars(query).one_or_none()


def list_datasets(
    session: Session, owner: str | None, limit: int, cursor: str | None
) -> tuple[list[Dataset], str | None]:
    """One page of the owner's datasets, newest first, and the next cursor (as jobs page)."""
    query = select(Dataset)
    if owner is not None:
        query = query.where(Dataset.owner == owner)
    return newest_first_page(session, query, Dataset, limit, cursor)


def row_page(
    session: Session, dataset: Dataset, after: int, limit: int
) -> list[tuple[list[float], float]]:
    """Rows ``after + 1`` to ``after + limit`` (rows count from 1): only their bytes are read."""
    count = max(0, min(limit, dataset.rows - after))
    if count == 0:
        return []
    width = dataset.features * FLOAT
    # substr counts from 1, on SQLite blobs and Postgres bytea alike.
    query = select(
        func.substr(Dataset.inputs, after * width + 1, count * width),
        func.substr(Dataset.targets, after * FLOAT + 1, count * FLOAT),
    ).where(Dataset.id == dataset.id)
    raw_inputs, raw_targets = session.execute(query).one()
    inputs, targets = unpack(bytes(raw_inputs)), unpack(bytes(raw_targets))
    f = dataset.features
    return [(inputs[i * f : (i + 1) * f].tolist(), targets[i]) for i in range(count)]


def load_rows(session: Session, dataset_id: str) -> tuple[Dataset, list[list[float]], list[float]]:
    """A dataset's every row, for training: inputs as rows, one target per row."""
    query = select(Dataset).options(undefer(Dataset.inputs), undefer(Dataset.targets))
    dataset = session.scalars(query.where(Dataset.id == dataset_id)).one_or_none()
    if dataset is None:
        raise SpecError(f"data.dataset: no dataset {dataset_id} (deleted?)", "data.dataset")
    flat, f = unpack(dataset.inputs), dataset.features
    inputs = [flat[i : i + f].tolist() for i in range(0, len(flat), f)]
    return dataset, inputs, unpack(dataset.targets).tolist()


def looked_up(session: Session, data: DataField, owner: str) -> DataField:
    """``data`` with the owner's stored datasets (to train on, to validate on) as the engine's
    spec checks them: their shapes in place of their ids. SpecError naming the field at fault
    for a dataset that is not there, or a validation dataset of other classes."""
    trained_on = None
    if isinstance(data, DatasetData) and not isinstance(data, StoredData):
        trained_on = _owned(session, data.dataset, owner, "data.dataset")
        classes = len(trained_on.classes) if trained_on.classes is not None else None
        rows, features = trained_on.rows, trained_on.features
        data = StoredData(data.dataset, data.validation, data.normalize, rows, features, classes)
    v = data.validation
    if isinstance(v, ValidationDataset) and not isinstance(v, StoredValidation):
        where = "data.validation.dataset"
        dataset = _owned(session, v.dataset, owner, where)
        names = dataset.classes
        if trained_on is not None and names and trained_on.classes and names != trained_on.classes:
            message = (
                f"dataset {v.dataset} has classes {names}; the training dataset has "
                f"{trained_on.classes}"
            )
            raise SpecError(message, where)
        count = len(names) if names is not None else None
        stored = StoredValidation(v.dataset, dataset.rows, dataset.features, count)
        data = replace(data, validation=stored)
    return data


def _owned(session: Session, dataset_id: str, owner: str, where: str) -> Dataset:
    dataset = get_dataset(session, dataset_id, owner)
    if dataset is None:
        raise SpecError(f"no dataset {dataset_id}", where)
    return dataset


def inline_spec(session: Session, spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """``spec`` with its stored datasets' rows in place of their ids (any other spec as it is).

    A classification dataset labels its rows 0..k-1; a two-label loss gets its own labels.
    """
    data = dict(spec.get("data") or {})
    loss = spec["training"]["loss"]
    if "dataset" in data:
        data.update(_rows(session, data.pop("dataset"), loss))
    validation = data.get("validation") or {}
    if "dataset" in validation:
        data["validation"] = _rows(session, validation["dataset"], loss)
    return {**spec, "data": data}


def _rows(session: Session, dataset_id: str, loss: str) -> dict[str, Any]:
    # A dataset's inputs and targets, as a spec gives them inline.
    dataset, inputs, targets = load_rows(session, dataset_id)
    if dataset.classes is not None and loss in LABELS:
        labels = LABELS[loss]
        targets = [labels[int(t)] for t in targets]
    return {"inputs": inputs, "targets": targets}


def delete_dataset(session: Session, dataset_id: str, owner: str | None) -> bool:
    """Delete the owner's dataset; False if there is none, ``InUse`` while active jobs use it.

    Ended jobs keep their results; their link to the dataset becomes NULL (ON DELETE SET NULL).
    """
    dataset = get_dataset(session, dataset_id, owner)
    if dataset is None:
        return False
    # A job validating on it uses it as much as one training on it does.
    validates = Job.spec["data"]["validation"]["dataset"].as_string() == dataset_id
    uses = or_(Job.dataset_id == dataset_id, validates)
    query = select(Job.id).where(uses, Job.status.in_(ACTIVE))
    users = list(session.scalars(query.order_by(Job.created_at).limit(20)))
    if users:
        raise InUse(users)
    session.delete(dataset)
    return True


def class_names(session: Session, spec: Mapping[str, Any]) -> dict[float, str] | None:
    """What a classifier's labels are called: its dataset's class names by label (a two-label
    loss's labels name the first and second class), or None when its data had no names."""
    data = spec.get("data") or {}
    dataset = get_dataset(session, data["dataset"], None) if "dataset" in data else None
    if dataset is None or dataset.classes is None:
        return None
    order = LABELS.get(spec["training"]["loss"]) or range(len(dataset.classes))
    return {float(label): name for label, name in zip(order, dataset.classes, strict=False)}


def jobs_using(session: Session, dataset_id: str, owner: str | None, limit: int) -> list[Job]:
    """The owner's newest jobs that train on the dataset (any owner's for None)."""
    query = select(Job).options(defer(Job.spec)).where(Job.dataset_id == dataset_id)
    if owner is not None:
        query = query.where(Job.owner == owner)
    return list(session.scalars(query.order_by(Job.created_at.desc()).limit(limit)))
