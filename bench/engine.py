"""Seconds per training step of Gradyard's engine, the notebook's engine and PyTorch, side by side.

Workloads (each step = forward + backward + update):
  notebook  MLP(3, [4, 4, 1]) tanh on the notebook's 4 samples, sum_squared, sgd 0.01
  moons     MLP(2, [16, 16, 1]) relu, linear output, 100 moons samples, hinge + l2 1e-4, sgd 0.01

Gradyard's step is Training.run_epoch() (full batch: one step per epoch), exactly what a job runs.
"floor" is the moons step written by hand in pure Python with no graph (bench/floor.py), started
from our engine's initial weights: it must compute the same losses, and our engine must stay
within 1.5x of its time.
The engines take turns step by step, so that noise from other processes hits them alike.
Run: .venv/bin/python bench/engine.py [--repeats N]
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
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

from bench.floor import moons_floor  # noqa: E402
from bench.report import load, record  # noqa: E402
from engine import Training  # noqa: E402
from engine.data import NOTEBOOK_INPUTS, NOTEBOOK_TARGETS, generate  # noqa: E402

MOONS_SPEC = {
    "model": {"layers": [16, 16, 1], "activation": "relu", "output_activation": "linear"},
    "data": {"generator": "moons", "samples": 100, "noise": 0.1},
    "training": {"loss": "hinge", "l2": 1e-4, "learning_rate": 0.01},
}
WORKLOADS = {"notebook": {}, "moons": MOONS_SPEC}

Step = Callable[[], None]


def gradyard(spec: dict[str, Any], steps: int) -> tuple[Step, Callable[[], int]]:
    """Training.run_epoch as the step, and the graph size of the last step."""
    training = Training({**spec, "training": {**spec.get("training", {}), "epochs": steps}})

    def step() -> None:
        training.run_epoch()

    return step, lambda: training._nodes


def floor(spec: dict[str, Any]) -> Step:
    """The moons step written by hand (bench/floor.py), from a fresh engine's initial weights;
    checked to compute that engine's losses over a few epochs first."""
    reference = Training({**spec, "training": {**spec["training"], "epochs": 3}})
    layers = reference._model.layers
    weights = [[[p.data for p in neuron.w] for neuron in layer.neurons] for layer in layers]
    biases = [[neuron.b.data for neuron in layer.neurons] for layer in layers]
    xs, labels = generate("moons", 100, spec["data"]["noise"], 0)
    t = spec["training"]
    epoch = moons_floor(weights, biases, xs, labels, t["l2"], t["learning_rate"])
    for _ in range(3):
        ours, by_hand = reference.run_epoch().loss, epoch()[0]
        if abs(ours - by_hand) > 1e-9 * max(1.0, abs(ours)):
            raise AssertionError(f"the floor's loss {by_hand} is not the engine's {ours}")

    def step() -> None:
        epoch()

    return step


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
            for nin, nout in itertools.pairwise(sizes)
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
    # One thread: these tensors are far too small to split, and it is torch's fastest setting.
    torch.set_num_threads(1)
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
    for nin, nout in itertools.pairwise(sizes):
        params.append((torch.rand(nout, nin, dtype=torch.float64) * 2 - 1).requires_grad_())
        params.append((torch.rand(nout, dtype=torch.float64) * 2 - 1).requires_grad_())

    def step() -> None:
        # The fastest plain form we found: fused addmm, one foreach update for all tensors.
        h = x
        for i, act in enumerate(acts):
            h = act(torch.addmm(params[2 * i + 1], h, params[2 * i].T))
        s = h[:, 0]
        if name == "notebook":
            loss = ((s - y) ** 2).sum()
        else:
            loss = torch.relu(1 - y * s).mean() + 1e-4 * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            torch._foreach_add_(params, [p.grad for p in params], alpha=-0.01)

    return step


