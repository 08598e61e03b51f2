"""Seconds per training step of Gradyard's engine, the notebook's engine and PyTorch, side by side.

Workloads (each step = forward + backward + update):
  notebook  MLP(3, [4, 4, 1]) tanh on the notebook's 4 samples, sum_squared, sgd 0.01
  moons     MLP(2, [16, 16, 1]) relu, linear output, 100 moons samples, hinge + l2 1e-4, sgd 0.01

Gradyard's step is Training.run_epoch() (full batch: one step per epoch), exactly what a job runs.
Run: .venv/bin/python bench/engine.py [--repeats N]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# This file is called engine.py: put the repository, not bench/, first on the path so that
# `import engine` finds the package rather than this script.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from engine import Training  # noqa: E402
from engine.data import NOTEBOOK_INPUTS, NOTEBOOK_TARGETS, generate  # noqa: E402

MOONS_SPEC = {
    "model": {"layers": [16, 16, 1], "activation": "relu", "output_activation": "linear"},
    "data": {"generator": "moons", "samples": 100, "noise": 0.1},
    "training": {"loss": "hinge", "l2": 1e-4, "learning_rate": 0.01},
}
WORKLOADS = {"notebook": {}, "moons": MOONS_SPEC}

Step = Callable[[], None]


def median_step(step: Step, repeats: int, warmup: int = 2) -> float:
    """Median wall time of one call to step, over `repeats` timed calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gradyard(spec: dict[str, Any], steps: int) -> tuple[Step, Callable[[], int]]:
    """Training.run_epoch as the step, and the graph size of the last step."""
    training = Training({**spec, "training": {**spec.get("training", {}), "epochs": steps}})
    return lambda: None if training.run_epoch() else None, lambda: training._nodes


def notebook_engine(name: str) -> tuple[Step, Callable[[], int]] | None:
    """The seed notebook's own Value doing the same step, or None if the notebook is missing."""
    path = ROOT / "tests/engine/notebook_seed.py"
    loader = importlib.util.spec_from_file_location("notebook_seed", path)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    try:
        ns = module.load()
    except (FileNotFoundError, LookupError) as e:
        print(f"notebook engine skipped: {e}", file=sys.stderr)
        return None
    Value, random = ns["Value"], ns["random"]
    random.seed(0)
    if name == "notebook":
        model = ns["MLP"](3, [4, 4, 1])
        xs, ys = NOTEBOOK_INPUTS, NOTEBOOK_TARGETS
        params = model.parameters()

        def loss() -> Any:
            return sum((model(x) - y) ** 2 for x, y in zip(xs, ys, strict=True))
    else:
        # The notebook's Neuron hard-codes tanh; assemble the relu model from its Value the
        # way its Neuron does, drawing weights in the same order.
        sizes = [2, 16, 16, 1]
        layers = [
            [
                ([Value(random.uniform(-1, 1)) for _ in range(nin)], Value(random.uniform(-1, 1)))
                for _ in range(nout)
            ]
            for nin, nout in zip(sizes, sizes[1:], strict=False)
        ]
        params = [p for layer in layers for w, b in layer for p in [*w, b]]
        xs, labels = generate("moons", 100, 0.1, 0)

        def score(x: list[float]) -> Any:
            h: list[Any] = x
            for i, layer in enumerate(layers):
                zs = [sum((wi * hi for wi, hi in zip(w, h, strict=True)), b) for w, b in layer]
                h = zs if i == len(layers) - 1 else [z.relu() for z in zs]
            return h[0]

        def loss() -> Any:
            margins = [(1 + -y * score(x)).relu() for x, y in zip(xs, labels, strict=True)]
            return sum(margins) * (1.0 / len(margins)) + 1e-4 * sum(p * p for p in params)

    last: list[Any] = []

    def step() -> None:
        out = loss()
        for p in params:
            p.grad = 0.0
        out.backward()
        for p in params:
            p.data += -0.01 * p.grad
        last[:] = [out]

    return step, lambda: _count(last[0])


def pytorch(name: str) -> Step | None:
    """The same step vectorised in PyTorch float64, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    if name == "notebook":
        sizes, acts = [3, 4, 4, 1], [torch.tanh] * 3
        x = torch.tensor(NOTEBOOK_INPUTS, dtype=torch.float64)
        y = torch.tensor(NOTEBOOK_TARGETS, dtype=torch.float64)
    else:
        sizes, acts = [2, 16, 16, 1], [torch.relu, torch.relu, lambda z: z]
        inputs, labels = generate("moons", 100, 0.1, 0)
        x = torch.tensor(inputs, dtype=torch.float64)
        y = torch.tensor(labels, dtype=torch.float64)
    params = []
    for nin, nout in zip(sizes, sizes[1:], strict=False):
        params.append((torch.rand(nout, nin, dtype=torch.float64) * 2 - 1).requires_grad_())
        params.append((torch.rand(nout, dtype=torch.float64) * 2 - 1).requires_grad_())

    def step() -> None:
        h = x
        for i, act in enumerate(acts):
            h = act(h @ params[2 * i].T + params[2 * i + 1])
        s = h[:, 0]
        if name == "notebook":
            loss = ((s - y) ** 2).sum()
        else:
            loss = torch.relu(1 - y * s).mean() + 1e-4 * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-0.01)

    return step


def _count(root: Any) -> int:
    # Nodes in the notebook's graph (its children live in a set called _prev).
    seen, stack = {id(root)}, [root]
    while stack:
        for child in stack.pop()._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return len(seen)


def main() -> None:
    """Time every workload on every engine and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="timed steps per measurement")
    args = parser.parse_args()
    rows = []
    for name, spec in WORKLOADS.items():
        ours, our_nodes = gradyard(spec, args.repeats + 10)
        ours_s = median_step(ours, args.repeats)
        rows.append((name, "gradyard", ours_s, str(our_nodes()), "1.0x"))
        notebook = notebook_engine(name)
        if notebook is not None:
            step, nodes = notebook
            # The notebook's engine takes about a second a moons step: time fewer of them.
            seconds = median_step(step, 5 if name == "moons" else args.repeats, warmup=1)
            rows.append((name, "notebook", seconds, str(nodes()), f"{seconds / ours_s:.1f}x"))
        torch_step = pytorch(name)
        if torch_step is not None:
            seconds = median_step(torch_step, args.repeats)
            rows.append((name, "pytorch f64", seconds, "-", f"{seconds / ours_s:.1f}x"))
    print(f"{'workload':<9} {'engine':<12} {'s/step (median)':>16} {'nodes/step':>11} "
          f"{'gradyard is':>12}")
    for name, engine_name, seconds, nodes, ratio in rows:
        print(f"{name:<9} {engine_name:<12} {seconds:>16.6f} {nodes:>11} {ratio + ' faster':>12}")


if __name__ == "__main__":
    main()
