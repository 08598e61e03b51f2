"""Random expressions from every op: value and gradients against PyTorch and finite differences."""

import math
import warnings

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine import NonFiniteError, Value

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch warns that numpy is absent; it needs none here
    import torch

# Ops on graph values: the same code runs on our Value and on torch tensors.
UNARY = {
    "neg": lambda a: -a,
    "tanh": lambda a: a.tanh(),
    "exp": lambda a: a.exp(),
    "relu": lambda a: a.relu(),
    "sigmoid": lambda a: a.sigmoid(),
    "log": lambda a: a.log(),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}
# Ops with a plain-number constant c, on either side.
WITH_CONSTANT = {
    "add_c": lambda a, c: a + c,
    "c_add": lambda a, c: c + a,
    "sub_c": lambda a, c: a - c,
    "c_sub": lambda a, c: c - a,
    "mul_c": lambda a, c: a * c,
    "c_mul": lambda a, c: c * a,
    "div_c": lambda a, c: a / c,
    "c_div": lambda a, c: c / a,
    "pow_c": lambda a, c: a**c,
    "c_pow": lambda a, c: c**a,
}
CONSTANTS = {
    "pow_c": st.sampled_from([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 0.5, 1.5, -0.5]),
    "c_pow": st.sampled_from([0.5, 2.0, 3.0]),
}
NVARS = 3


def _extend(sub):
    return st.one_of(
        st.tuples(st.sampled_from(sorted(UNARY)), sub),
        st.tuples(st.sampled_from(sorted(BINARY)), sub, sub),
        *(
            st.tuples(st.just(op), CONSTANTS.get(op, st.sampled_from([-2.5, -1.0, 0.5, 3.0])), sub)
            for op in sorted(WITH_CONSTANT)
        ),
    )


trees = st.recursive(st.integers(0, NVARS - 1), _extend, max_leaves=6)
points = st.lists(st.floats(-2.0, 2.0), min_size=NVARS, max_size=NVARS)
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


class Watch:
    """The largest magnitude seen, and how close any op came to a kink or singularity."""

    def __init__(self):
        self.largest = 0.0
        self.gap = math.inf

    def near(self, x):
        self.gap = min(self.gap, abs(x))


def evaluate(tree, xs, watch=None):
    """The tree's value with variables xs (Values or tensors), watching ours for hazards."""
    if isinstance(tree, int):
        return xs[tree]
    op, *args = tree
    if op in UNARY:
        a = evaluate(args[0], xs, watch)
        out = UNARY[op](a)
        if watch is not None and op in ("relu", "log"):
            watch.near(a.data)
    elif op in BINARY:
        a, b = evaluate(args[0], xs, watch), evaluate(args[1], xs, watch)
        out = BINARY[op](a, b)
        if watch is not None and op in ("div", "pow"):
            watch.near(b.data if op == "div" else a.data)
    else:
        c, a = args
        out = WITH_CONSTANT[op](evaluate(a, xs, watch), c)
        if watch is not None and op in ("c_div", "pow_c"):
            watch.near(evaluate(a, xs).data)
    if watch is not None:
        watch.largest = max(watch.largest, abs(out.data))
    return out


def ours(tree, point):
    """Value, gradients and the watch of our engine, or a rejected example."""
    xs = [Value(x) for x in point]
    watch = Watch()
    try:
        out = evaluate(tree, xs, watch)
    except NonFiniteError:
        assume(False)
    assume(watch.largest < 1e4)
    out.backward()
    return out.data, [x.grad for x in xs], watch


@PROPERTY
@given(trees, points)
def test_random_expressions_match_torch(tree, point):
    data, grads, watch = ours(tree, point)
    xs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]
    out = evaluate(tree, xs)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return  # the expression is a variable-free constant
    out.backward()
    scale = 1.0 + watch.largest
    assert math.isclose(data, out.item(), rel_tol=1e-9, abs_tol=1e-12 * scale)
    for g, x in zip(grads, xs, strict=True):
        expected = 0.0 if x.grad is None else x.grad.item()
        assert math.isclose(g, expected, rel_tol=1e-8, abs_tol=1e-10 * scale * (1 + abs(g)))


@PROPERTY
@given(trees, points)
def test_random_expressions_match_finite_differences(tree, point):
    _, grads, watch = ours(tree, point)
    assume(watch.gap > 1e-2)  # keep the differences away from kinks and poles
    for i, g in enumerate(grads):
        h = 1e-6 * max(1.0, abs(point[i]))
        up, down = list(point), list(point)
        up[i] += h
        down[i] -= h
        try:
            f_up = evaluate(tree, [Value(x) for x in up]).data
            f_down = evaluate(tree, [Value(x) for x in down]).data
        except NonFiniteError:
            assume(False)
        fd = (f_up - f_down) / (2 * h)
        assert fd == pytest.approx(g, rel=1e-4, abs=1e-5 * (1.0 + watch.largest))


@pytest.mark.parametrize("op", sorted(UNARY) + sorted(BINARY) + sorted(WITH_CONSTANT))
def test_every_op_matches_torch_at_a_fixed_point(op):
    point, c = (0.7, 1.3), 2.0
    for x in (Value, lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True)):
        a, b = x(point[0]), x(point[1])
        if op in UNARY:
            out = UNARY[op](a)
        elif op in BINARY:
            out = BINARY[op](a, b)
        else:
            out = WITH_CONSTANT[op](a, c)
        out.backward()
        if isinstance(a, Value):
            mine = (out.data, a.grad, b.grad)
        else:
            theirs = (out.item(), a.grad.item(), 0.0 if b.grad is None else b.grad.item())
    assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-15)
