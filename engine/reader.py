"""Reading parsed JSON into frozen dataclasses by their type hints and their fields' metadata.

One generic walk instead of a hand-written parser per section. The constraints it applies are the
ones in each field's metadata, in pydantic Field's keywords (ge, gt, le, lt, min_length,
max_length), so the API, which validates with pydantic over the very same dataclasses, applies the
very same rules. Two markers carry what field metadata cannot: `Each` (constraints on every item of
a tuple) and `Tagged` (a union of dataclasses told apart by one Literal field). Pydantic reads both
through its `__get_pydantic_core_schema__` hook, which needs no import of pydantic here.

Both readers refuse unknown fields, never coerce (no "1" for 1, no true for 1, no 2.0 for 2) and
take only finite floats; paths are dotted like pydantic's ("data.targets.0").
"""

from __future__ import annotations

import math
import operator
import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass
from functools import cache, cached_property
from typing import (
    Annotated,
    Any,
    Literal,
    TypeGuard,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from engine.errors import SpecError

T = TypeVar("T")
_NUMBER = (int, float)  # exactly: a bool is an int, and no number
_LIST = (list, tuple)
# The pydantic config (a class's __pydantic_config__) under which the API reads as read() does:
# unknown fields are errors, nothing is coerced, floats are finite.
PYDANTIC_CONFIG = {"extra": "forbid", "strict": True, "allow_inf_nan": False}
_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "ge": operator.ge,
    "gt": operator.gt,
    "le": operator.le,
    "lt": operator.lt,
}


@dataclass(frozen=True)
class Each:
    """Constraints on every item of a tuple, in the keywords field metadata uses."""

    ge: int | None = None
    gt: int | None = None
    le: int | None = None
    lt: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    fail_fast: bool | None = None  # pydantic's: stop at the first bad item

    @cached_property  # read once per item of a tuple: a spec's samples are many
    def constraints(self) -> dict[str, int | bool]:
        """The constraints that are set."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not None}

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        """Pydantic's hook: its core schemas of numbers and tuples take these very keywords."""
        return {**handler(source), **self.constraints}


@dataclass(frozen=True)
class Tagged:
    """A union of dataclasses told apart by one field (the tag), a Literal of one name in each."""

    tag: str

    def members(self, union: Any) -> dict[str, type]:
        """Each dataclass of the union by the name its tag field holds."""
        return {get_args(_hints(cls)[self.tag])[0]: cls for cls in get_args(union)}

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        """Pydantic's hook: a tagged union, which its JSON Schema shows with a discriminator."""
        choices = {name: handler.generate_schema(cls) for name, cls in self.members(source).items()}
        return {"type": "tagged-union", "choices": choices, "discriminator": self.tag}


def read(cls: type[T], raw: Any, path: str = "") -> T:
    """Read ``raw`` (parsed JSON) into the dataclass ``cls``; SpecError names the field at fault."""
    value: T = _dataclass(cls, raw, path)
    return value


def plain(value: Any) -> Any:
    """A dataclass as JSON: dicts in field order and lists; a class's own to_dict() wins."""
    if is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return value.to_dict()
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [plain(x) for x in value]
    return value


def _read(hint: Any, raw: Any, path: str, rules: Mapping[str, Any]) -> Any:
    origin = get_origin(hint)
    if origin is Annotated:
        base, *extras = get_args(hint)
        for extra in extras:
            if isinstance(extra, Tagged):
                return _tagged(base, extra, raw, path)
            if isinstance(extra, Each):
                rules = {**rules, **extra.constraints}
        return _read(base, raw, path, rules)
    if origin is Union or origin is types.UnionType:
        return _union(get_args(hint), raw, path, rules)
    if origin is Literal:
        if isinstance(raw, str) and raw in get_args(hint):
            return raw
        choices = list(get_args(hint))
        raise SpecError(f"{_where(path)} must be one of {choices}, got {_shown(raw)}", path)
    if origin is tuple:
        return _tuple(get_args(hint)[0], raw, path, rules)
    if is_dataclass(hint):
        return _dataclass(hint, raw, path)
    if hint is int or hint is float:
        return _number(hint, raw, path, rules)
    if hint is bool:
        if isinstance(raw, bool):
            return raw
        raise SpecError(f"{_where(path)} must be true or false, got {_shown(raw)}", path)
    if hint is str:
        return _string(raw, path, rules)
    raise TypeError(f"engine.reader has no reading for {hint!r}")


def _dataclass(cls: Any, raw: Any, path: str) -> Any:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{_where(path)} must be an object, got {_shown(raw)}", _where(path))
    names = [f.name for f in fields(cls)]
    for key in raw:
        if key not in names:
            message = f"{_where(path)}: unknown field {key!r}; expected one of {names}"
            raise SpecError(message, _join(path, str(key)))
    hints = _hints(cls)
    values = {}
    for f in fields(cls):
        where = _join(path, f.name)
        if f.name in raw:
            values[f.name] = _read(hints[f.name], raw[f.name], where, f.metadata)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise SpecError(f"{where} is required", where)
    return cls(**values)