def _count(root: Any) -> int:
    # Op nodes in the notebook's graph (children live in a set called _prev); like gradyard's
    # count, leaves (parameters, wrapped constants) are left out.
    seen, stack, ops = {id(root)}, [root], 0
    while stack:
        v = stack.pop()
        ops += bool(v._prev)
        for child in v._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return ops


def main() -> None:
    """Time every workload on every engine, interleaved, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200, help="timed steps per engine")
    parser.add_argument("--slow-repeats", type=int, default=5, help="notebook-engine moons steps")
    args = parser.parse_args()
    torch_version = _torch_version()
    before = load()
    print(f"python {sys.version.split()[0]}, torch {torch_version}; {before}")
    rows = []
    for name, spec in WORKLOADS.items():
        engines: dict[str, tuple[Step, Callable[[], int] | None]] = {
            "gradyard": gradyard(spec, args.repeats + 2)
        }
        if name == "moons":
            engines["floor"] = (floor(spec), None)
        notebook = notebook_engine(name)
        if notebook is not None:
            engines["notebook"] = notebook
        torch_step = pytorch(name)
        if torch_step is not None:
            engines["pytorch f64"] = (torch_step, None)
        times = time_interleaved(engines, name, args.repeats, args.slow_repeats)
        ours = statistics.median(times["gradyard"])
        for engine_name, (_, nodes) in engines.items():
            seconds = statistics.median(times[engine_name])
            count = str(nodes()) if nodes is not None else "-"
            rows.append(
                (name, engine_name, seconds, count, seconds / ours, len(times[engine_name]))
            )
    print(
        f"{'workload':<9} {'engine':<12} {'s/step (median)':>16} {'nodes/step':>11} "
        f"{'vs gradyard':>12} {'runs':>5}"
    )
    for name, engine_name, seconds, count, ratio, runs in rows:
        print(f"{name:<9} {engine_name:<12} {seconds:>16.6f} {count:>11} {ratio:>11.1f}x {runs:>5}")
    print()
    for name, engine_name, target in [
        ("moons", "notebook", 100.0),
        ("notebook", "pytorch f64", 3.0),
    ]:
        ratio = next((r[4] for r in rows if r[:2] == (name, engine_name)), None)
        if ratio is not None:
            verdict = "met" if ratio >= target else "NOT met"
            print(
                f"{name}: gradyard {ratio:.1f}x faster than {engine_name} "
                f"(target >= {target:g}x): {verdict}"
            )
    floor_ratio = next(1 / r[4] for r in rows if r[:2] == ("moons", "floor"))
    met = floor_ratio <= 1.5
    print(
        f"moons: gradyard at {floor_ratio:.2f}x the hand-written floor "
        f"(target <= 1.5x): {'met' if met else 'NOT met'}"
    )
    ours = next(r[2] for r in rows if r[:2] == ("moons", "gradyard"))
    record(
        "engine_floor",
        "engine vs hand-written floor, moons epoch",
        "<= 1.5x the floor",
        f"{1000 * ours:.1f} ms/epoch, {floor_ratio:.2f}x the floor",
        floor_ratio / 1.5,
        met,
        before,
        load(),
    )


def _torch_version() -> str:
    try:
        import torch
    except ImportError:
        return "absent"
    return str(torch.__version__)


def time_interleaved(
    engines: dict[str, tuple[Step, Any]], workload: str, repeats: int, slow_repeats: int
) -> dict[str, list[float]]:
    """Seconds of each engine's steps, taken in turns so that machine noise hits all alike."""
    # The notebook's engine needs about a second a moons step: it gets fewer turns.
    turns = {
        e: slow_repeats if (workload, e) == ("moons", "notebook") else repeats for e in engines
    }
    for step, _ in engines.values():  # warm up: the first step builds graphs and caches
        step()
    times: dict[str, list[float]] = {e: [] for e in engines}
    for i in range(max(turns.values())):
        for engine_name, (step, _) in engines.items():
            if i < turns[engine_name]:
                start = time.perf_counter()
                step()
                times[engine_name].append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    main()
