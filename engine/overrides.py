"""Dotted paths into a job spec's JSON: what a re-run overrides and what a sweep's trial sets.

``training.learning_rate`` names a field, ``model.layers.0`` an item of a list. Only paths the
spec already has can be set: a stored spec is normalised (every field is there), so a path that
is missing is a typo, not a new field.
"""

import copy
from typing import Any


class MissingPath(LookupError):
    """A dotted path that the spec does not have."""

    def __init__(self, path: str) -> None:
        super().__init__(f"the job's spec has no field {path!r}")
        self.path = path


def apply_overrides(spec: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``spec`` with each dotted path set to its value (a list index is a number)."""
    result = copy.deepcopy(spec)
    for path, value in overrides.items():
        *parents, last = path.split(".")
        node: Any = result
        for part in parents:
            node = _child(node, part, path)
        _child(node, last, path)  # the field itself must exist too
        if isinstance(node, list):
            node[int(last)] = copy.deepcopy(value)
        else:
            node[last] = copy.deepcopy(value)
    return result


def _child(node: Any, part: str, path: str) -> Any:
    # node's member `part`, or MissingPath for the whole path.
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and part.isdecimal() and int(part) < len(node):
        return node[int(part)]
    raise MissingPath(path)
