"""Value: a scalar node of the computation graph, and its ops with their local derivatives.

A node keeps its children in order (so two runs add gradients in the same order and agree to the
bit) and, instead of a closure, the local gradients d(node)/d(child) = `_scale * _local[i]` as
plain floats. Fused nodes (a neuron, a loss, a long sum) put the factor their children share, such
as the activation's derivative, in `_scale`. Without closures a graph has no reference cycles, so
it is freed as soon as it is unused instead of waiting for the garbage collector.

Constants (plain ints and floats) never become nodes: `v * 2.0` is one node with one child.
Every result, and every local gradient, is a finite float: an op that would leave the finite
floats raises NonFiniteError. backward() is in engine.backprop.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

from engine import activations
from engine.backprop import backpropagate
from engine.errors import NonFiniteError

_new = object.__new__
_isfinite = math.isfinite


class Value:
    """A scalar in the graph: its data, grad = d(root)/d(self) after backward(), its children."""

    __slots__ = ("_children", "_local", "_op", "_scale", "data", "grad")

    data: float
    grad: float
    _children: tuple[Value, ...]
    _local: tuple[float, ...]
    _scale: float
    _op: str

    def __init__(self, data: float) -> None:
        x = _number(data)
        if x is None:
            raise TypeError(f"Value needs a real number, not {type(data).__name__}")
        if not _isfinite(x):
            raise NonFiniteError("Value", (x,))
        self.data = x
        self.grad = 0.0
        self._children = ()
        self._local = ()
        self._scale = 1.0
        self._op = ""

    def __repr__(self) -> str:
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    def renew(self, data: float, local: tuple[float, ...], scale: float = 1.0) -> None:
        """Give a node made by ``node()`` new numbers over the same children (a reused graph)."""
        self.data = data
        self._local = local
        self._scale = scale

    def __add__(self, other: Value | float) -> Value:
        # d(a + b)/da = d(a + b)/db = 1
        if isinstance(other, Value):
            return _binary("add", self, other, self.data + other.data, 1.0, 1.0)
        c = _number(other)
        if c is None:
            return NotImplemented
        return _unary("add", self, self.data + c, 1.0, (self.data, c))

    def __radd__(self, other: float) -> Value:
        return self.__add__(other)

    def __sub__(self, other: Value | float) -> Value:
        # d(a - b)/da = 1, d(a - b)/db = -1
        if isinstance(other, Value):
            return _binary("sub", self, other, self.data - other.data, 1.0, -1.0)
        c = _number(other)
        if c is None:
            return NotImplemented
        return _unary("sub", self, self.data - c, 1.0, (self.data, c))

    def __rsub__(self, other: float) -> Value:
        # c - a: d/da = -1
        c = _number(other)
        if c is None:
            return NotImplemented
        return _unary("sub", self, c - self.data, -1.0, (c, self.data))

    def __mul__(self, other: Value | float) -> Value:
        # d(a b)/da = b, d(a b)/db = a
        if isinstance(other, Value):
            return _binary("mul", self, other, self.data * other.data, other.data, self.data)
        c = _number(other)
        if c is None:
            return NotImplemented
        return _unary("mul", self, self.data * c, c, (self.data, c))

    def __rmul__(self, other: float) -> Value:
        return self.__mul__(other)

    def __truediv__(self, other: Value | float) -> Value:
        # d(a / b)/da = 1/b, d(a / b)/db = -a/b**2 = -(a/b)/b
        a = self.data
        if isinstance(other, Value):
            b = other.data
            if b == 0.0:
                raise NonFiniteError("div", (a, b))
            out = a / b
            return _binary("div", self, other, out, 1.0 / b, -out / b)
        c = _number(other)
        if c is None:
            return NotImplemented
        if c == 0.0:
            raise NonFiniteError("div", (a, c))
        return _unary("div", self, a / c, 1.0 / c, (a, c))

    def __rtruediv__(self, other: float) -> Value:
        # c / a: d/da = -c/a**2 = -(c/a)/a
        c = _number(other)
        if c is None:
            return NotImplemented
        a = self.data
        if a == 0.0:
            raise NonFiniteError("div", (c, a))
        out = c / a
        return _unary("div", self, out, -out / a, (c, a))

    def __pow__(self, other: Value | float) -> Value:
        if isinstance(other, Value):
            return _pow_values(self, other)
        k = _number(other)
        if k is None:
            return NotImplemented
        a = self.data
        out = _pow(a, k, "pow")
        # d a**k/da = k a**(k-1); a constant power (k = 0) has derivative 0 even at a = 0.
        d = k * _pow(a, k - 1.0, "pow", "has no finite derivative", (a, k)) if k else 0.0
        return _unary("pow", self, out, d, (a, k))

    def __rpow__(self, other: float) -> Value:
        # c**a: d/da = c**a ln(c), defined for c > 0 (and c = 0 with a > 0, where it tends to 0)
        c = _number(other)
        if c is None:
            return NotImplemented
        a = self.data
        if c > 0.0:
            out = _pow(c, a, "pow")
            return _unary("pow", self, out, out * math.log(c), (c, a))
        if c == 0.0 and a > 0.0:
            return _unary("pow", self, 0.0, 0.0, (c, a))
        raise NonFiniteError("pow", (c, a), "needs a positive base to be differentiable")

    def __neg__(self) -> Value:
        # d(-a)/da = -1
        return _unary("neg", self, -self.data, -1.0, (self.data,))

    def tanh(self) -> Value:
        """Hyperbolic tangent; saturates to +-1.0 for large inputs."""
        out, d = activations.tanh(self.data)
        return _unary("tanh", self, out, d, (self.data,))

    def sigmoid(self) -> Value:
        """Logistic function 1/(1 + e^-x); saturates to 0.0 or 1.0 for large inputs."""
        out, d = activations.sigmoid(self.data)
        return _unary("sigmoid", self, out, d, (self.data,))

    def relu(self) -> Value:
        """max(0, x), with derivative 0 at x = 0."""
        out, d = activations.relu(self.data)
        return _unary("relu", self, out, d, (self.data,))

    def exp(self) -> Value:
        """e**x; raises NonFiniteError when it overflows."""
        try:
            out = math.exp(self.data)
        except OverflowError:
            raise NonFiniteError("exp", (self.data,)) from None
        return _unary("exp", self, out, out, (self.data,))  # d e**x/dx = e**x

    def log(self) -> Value:
        """Natural logarithm; raises NonFiniteError for x <= 0."""
        a = self.data
        if a <= 0.0:
            raise NonFiniteError("log", (a,))
        return _unary("log", self, math.log(a), 1.0 / a, (a,))  # d ln(x)/dx = 1/x

    def backward(self, order: Sequence[Value] | None = None) -> None:
        """Set grad to d(self)/d(node) on every node below; leaves accumulate (see backprop)."""
        backpropagate(self, order)


def node(
    data: float,
    children: tuple[Value, ...],
    local: tuple[float, ...],
    op: str,
    scale: float = 1.0,
) -> Value:
    """Make a non-leaf node whose local gradients are d(data)/d(children[i]) = scale * local[i]."""
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v._children = children
    v._local = local
    v._scale = scale
    v._op = op
    return v


def total(terms: Iterable[Value | float]) -> Value:
    """Sum many terms as one node, left to right; constants add to the data but not the graph."""
    s = 0.0
    children = []
    for t in terms:
        if isinstance(t, Value):
            s += t.data
            children.append(t)
        else:
            c = _number(t)
            if c is None:
                raise TypeError(f"cannot sum a {type(t).__name__}")
            s += c
    if not _isfinite(s):
        raise NonFiniteError("sum", (), f"{len(children)} terms overflowed to {s}")
    return node(s, tuple(children), (1.0,) * len(children), "sum")


def _number(x: object) -> float | None:
    """x as a float if it is a real number, else None (so the op returns NotImplemented)."""
    if type(x) is float:
        return x
    if isinstance(x, numbers.Real):
        try:
            return float(x)
        except OverflowError:  # an int too large for a float
            raise NonFiniteError("float", (), f"{x} is too large for a float") from None
    return None


def _unary(op: str, a: Value, out: float, d: float, inputs: tuple[float, ...]) -> Value:
    if not _isfinite(out):
        raise NonFiniteError(op, inputs)
    if not _isfinite(d):
        raise NonFiniteError(op, inputs, "has no finite derivative")
    return node(out, (a,), (d,), op)


def _binary(op: str, a: Value, b: Value, out: float, da: float, db: float) -> Value:
    if not _isfinite(out):
        raise NonFiniteError(op, (a.data, b.data))
    if not (_isfinite(da) and _isfinite(db)):
        raise NonFiniteError(op, (a.data, b.data), "has no finite derivative")
    return node(out, (a, b), (da, db), op)


def _pow(
    x: float,
    y: float,
    op: str,
    why: str = "has no finite result",
    inputs: tuple[float, ...] | None = None,
) -> float:
    # math.pow, unlike **, raises instead of returning a complex number for (-8) ** (1/3).
    try:
        out = math.pow(x, y)
    except (ValueError, OverflowError, ZeroDivisionError):
        raise NonFiniteError(op, inputs or (x, y), why) from None
    if not _isfinite(out):
        raise NonFiniteError(op, inputs or (x, y), why)
    return out


def _pow_values(a: Value, b: Value) -> Value:
    # d a**b/da = b a**(b-1), d a**b/db = a**b ln(a): real only for a > 0, or a = 0 with b > 0
    # (where a**b ln(a) tends to 0).
    x, y = a.data, b.data
    if x > 0.0:
        out = _pow(x, y, "pow")
        da = y * _pow(x, y - 1.0, "pow", "has no finite derivative", (x, y))
        return _binary("pow", a, b, out, da, out * math.log(x))
    if x == 0.0 and y > 0.0:
        da = y * _pow(x, y - 1.0, "pow", "has no finite derivative", (x, y))
        return _binary("pow", a, b, 0.0, da, 0.0)
    raise NonFiniteError("pow", (x, y), "needs a positive base to be differentiable")
