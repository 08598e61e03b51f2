"""What the API and the worker do to datasets in SQL: store once, find, list, page rows, delete,
and hand a job's spec its rows inline.

Every function takes the caller's session; the caller owns the transaction.
"""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, undefer

from engine.errors import SpecError
from engine.losses import LABELS
from engine.spec import StoredData
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


def stored_data(session: Session, dataset_id: str, owner: str) -> StoredData | None:
    """The owner's dataset as the engine's spec checks it (its shape), or None."""
    dataset = get_dataset(session, dataset_id, owner)
    if dataset is None:
        return None
    classes = len(dataset.classes) if dataset.classes is not None else None
    return StoredData(dataset.id, dataset.rows, dataset.features, classes)


def inline_spec(session: Session, spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """``spec`` with a stored dataset's rows in place of its id (any other spec as it is).

    A classification dataset labels its rows 0..k-1; a two-label loss gets its own labels.
    """
    data = spec.get("data") or {}
    if "dataset" not in data:
        return spec
    dataset, inputs, targets = load_rows(session, data["dataset"])
    loss = spec["training"]["loss"]
    if dataset.classes is not None and loss in LABELS:
        labels = LABELS[loss]
        targets = [labels[int(t)] for t in targets]
    return {**spec, "data": {"inputs": inputs, "targets": targets}}


def delete_dataset(session: Session, dataset_id: str, owner: str | None) -> bool:
    """Delete the owner's dataset; False if there is none, ``InUse`` while active jobs use it.

    Ended jobs keep their results; their link to the dataset becomes NULL (ON DELETE SET NULL).
    """
    dataset = get_dataset(session, dataset_id, owner)
    if dataset is None:
        return False
    query = select(Job.id).where(Job.dataset_id == dataset_id, Job.status.in_(ACTIVE))
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
