"""Value: the notebook's two tests against PyTorch, and every numerical edge."""

import math
import random
import warnings

import pytest

from engine import NonFiniteError, Value
from engine.backprop import topological_order
from engine.value import total

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch warns that numpy is absent; it needs none here
    import torch


def test_sanity_check():
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xmg, ymg = x, y

    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xpt, ypt = x, y

    assert ymg.data == ypt.data.item()
    assert xmg.grad == xpt.grad.item()


def test_more_ops():
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    amg, bmg, gmg = a, b, g

    a = torch.Tensor([-4.0]).double()
    b = torch.Tensor([2.0]).double()
    a.requires_grad = True
    b.requires_grad = True
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    apt, bpt, gpt = a, b, g

    tol = 1e-6
    assert abs(gmg.data - gpt.data.item()) < tol
    assert abs(amg.grad - apt.grad.item()) < tol
    assert abs(bmg.grad - bpt.grad.item()) < tol


def test_reflected_ops_are_what_they_say():
    v = Value(5.0)
    cases = [(2 - v, -3.0, -1.0), (2 + v, 7.0, 1.0), (2 * v, 10.0, 2.0), (2 / v, 0.4, -0.08)]
    cases += [(v - 2, 3.0, 1.0), (v / 2, 2.5, 0.5), (-v, -5.0, -1.0)]
    for out, data, grad in cases:
        v.grad = 0.0
        out.backward()
        assert out.data == pytest.approx(data) and v.grad == pytest.approx(grad)
    v.grad = 0.0
    out = 2**v
    out.backward()
    assert out.data == 32.0 and v.grad == pytest.approx(32.0 * math.log(2.0))


def test_value_pow_value_matches_torch():
    a, b = Value(1.7), Value(-0.6)
    out = a**b
    out.backward()
    ta = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(-0.6, dtype=torch.float64, requires_grad=True)
    tout = ta**tb
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-15)
    assert a.grad == pytest.approx(ta.grad.item(), rel=1e-14)
    assert b.grad == pytest.approx(tb.grad.item(), rel=1e-14)


def test_zero_base_powers_have_their_limits():
    x, y = Value(0.0), Value(2.0)
    out = x**y
    out.backward()
    assert (out.data, x.grad, y.grad) == (0.0, 0.0, 0.0)
    x = Value(0.0)
    (x**0).backward()
    assert x.grad == 0.0
    with pytest.raises(NonFiniteError, match="derivative"):
        Value(0.0) ** 0.5


def test_saturating_activations_stay_finite():
    for x, t, s in [(1000.0, 1.0, 1.0), (-1000.0, -1.0, 0.0), (40.0, 1.0, 1.0)]:
        a, b = Value(x), Value(x)
        th, sg = a.tanh(), b.sigmoid()
        th.backward()
        sg.backward()
        assert (th.data, sg.data) == (t, s)
        assert math.isfinite(a.grad) and math.isfinite(b.grad)
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(0.0).sigmoid().data == 0.5


def test_relu_gradient_at_zero_is_zero_as_in_torch():
    x = Value(0.0)
    x.relu().backward()
    assert x.grad == 0.0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Value(1000.0).exp(), r"exp\(1000.0\) has no finite result"),
        (lambda: Value(0.0).log(), r"log\(0.0\) has no finite result"),
        (lambda: Value(-1.0).log(), r"log\(-1.0\)"),
        (lambda: Value(0.0) ** -1, r"pow\(0.0, -1.0\)"),
        (lambda: 1 / Value(0.0), r"div\(1.0, 0.0\)"),
        (lambda: Value(3.0) / Value(0.0), r"div\(3.0, 0.0\)"),
        (lambda: Value(3.0) / 0, r"div\(3.0, 0.0\)"),
        (lambda: Value(-8.0) ** (1 / 3), r"pow\(-8.0, 0.333"),
        (lambda: Value(1e308) * 10, r"mul\(1e\+308, 10.0\)"),
        (lambda: Value(1e308) + Value(1e308), r"add\(1e\+308, 1e\+308\)"),
        (lambda: Value(10.0) ** 400, r"pow\(10.0, 400.0\)"),
        (lambda: Value(-2.0) ** Value(2.0), r"pow\(-2.0, 2.0\) needs a positive base"),
        (lambda: Value(1e-320) / Value(1e-310), r"div\(1e-320, 1e-310\) has no finite deriv"),
        (lambda: Value(float("inf")), r"Value\(inf\)"),
        (lambda: Value(float("nan")), r"Value\(nan\)"),
        (lambda: total([Value(1e308), 1e308]), r"sum: 1 terms overflowed to inf"),
    ],
)
def test_non_finite_results_raise_naming_op_and_input(make, message):
    with pytest.raises(NonFiniteError, match=message) as info:
        make()
    assert isinstance(info.value, ArithmeticError)


