"""Neuron, Layer and MLP, where a neuron's act(w·x + b) is a single fused graph node."""

from __future__ import annotations

import random
from collections.abc import Sequence
from math import isfinite
from operator import mul

from engine.activations import ACTIVATIONS
from engine.errors import NonFiniteError
from engine.value import Value, node

Inputs = Sequence[Value | float]


class Neuron:
    """act(w·x + b), with w then b drawn from rng.uniform(-1, 1) as in the notebook."""

    __slots__ = ("activation", "b", "w")

    def __init__(self, nin: int, activation: str = "tanh", rng: random.Random | None = None):
        rng = rng if rng is not None else random.Random(0)
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}")
        self.w = [Value(rng.uniform(-1.0, 1.0)) for _ in range(nin)]
        self.b = Value(rng.uniform(-1.0, 1.0))
        self.activation = activation

    def __call__(self, x: Inputs) -> Value:
        return fire([self], [x])[0][0]

    def parameters(self) -> list[Value]:
        """The weights, then the bias."""
        return [*self.w, self.b]


class Layer:
    """nout neurons reading the same nin inputs."""

    __slots__ = ("neurons",)

    def __init__(
        self, nin: int, nout: int, activation: str = "tanh", rng: random.Random | None = None
    ):
        rng = rng if rng is not None else random.Random(0)
        self.neurons = [Neuron(nin, activation, rng) for _ in range(nout)]

    @property
    def activation(self) -> str:
        """The activation every neuron of the layer applies."""
        return self.neurons[0].activation

    def __call__(self, x: Inputs) -> Value | list[Value]:
        outs = fire(self.neurons, [x])[0]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self) -> list[Value]:
        """Each neuron's parameters, neuron by neuron."""
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    """Layers of neurons: `activation` on the hidden layers, `output_activation` on the last."""

    __slots__ = ("layers", "nin")

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "tanh",
        output_activation: str = "tanh",
        rng: random.Random | None = None,
    ):
        # Without an rng the model is still reproducible: seed 0.
        rng = rng if rng is not None else random.Random(0)
        sizes = [nin, *nouts]
        last = len(nouts) - 1
        self.nin = nin
        self.layers = [
            Layer(sizes[i], sizes[i + 1], output_activation if i == last else activation, rng)
            for i in range(len(nouts))
        ]

    def __call__(self, x: Inputs) -> Value | list[Value]:
        outs = self.forward([x])[0]
        return outs[0] if len(outs) == 1 else outs

    def forward(
        self, batch: Sequence[Inputs], tape: list[Value] | None = None, logits: bool = False
    ) -> list[list[Value]]:
        """Each sample's outputs; logits=True leaves out the last layer's activation."""
        h: Sequence[Inputs] = batch
        last = self.layers[-1]
        for layer in self.layers:
            h = fire(layer.neurons, h, tape, "linear" if logits and layer is last else None)
        return h  # type: ignore[return-value]  # fire() always returns list[list[Value]]

    def parameters(self) -> list[Value]:
        """Every weight and bias: layer by layer, neuron by neuron, weights then bias."""
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        """Reset every parameter's grad to 0."""
        for p in self.parameters():
            p.grad = 0.0


def fire(
    neurons: Sequence[Neuron],
    batch: Sequence[Inputs],
    tape: list[Value] | None = None,
    activation: str | None = None,
) -> list[list[Value]]:
    """Each neuron on each sample, as one node apiece; new nodes are appended to `tape`.

    For z = b + w·x and y = act(z): dy/dw_i = act'(z) x_i, dy/db = act'(z), dy/dx_i = act'(z) w_i.
    The node stores act'(z) once as its scale and (x..., 1, w...) as its local gradients; plain
    float inputs are constants and get no node.
    """
    # Read the weights once per batch rather than once per sample.
    plan = []
    for n in neurons:
        name = activation or n.activation
        wd = [w.data for w in n.w]
        plan.append((ACTIVATIONS[name], f"{name} neuron", (*n.w, n.b), wd, tuple(wd), n.b.data))
    nin = len(plan[0][3]) if plan else 0
    out = []
    for x in batch:
        if len(x) != nin:
            raise ValueError(f"expected {nin} inputs, got {len(x)}")
        xs = tuple([v for v in x if isinstance(v, Value)])
        if not xs:  # constants only: the children are the neuron's own parameters
            xd = list(map(float, x))
        elif len(xs) == nin:
            xd = [v.data for v in xs]
        else:
            xd = [v.data if isinstance(v, Value) else float(v) for v in x]
        mixed = 0 < len(xs) < nin
        head = (*xd, 1.0)
        row = []
        for act, op, wb, wd, wt, bd in plan:
            # sum(..., start=b) adds b + w0 x0 + w1 x1 + ... in the notebook's order.
            z = sum(map(mul, wd, xd), bd)
            if not isfinite(z):
                raise NonFiniteError(op, (), f"w·x + b overflowed to {z}")
            y, d = act(z)
            if mixed:
                wt = tuple([w for w, v in zip(wd, x, strict=True) if isinstance(v, Value)])
            row.append(node(y, wb + xs, head + wt if xs else head, op, d))
        if tape is not None:
            tape.extend(row)
        out.append(row)
    return out
