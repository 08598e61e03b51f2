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
        for name in (activation, output_activation):
            if name not in ACTIVATIONS:
                raise ValueError(f"unknown activation {name!r}")
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
        """Each sample's outputs; logits=True leaves out the last layer's activation.

        Every new node is appended to `tape`, in creation order (a topological order).
        """
        forward = Pass(self, batch, logits)
        outputs = forward.run()
        if tape is not None:
            tape.extend(forward.tape)
        return outputs

    def parameters(self) -> list[Value]:
        """Every weight and bias: layer by layer, neuron by neuron, weights then bias."""
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        """Reset every parameter's grad to 0."""
        for p in self.parameters():
            p.grad = 0.0


class Pass:
    """A forward pass of an MLP over a fixed batch whose graph is kept from one run to the next.

    The first run() makes the nodes and records them in `tape` in creation order, a topological
    order for backward(). Later runs recompute every node's data and local gradients in place
    from the current weights: the graph's structure is reused, and a full-batch training epoch
    allocates no new nodes.
    """

    __slots__ = ("batch", "layers", "logits", "mlp", "tape")

    def __init__(self, mlp: MLP, batch: Sequence[Inputs], logits: bool = False) -> None:
        self.mlp = mlp
        self.batch = batch
        self.logits = logits
        self.tape: list[Value] = []
        self.layers: list[list[list[Value]]] = []  # each layer's outputs, sample by sample

    def run(self) -> list[list[Value]]:
        """Each sample's outputs for the current weights."""
        h: Sequence[Inputs] = self.batch
        last = len(self.mlp.layers) - 1
        for i, layer in enumerate(self.mlp.layers):
            activation = "linear" if self.logits and i == last else None
            if i < len(self.layers):
                fire(layer.neurons, h, activation=activation, nodes=i > 0, outputs=self.layers[i])
            else:
                self.layers.append(fire(layer.neurons, h, self.tape, activation, nodes=i > 0))
            h = self.layers[i]
        return self.layers[-1]


def fire(
    neurons: Sequence[Neuron],
    batch: Sequence[Inputs],
    tape: list[Value] | None = None,
    activation: str | None = None,
    nodes: bool = False,
    outputs: list[list[Value]] | None = None,
) -> list[list[Value]]:
    """Each neuron on each sample, as one node apiece; new nodes are appended to `tape`.

    For z = b + w·x and y = act(z): dy/dw_i = act'(z) x_i, dy/db = act'(z), dy/dx_i = act'(z) w_i.
    The node stores act'(z) once as its scale and (x..., 1, w...) as its local gradients; plain
    float inputs are constants and get no node. nodes=True says every input is a Value.
    Given `outputs` (the nodes an earlier call made for this batch), it renews those in place
    instead: same children, new numbers, nothing allocated but their local-gradient tuples.
    """
    # Read the weights once per batch rather than once per sample.
    plan = []
    for n in neurons:
        name = activation or n.activation
        wd = [w.data for w in n.w]
        plan.append((ACTIVATIONS[name], f"{name} neuron", (*n.w, n.b), wd, tuple(wd), n.b.data))
    nin = len(plan[0][3]) if plan else 0
    fresh = outputs is None
    out: list[list[Value]] = [] if outputs is None else outputs
    for s, x in enumerate(batch):
        if fresh and len(x) != nin:  # a renewal's batch was checked when it was first made
            raise ValueError(f"expected {nin} inputs, got {len(x)}")
        if nodes:
            xs: tuple[Value, ...] = tuple(x)  # type: ignore[arg-type]
            xd = [v.data for v in xs]
        else:
            xs, xd = _split(x)
        mixed = 0 < len(xs) < nin
        head = (*xd, 1.0)
        row: list[Value] = [] if fresh else out[s]
        for j, (act, op, params, wd, wt, bd) in enumerate(plan):
            # sum(..., start=b) adds b + w0 x0 + w1 x1 + ... in the notebook's order (from Python
            # 3.12 with compensation, so the last bit can differ from the notebook's there).
            z = sum(map(mul, wd, xd), bd)
            if not isfinite(z):
                raise NonFiniteError(op, (), f"w·x + b overflowed to {z}")
            y, d = act(z)
            if mixed:
                wt = tuple([w for w, v in zip(wd, x, strict=True) if isinstance(v, Value)])
            local = head + wt if xs else head
            if fresh:
                row.append(node(y, params + xs, local, op, d))
            else:
                row[j].renew(y, local, d)
        if fresh:
            if tape is not None:
                tape.extend(row)
            out.append(row)
    return out


def _split(x: Inputs) -> tuple[tuple[Value, ...], list[float]]:
    # The inputs that are graph nodes, and the data of every input.
    xs = tuple([v for v in x if isinstance(v, Value)])
    if not xs:
        return xs, [float(v) for v in x]  # type: ignore[arg-type]
    return xs, [v.data if isinstance(v, Value) else float(v) for v in x]