def _tagged(union: Any, tagged: Tagged, raw: Any, path: str) -> Any:
    members = tagged.members(union)
    if not isinstance(raw, Mapping):
        raise SpecError(f"{_where(path)} must be an object, got {_shown(raw)}", path)
    name, where = raw.get(tagged.tag), _join(path, tagged.tag)
    if not isinstance(name, str) or name not in members:
        raise SpecError(f"{where} must be one of {list(members)}, got {_shown(name)}", where)
    return _dataclass(members[name], raw, path)


def _union(members: tuple[Any, ...], raw: Any, path: str, rules: Mapping[str, Any]) -> Any:
    if raw is None and type(None) in members:
        return None
    members = tuple(m for m in members if m is not type(None))
    shapes = {m: [f.name for f in fields(m)] for m in members if _is_dataclass(m)}
    if isinstance(raw, Mapping) and shapes:
        # An object is read as the dataclass whose fields it uses, so errors are about that one.
        members = tuple(m for m in members if m not in shapes or set(raw) <= set(shapes[m]))
        if not members:
            kinds = " or ".join(f"{m.__name__} {names}" for m, names in shapes.items())
            message = f"{_where(path)} takes the fields of {kinds}, got {sorted(raw)}"
            raise SpecError(message, path)
    errors = []
    for member in members:
        try:
            return _read(member, raw, path, rules)
        except SpecError as exc:
            errors.append(exc)
    # The error of the reading that got furthest into the value is the one that helps.
    raise max(errors, key=lambda exc: exc.field.count("."))


def _tuple(item: Any, raw: Any, path: str, rules: Mapping[str, Any]) -> tuple[Any, ...]:
    low, high = rules.get("min_length", 0), rules.get("max_length")
    if not isinstance(raw, list | tuple) or not low <= len(raw) <= (high or len(raw)):
        size = f" of {low} to {high} items" if high is not None else ""
        kind = "a non-empty list" if low == 1 and not size else f"a list{size}"
        raise SpecError(f"{_where(path)} must be {kind}, got {_shown(raw)}", path)
    numbers = _numbers(item, raw)
    if numbers is not None:
        return numbers
    return tuple(_read(item, x, f"{path}.{i}", {}) for i, x in enumerate(raw))


def _numbers(item: Any, raw: list[Any] | tuple[Any, ...]) -> tuple[Any, ...] | None:
    # The bulk of a spec is its samples: floats, or rows of them, checked in one pass. None if
    # one is wrong, for the item by item reading to name it.
    row = _row_lengths(item)
    try:
        if item is float and all(type(x) in _NUMBER and math.isfinite(x) for x in raw):
            return tuple(map(float, raw))
        if row is not None and all(
            type(r) in _LIST
            and row[0] <= len(r) <= row[1]
            and all(type(x) in _NUMBER and math.isfinite(x) for x in r)
            for r in raw
        ):
            return tuple(tuple(map(float, r)) for r in raw)
    except OverflowError:  # an int too large for a float
        pass
    return None


@cache
def _row_lengths(hint: Any) -> tuple[int, float] | None:
    # For a (constrained) tuple of floats, its least and greatest length; else None.
    rules: dict[str, Any] = {}
    if get_origin(hint) is Annotated:
        hint, *extras = get_args(hint)
        rules = {k: v for e in extras if isinstance(e, Each) for k, v in e.constraints.items()}
    if get_origin(hint) is not tuple or get_args(hint)[0] is not float:
        return None
    return rules.get("min_length", 0), rules.get("max_length", math.inf)


def _number(kind: type, raw: Any, path: str, rules: Mapping[str, Any]) -> int | float:
    integer = kind is int
    ok = isinstance(raw, int) if integer else isinstance(raw, int | float) and _finite(raw)
    if ok and not isinstance(raw, bool) and _within(raw, rules):
        return raw if integer else float(raw)
    what = "an integer" if integer else "a finite number"
    raise SpecError(f"{_where(path)} must be {what}{_rule(rules)}, got {_shown(raw)}", path)


def _string(raw: Any, path: str, rules: Mapping[str, Any]) -> str:
    low, high = rules.get("min_length", 0), rules.get("max_length")
    if isinstance(raw, str) and len(raw) >= low and (high is None or len(raw) <= high):
        return raw
    size = f"{low} to {high}" if high is not None else f"at least {low}"
    raise SpecError(f"{_where(path)} must be a string of {size} characters", path)


def _finite(x: float) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:  # an int too large for a float
        return False


def _within(x: float, rules: Mapping[str, Any]) -> bool:
    return all(test(x, rules[key]) for key, test in _BOUNDS.items() if key in rules)


def _rule(rules: Mapping[str, Any]) -> str:
    # ">= 0", "> 0", or an interval: "in [0, 1)".
    bounds = [key for key in _BOUNDS if key in rules]
    if len(bounds) == 2:
        low, high = bounds
        left, right = "[" if low == "ge" else "(", "]" if high == "le" else ")"
        return f" in {left}{rules[low]}, {rules[high]}{right}"
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return "".join(f" {signs[key]} {rules[key]}" for key in bounds)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls, include_extras=True)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _where(path: str) -> str:
    return path or "spec"


def _shown(raw: Any) -> str:
    # Values as short as an error message wants them: a list of samples is not repeated back.
    if isinstance(raw, list | tuple):
        return f"a list of {len(raw)} items"
    if isinstance(raw, Mapping):
        return "an object"
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_dataclass(hint: Any) -> TypeGuard[type]:
    return isinstance(hint, type) and is_dataclass(hint)
