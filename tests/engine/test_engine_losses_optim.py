"""Losses and the L2 penalty against PyTorch; optimizers against torch.optim; schedules; state."""

import json
import math
import random
import warnings

import pytest

from engine import SpecError, Value
from engine.losses import LOSSES, correct, l2_penalty
from engine.optim import SCHEDULES, SGD, Adam, Momentum

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch warns that numpy is absent; it needs none here
    import torch
    import torch.nn.functional as F

TORCH_LOSSES = {
    "sum_squared": lambda y, t: ((y - t) ** 2).sum(),
    "mean_squared": lambda y, t: ((y - t) ** 2).mean(),
    "hinge": lambda y, t: torch.relu(1 - t * y).mean(),
    "binary_cross_entropy": F.binary_cross_entropy_with_logits,
    "cross_entropy": lambda z, t: F.cross_entropy(z, t[:, 0].long()),
}


def _targets(loss, rng, shape):
    if loss == "hinge":
        return [[rng.choice([-1.0, 1.0]) for _ in range(shape[1])] for _ in range(shape[0])]
    if loss == "binary_cross_entropy":
        return [[rng.choice([0.0, 1.0]) for _ in range(shape[1])] for _ in range(shape[0])]
    if loss == "cross_entropy":  # one label per sample, 0 to k - 1
        return [[float(rng.randrange(shape[1]))] for _ in range(shape[0])]
    return [[rng.uniform(-2, 2) for _ in range(shape[1])] for _ in range(shape[0])]


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("shape", [(5, 1), (4, 3)])
def test_losses_match_torch(loss, shape):
    rng = random.Random(loss + str(shape))
    data = [[rng.uniform(-3, 3) for _ in range(shape[1])] for _ in range(shape[0])]
    targets = _targets(loss, rng, shape)
    outputs = [[Value(y) for y in row] for row in data]
    out = LOSSES[loss](outputs, targets)
    out.backward()
    y = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    expected = TORCH_LOSSES[loss](y, torch.tensor(targets, dtype=torch.float64))
    expected.backward()
    assert len(out._children) == shape[0] * shape[1]  # one fused node
    assert out.data == pytest.approx(expected.item(), rel=1e-13)
    grads = [[v.grad for v in row] for row in outputs]
    for mine, theirs in zip(grads, y.grad.tolist(), strict=True):
        assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-16)


def test_binary_cross_entropy_is_stable_at_extreme_logits():
    z = [[Value(1000.0)], [Value(-1000.0)], [Value(40.0)]]
    out = LOSSES["binary_cross_entropy"](z, [[1.0], [1.0], [0.0]])
    out.backward()
    assert out.data == pytest.approx((0.0 + 1000.0 + 40.0) / 3)
    assert [row[0].grad for row in z] == pytest.approx([0.0, -1 / 3, 1 / 3])


def test_sum_squared_is_the_notebooks_sum():
    ys, ts = [0.3, -0.9, 0.1], [1.0, -1.0, -1.0]
    out = LOSSES["sum_squared"]([[Value(y)] for y in ys], [[t] for t in ts])
    assert out.data == sum((y - t) ** 2 for y, t in zip(ys, ts, strict=True))


def test_l2_penalty_matches_torch():
    data = [0.5, -1.5, 2.0, 0.0]
    params = [Value(x) for x in data]
    out = l2_penalty(params, 1e-3)
    out.backward()
    p = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    expected = 1e-3 * (p * p).sum()
    expected.backward()
    assert out.data == pytest.approx(expected.item(), rel=1e-15)
    assert [q.grad for q in params] == pytest.approx(p.grad.tolist(), rel=1e-15)


