"""What a job will cost before it runs: its training graph's memory, and its total work.

A full-batch epoch builds one fused node per neuron per sample, holding a local gradient per
input and weight: the graph grows as parameters x samples per batch. bench/graph_memory.py
measures it: 35 to 48 bytes per parameter-sample under tracemalloc for MLPs of 337 to 17,025
parameters; the estimate takes 64, for the allocator's overhead on top. The time of an epoch
grows the same way (about 100 ns per parameter-sample here), so parameters x samples x epochs
is the job's work.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.spec import GeneratedData, InlineData, JobSpec, StoredData
from engine.validation_spec import InlineValidation, StoredValidation

BYTES_PER_PARAMETER_SAMPLE = 64


@dataclass(frozen=True)
class Cost:
    """A spec's size: parameters, samples per epoch and per batch, graph bytes, total work."""

    parameters: int
    samples: int
    batch: int
    epochs: int

    @property
    def graph_bytes(self) -> int:
        """Estimated memory of one batch's training graph."""
        return self.parameters * self.batch * BYTES_PER_PARAMETER_SAMPLE

    @property
    def work(self) -> int:
        """Parameter-samples over every epoch: what the job's time grows with."""
        return self.parameters * self.samples * self.epochs


def estimate(spec: JobSpec) -> Cost:
    """The cost of training ``spec`` (a spec whose model knows its inputs, as a JobSpec's does)."""
    d = spec.data
    if isinstance(d, InlineData):
        samples = len(d.inputs)
    elif isinstance(d, GeneratedData | StoredData):
        samples = d.samples
    else:
        raise ValueError("a dataset's cost is known once the service has looked it up")
    batch = min(spec.training.batch_size or samples, samples)
    # Validation samples are scored every epoch too (forward only, in chunks of a batch at most).
    v = d.validation
    if isinstance(v, InlineValidation):
        samples += len(v.inputs)
    elif isinstance(v, StoredValidation):
        samples += v.samples
    return Cost(spec.model.parameter_count(), samples, batch, spec.training.epochs)