def test_data_is_always_float():
    v = Value(3)
    assert type(v.data) is float
    for out in [v + 1, 1 + v, v * 2, v - 1, 1 - v, v**2, v / 3, 2**v, -v, total([v, 2])]:
        assert type(out.data) is float
    with pytest.raises(TypeError):
        Value("3")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        v + "3"  # type: ignore[operator]


def test_backward_twice_accumulates_into_leaves_only():
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1 = 7
    mid = y._children[0]
    y.backward()
    assert (x.grad, y.grad, mid.grad) == (7.0, 1.0, 1.0)
    y.backward()
    # Leaves add d(root)/d(leaf) again, like PyTorch's .grad; inner nodes are recomputed.
    assert (x.grad, y.grad, mid.grad) == (14.0, 1.0, 1.0)
    x.grad = 0.0
    y.backward()
    assert x.grad == 7.0


def test_backward_with_a_recorded_order_equals_the_sort():
    x, w = Value(0.5), Value(-1.5)
    h = (x * w).tanh()
    y = h * h + h.exp()
    order = topological_order(y)
    assert order[-1] is y and x not in order and w not in order
    y.backward()
    grads = (x.grad, w.grad)
    x.grad = w.grad = 0.0
    y.backward(order)
    assert (x.grad, w.grad) == grads


def test_a_leaf_root_gets_grad_one():
    x = Value(2.0)
    x.backward()
    assert x.grad == 1.0


def test_total_is_one_node_with_constants_folded():
    a, b = Value(1.0), Value(2.0)
    s = total([a, 3, b, a])
    assert s.data == 7.0 and len(s._children) == 3
    s.backward()
    assert (a.grad, b.grad) == (2.0, 1.0)


def test_constants_get_no_node():
    v = Value(2.0)
    assert (v * 3.0)._children == (v,)
    assert (3.0 - v)._children == (v,)


def test_a_chain_of_a_million_nodes_backpropagates():
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    y.backward()
    assert y.data == 1_000_001.0 and x.grad == 1.0


def test_identical_runs_are_bitwise_identical():
    def run():
        xs = [Value(0.1 * i - 0.7) for i in range(15)]
        y = total(x.tanh() * x.sigmoid() + (x * x + 1).log() for x in xs)
        y = y * y / (y + 3.0)
        y.backward()
        return [y.data, *(x.grad for x in xs)]

    assert run() == run()


def test_topological_order_puts_children_first_in_any_dag():
    rng = random.Random(4)
    for _ in range(200):
        nodes = [Value(rng.uniform(-1, 1)) for _ in range(3)]
        for _ in range(rng.randint(1, 30)):
            picks = [rng.choice(nodes) for _ in range(rng.randint(1, 3))]
            nodes.append(total(picks) * 1.0)
        root = nodes[-1]
        order = topological_order(root)
        position = {id(v): i for i, v in enumerate(order)}
        assert len(position) == len(order) and order[-1] is root
        for v in order:
            assert all(position[id(c)] < position[id(v)] for c in v._children if c._children)
        leaves = nodes[:3]
        root.backward(order)
        grads = [v.grad for v in leaves]
        for v in leaves:
            v.grad = 0.0
        root.backward()
        assert [v.grad for v in leaves] == grads