def test_accuracy_counts():
    assert correct("hinge", [[0.5], [-0.2], [0.0]], [[1.0], [1.0], [-1.0]]) == 1
    assert correct("binary_cross_entropy", [[0.5], [-0.2], [0.0]], [[1.0], [0.0], [1.0]]) == 2
    assert correct("sum_squared", [[0.5]], [[1.0]]) is None
    assert correct("mean_squared", [[0.5]], [[1.0]]) is None
    assert correct("cross_entropy", [[0.5, 0.7], [0.2, -1.0]], [[1.0], [1.0]]) == 1


def _quadratic_grads(params, targets):
    # loss = sum (p - t)**4 / 4 + p0 p1: a curved surface with coupled gradients
    loss = sum(((p - t) ** 4) * 0.25 for p, t in zip(params, targets, strict=True))
    loss = loss + params[0] * params[1]
    for p in params:
        p.grad = 0.0
    loss.backward()


@pytest.mark.parametrize(
    ("name", "make", "make_torch"),
    [
        ("sgd", SGD, lambda ps: torch.optim.SGD(ps, lr=0.05)),
        (
            "momentum",
            lambda ps: Momentum(ps, 0.8),
            lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8),
        ),
        (
            "adam",
            lambda ps: Adam(ps, 0.85, 0.99, 1e-7),
            lambda ps: torch.optim.Adam(ps, lr=0.05, betas=(0.85, 0.99), eps=1e-7),
        ),
    ],
)
def test_optimizers_match_torch(name, make, make_torch):
    start, targets = [0.3, -1.2, 2.0], [1.0, 0.5, -0.5]
    params = [Value(x) for x in start]
    optimizer = make(params)
    tparams = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in start]
    toptimizer = make_torch(tparams)
    for _ in range(6):
        _quadratic_grads(params, targets)
        optimizer.step(0.05)
        toptimizer.zero_grad()
        tloss = sum((p - t) ** 4 * 0.25 for p, t in zip(tparams, targets, strict=True))
        (tloss + tparams[0] * tparams[1]).backward()
        toptimizer.step()
    assert [p.data for p in params] == pytest.approx([p.item() for p in tparams], rel=1e-12)
    assert optimizer.state()["name"] == name


@pytest.mark.parametrize("make", [SGD, Momentum, Adam])
def test_optimizer_state_round_trips_through_json(make):
    def run(optimizer, params, steps):
        for _ in range(steps):
            _quadratic_grads(params, [1.0, -1.0])
            optimizer.step(0.1)

    a = [Value(0.5), Value(-0.25)]
    opt_a = make(a)
    run(opt_a, a, 6)
    b = [Value(0.5), Value(-0.25)]
    opt_b = make(b)
    run(opt_b, b, 3)
    state = json.loads(json.dumps(opt_b.state()))
    c = [Value(p.data) for p in b]
    opt_c = make(c)
    opt_c.load_state(state)
    run(opt_c, c, 3)
    assert [p.data for p in c] == [p.data for p in a]


def test_bad_optimizer_state_is_refused():
    opt = Adam([Value(1.0)])
    with pytest.raises(SpecError, match="not adam's"):
        opt.load_state({"name": "sgd"})
    with pytest.raises(SpecError, match=r"adam.m must be 1 finite floats"):
        opt.load_state({"name": "adam", "t": 1, "m": [], "v": [0.0]})
    with pytest.raises(SpecError, match="step count"):
        opt.load_state({"name": "adam", "t": -1, "m": [0.0], "v": [0.0]})


def test_schedules():
    constant, decay = SCHEDULES["constant"], SCHEDULES["linear_decay"]
    assert [constant(0.1, e, 5, 0.1) for e in (1, 5)] == [0.1, 0.1]
    assert decay(0.1, 1, 5, 0.2) == 0.1
    assert decay(0.1, 5, 5, 0.2) == pytest.approx(0.02)
    assert decay(0.1, 3, 5, 0.2) == pytest.approx(0.06)
    assert decay(0.1, 1, 1, 0.2) == 0.1
    assert all(math.isfinite(decay(1.0, e, 9, 0.0)) for e in range(1, 10))
