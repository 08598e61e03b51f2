"""The original notebook's own code, read from its seed file, to test and benchmark against.

The file is a notebook dump: "In [n]:" lines start code cells, and a cell's printed output follows
its code. A cell's code is taken as its longest prefix of lines that compiles.
"""

from __future__ import annotations

import math
import os
import random
import re
from pathlib import Path
from typing import Any

# tests/engine/notebook_seed.py -> the folder holding the clone, where shared/ lives beside it.
DEFAULT_PATH = Path(__file__).resolve().parents[3] / "shared/seed/000_354739346d99c6cf.txt"
PATH_VARIABLE = "GRADYARD_SEED_NOTEBOOK"


def seed_path() -> Path:
    """Where the notebook is: $GRADYARD_SEED_NOTEBOOK, else shared/seed beside the clone."""
    return Path(os.environ.get(PATH_VARIABLE) or DEFAULT_PATH)


def code_cells(path: Path | None = None) -> list[str]:
    """The code of every cell, without the outputs printed after it."""
    path = path or seed_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"the seed notebook is missing: {path} (set {PATH_VARIABLE} to its path)"
        )
    chunks = re.split(r"^In \[\d+\]:[ \t]*$", path.read_text(), flags=re.MULTILINE)[1:]
    return [_code(chunk) for chunk in chunks]


def cell(cells: list[str], marker: str) -> str:
    """The one cell whose code contains marker."""
    found = [c for c in cells if marker in c]
    if len(found) != 1:
        raise LookupError(f"expected one notebook cell containing {marker!r}, found {len(found)}")
    return found[0]


def load() -> dict[str, Any]:
    """A namespace holding the notebook's Value, Neuron, Layer and MLP classes."""
    cells = code_cells()
    namespace: dict[str, Any] = {"math": math, "random": random}
    exec(cell(cells, "class Value"), namespace)
    exec(cell(cells, "class MLP"), namespace)
    return namespace


def notebook_losses(seed: int) -> list[float]:
    """The losses the notebook's own training loop prints after random.seed(seed)."""
    cells = code_cells()
    namespace = load()
    losses: list[float] = []
    namespace["print"] = lambda k, loss: losses.append(loss)
    saved = random.getstate()  # the notebook draws from the global RNG; leave it as found
    try:
        random.seed(seed)
        exec(cell(cells, "mlp = MLP("), namespace)
        exec(cell(cells, "xs = ["), namespace)
        exec(cell(cells, "for k in range("), namespace)
    finally:
        random.setstate(saved)
    return losses


def _code(chunk: str) -> str:
    lines = chunk.strip("\n").splitlines()
    for n in range(len(lines), 0, -1):
        source = "\n".join(lines[:n])
        try:
            compile(source, "<notebook>", "exec")
        except SyntaxError:
            continue
        return source
    return ""
