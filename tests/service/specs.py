"""Job specs the service tests share."""

from typing import Any


def moons_job(epochs: int, samples: int = 20, **training: Any) -> dict[str, Any]:
    """The benchmark's moons model, MLP(2, [16, 16, 1]) relu with a linear output, on hinge loss:
    a few milliseconds an epoch, so ``epochs`` sets how long the job runs."""
    return {
        "model": {
            "inputs": 2,
            "layers": [16, 16, 1],
            "activation": "relu",
            "output_activation": "linear",
        },
        "data": {"generator": "moons", "samples": samples},
        "training": {"epochs": epochs, "loss": "hinge", **training},
    }
