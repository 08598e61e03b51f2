"""Reading an uploaded dataset (CSV or parsed JSON) into one canonical table, or saying where it
is wrong: pure functions, no database.

The canonical content is the header (feature names, target name, classes) as compact JSON, then
every input as a little-endian float64 (row after row), then every target likewise (a class's
index for a classification dataset). Its sha256 names the content: the same table uploaded twice
has the same digest, whatever its name or its file's spacing.
"""

import csv
import hashlib
import io
import json
import math
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


class TableError(ValueError):
    """An upload that is no dataset; says the line (1 is the header) and column at fault."""

    def __init__(self, message: str, line: int | None = None, column: str | None = None) -> None:
        where = ", ".join(
            part
            for part in (f"line {line}" if line else "", f"column {column}" if column else "")
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.line, self.column = line, column


class TooLarge(TableError):
    """More rows or features than the settings allow."""


@dataclass(frozen=True)
class Limits:
    """How large a dataset may be."""

    rows: int
    features: int


@dataclass(frozen=True)
class Table:
    """A dataset's canonical content: inputs row after row, one target per row."""

    feature_names: list[str]
    target_name: str
    classes: list[str] | None
    inputs: array  # float64, rows x features
    targets: array  # float64, one per row

    @property
    def rows(self) -> int:
        """Samples."""
        return len(self.targets)

    @property
    def features(self) -> int:
        """Inputs per sample."""
        return len(self.feature_names)

    def packed(self) -> tuple[bytes, bytes]:
        """Inputs and targets as little-endian float64 bytes."""
        return pack(self.inputs), pack(self.targets)

    def sha256(self) -> str:
        """The digest of the canonical content."""
        header = {"feature_names": self.feature_names, "target": self.target_name}
        header["classes"] = self.classes  # type: ignore[assignment]
        digest = hashlib.sha256(json.dumps(header, separators=(",", ":")).encode())
        digest.update(b"\0")
        for part in self.packed():
            digest.update(part)
        return digest.hexdigest()

    def column_stats(self) -> list[dict[str, Any]]:
        """Each feature's (then the target's) name, min, max and mean."""
        n, width = self.rows, self.features
        columns = [(name, self.inputs[j::width]) for j, name in enumerate(self.feature_names)]
        columns.append((self.target_name, self.targets))
        return [
            {"name": name, "min": min(c), "max": max(c), "mean": math.fsum(c) / n}
            for name, c in columns
        ]


def pack(values: array) -> bytes:
    """float64 values as little-endian bytes."""
    if sys.byteorder == "big":
        values = array("d", values)
        values.byteswap()
    return values.tobytes()


def unpack(raw: bytes) -> array:
    """Little-endian float64 bytes as an array."""
    values = array("d")
    values.frombytes(raw)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def from_csv(raw: bytes, target: str | None, limits: Limits) -> Table:
    """A table from CSV bytes: a header row, then a sample per row; ``target`` names the target
    column (default the last)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError(f"the file is not UTF-8 text (byte {exc.start})") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next((row for row in reader if row), None)
        if header is None:
            raise TableError("the file is empty: send a header row, then one sample per row")
        names = [name.strip() for name in header]
        where = _target_index(names, target)
        rows = ((reader.line_num, row) for row in reader if row)
        return _table(names, where, rows, limits)
    except csv.Error as exc:
        raise TableError(f"not CSV: {exc}", reader.line_num) from exc


def from_json(
    inputs: Sequence[Sequence[float]],
    targets: Sequence[float | str],
    feature_names: Sequence[str] | None,
    target_name: str,
    limits: Limits,
) -> Table:
    """A table from a JSON upload's (already typed) inputs, targets and names."""
    if not inputs:
        raise TableError("inputs is empty: a dataset needs at least one sample")
    width = len(inputs[0])
    names = list(feature_names) if feature_names is not None else _default_names(width)
    if len(names) != width:
        raise TableError(f"feature_names has {len(names)} names for {width} inputs per sample")
    if len(targets) != len(inputs):
        raise TableError(f"targets has {len(targets)} targets for {len(inputs)} samples")
    rows = (
        (i + 1, [*map(_cell, row), _cell(t)])
        for i, (row, t) in enumerate(zip(inputs, targets, strict=True))
    )
    return _table([*names, target_name], width, rows, limits, line_word="sample")


def _cell(x: float | str) -> str:
    return x if isinstance(x, str) else repr(x)


def _default_names(width: int) -> list[str]:
    return [f"x{j + 1}" for j in range(width)]


def _target_index(names: list[str], target: str | None) -> int:
    if any(not name for name in names):
        column = names.index("") + 1
        raise TableError("a column has no name in the header", 1, str(column))
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise TableError("the header names this column twice", 1, repr(name))
        seen.add(name)
    if len(names) < 2:
        raise TableError("a dataset needs at least one feature column and a target column", 1)
    if target is None:
        return len(names) - 1
    if target not in names:
        raise TableError(f"no target column {target!r}; the header has {names}", 1)
    return names.index(target)


def _table(
    names: list[str],
    where: int,
    rows: Iterable[tuple[int, list[str]]],
    limits: Limits,
    line_word: str = "line",
) -> Table:
    if len(names) - 1 > limits.features:
        raise TooLarge(f"{len(names) - 1} features, over the limit of {limits.features}")
    if len(set(names)) != len(names):
        raise TableError("two columns have the same name")
    features = [name for j, name in enumerate(names) if j != where]
    inputs, cells = array("d"), list[tuple[int, str]]()
    for line, row in rows:
        at = f"{line_word} {line}"
        if len(cells) >= limits.rows:
            raise TooLarge(f"more than {limits.rows} rows, over the limit", line)
        if len(row) != len(names):
            raise TableError(f"{at}: {len(row)} cells, but the header has {len(names)}")
        for j, cell in enumerate(row):
            if j == where:
                cells.append((line, cell.strip()))
                continue
            inputs.append(_number(cell, at, names[j], j))
    if not cells:
        raise TableError("the file has a header but no rows: send one sample per row")
    targets, classes = _targets(cells, names[where], where, line_word)
    return Table(features, names[where], classes, inputs, targets)


def _number(cell: str, at: str, name: str, j: int) -> float:
    try:
        x = float(cell)
    except ValueError:
        raise TableError(f"{at}, column {j + 1} ({name!r}): {cell!r} is not a number") from None
    if not math.isfinite(x):
        raise TableError(f"{at}, column {j + 1} ({name!r}): {cell!r} is not a finite number")
    return x


def _targets(
    cells: list[tuple[int, str]], name: str, j: int, line_word: str
) -> tuple[array, list[str] | None]:
    # Numbers make a regression target; any cell that is no number makes every cell a class name.
    try:
        values = array("d", (float(cell) for _, cell in cells))
    except ValueError:
        values = None
    if values is not None:
        for (line, cell), x in zip(cells, values, strict=True):
            if not math.isfinite(x):
                at = f"{line_word} {line}, column {j + 1} ({name!r})"
                raise TableError(f"{at}: {cell!r} is not a finite number")
        return values, None
    for line, cell in cells:
        if not cell:
            raise TableError(f"{line_word} {line}, column {j + 1} ({name!r}): no class name")
    classes = sorted({cell for _, cell in cells})
    index = {c: float(i) for i, c in enumerate(classes)}
    return array("d", (index[cell] for _, cell in cells)), classes
