"""Neuron, Layer and MLP: the notebook's weight order, fused neurons against PyTorch, big models."""

import random
import warnings

import notebook_seed
import pytest

from engine import MLP, NonFiniteError, Value
from engine.nn import Layer, Neuron, Pass
from engine.value import total

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch warns that numpy is absent; it needs none here
    import torch


@pytest.mark.parametrize("seed", [0, 3, 2024])
def test_weights_are_drawn_in_the_notebooks_order(seed):
    ours = MLP(3, [4, 4, 1], rng=random.Random(seed))
    ns = notebook_seed.load()
    saved = random.getstate()
    random.seed(seed)
    theirs = ns["MLP"](3, [4, 4, 1])
    random.setstate(saved)
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    rng = random.Random(seed)
    assert [p.data for p in ours.parameters()] == [rng.uniform(-1, 1) for _ in range(41)]


def test_the_default_rng_is_seed_zero():
    a, b = MLP(2, [3, 1]), MLP(2, [3, 1], rng=random.Random(0))
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]


def _torch_forward(mlp, x):
    """The same MLP in PyTorch float64; returns the output tensor and the parameter tensors."""
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}
    params, h = [], torch.tensor(x, dtype=torch.float64)
    for layer in mlp.layers:
        w = torch.tensor([[p.data for p in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        w.requires_grad_()
        b.requires_grad_()
        params.append((w, b))
        z = w @ h + b
        h = acts[layer.activation](z) if layer.activation in acts else z
    return h, params


@pytest.mark.parametrize(
    ("activation", "output"), [("tanh", "tanh"), ("relu", "linear"), ("sigmoid", "sigmoid")]
)
def test_fused_neurons_match_torch(activation, output):
    mlp = MLP(3, [5, 4, 2], activation=activation, output_activation=output, rng=random.Random(1))
    x = [0.4, -1.2, 2.0]
    y = mlp(x)
    assert isinstance(y, list) and len(y) == 2
    loss = y[0] * 1.5 - y[1] * y[1]
    loss.backward()
    out, params = _torch_forward(mlp, x)
    tloss = out[0] * 1.5 - out[1] * out[1]
    tloss.backward()
    assert loss.data == pytest.approx(tloss.item(), rel=1e-13)
    for layer, (w, b) in zip(mlp.layers, params, strict=True):
        for i, n in enumerate(layer.neurons):
            assert [p.grad for p in n.w] == pytest.approx(w.grad[i].tolist(), rel=1e-12, abs=1e-15)
            assert n.b.grad == pytest.approx(b.grad[i].item(), rel=1e-12, abs=1e-15)


def test_value_and_mixed_inputs_get_gradients():
    n = Neuron(3, "tanh", random.Random(0))
    a, b = Value(0.3), Value(-0.8)
    out = n([a, 2.0, b])  # the float is a constant: no node, no gradient
    assert len(out._children) == 3 + 1 + 2
    out.backward()
    d = 1 - out.data**2
    assert a.grad == pytest.approx(d * n.w[0].data, rel=1e-15)
    assert b.grad == pytest.approx(d * n.w[2].data, rel=1e-15)
    assert n.w[1].grad == pytest.approx(d * 2.0, rel=1e-15)


def test_single_outputs_are_values_and_many_are_lists():
    assert isinstance(MLP(2, [3, 1])([1.0, 2.0]), Value)
    assert isinstance(Layer(2, 1)([1.0, 2.0]), Value)
    assert len(Layer(2, 3)([1.0, 2.0])) == 3  # type: ignore[arg-type]
    assert len(MLP(2, [3, 4]).parameters()) == 3 * 3 + 4 * 4


def test_zero_grad_and_int_inputs():
    mlp = MLP(2, [2, 1])
    out = mlp([1, 2])  # ints are read as floats
    assert isinstance(out, Value) and type(out.data) is float
    out.backward()
    assert any(p.grad for p in mlp.parameters())
    mlp.zero_grad()
    assert all(p.grad == 0.0 for p in mlp.parameters())


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        MLP(2, [1])([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, [1], activation="swish")
    mlp = MLP(1, [1], output_activation="linear")
    with pytest.raises(NonFiniteError, match="linear neuron: w·x \\+ b overflowed to inf"):
        mlp([1e308 / mlp.layers[0].neurons[0].w[0].data * 4])


def test_a_1000_by_1000_mlp_backpropagates():
    mlp = MLP(1000, [1000, 1], rng=random.Random(5))
    x = [((i * 37) % 200 - 100) / 1000.0 for i in range(1000)]
    out = mlp(x)
    assert isinstance(out, Value)
    out.backward()
    # d out/d w1[j][i] = (1 - out**2) w2[j] (1 - h_j**2) x_i
    hidden = mlp.layers[0].neurons
    top = mlp.layers[1].neurons[0]
    for j, i in [(0, 0), (17, 999), (999, 500)]:
        z = total(w.data * xi for w, xi in zip(hidden[j].w, x, strict=True)).data + hidden[j].b.data
        hj = torch.tanh(torch.tensor(z, dtype=torch.float64)).item()
        expected = (1 - out.data**2) * top.w[j].data * (1 - hj**2) * x[i]
        assert hidden[j].w[i].grad == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_a_reused_pass_equals_a_fresh_one_after_the_weights_change():
    mlp = MLP(3, [4, 2], activation="relu", output_activation="sigmoid", rng=random.Random(2))
    a = Value(0.3)
    batch = [[1.0, -2.0, 0.5], [a, 2, -1.0], [a, a * 2, a.tanh()]]  # constants, mixed, nodes
    reused = Pass(mlp, batch)
    first = reused.run()
    nodes = list(reused.tape)
    for i, p in enumerate(mlp.parameters()):
        p.data += 0.01 * (i % 7 - 3)
    again = reused.run()
    fresh = Pass(mlp, batch)
    expected = fresh.run()
    assert again is first and reused.tape == nodes  # the same nodes, recomputed in place
    for old, new in zip(reused.tape, fresh.tape, strict=True):
        assert (old.data, old._scale, old._local, old._op) == (
            new.data,
            new._scale,
            new._local,
            new._op,
        )
        assert len(old._children) == len(new._children)
    assert [[v.data for v in row] for row in again] == [[v.data for v in row] for row in expected]
