"""The loader of a training run: the batches of iterations ``start..stop-1`` in order,
prepared in worker processes while the network trains."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
import torch

from kdseg.train.signals import ignore_sigterm


class BatchSource(Protocol):
    def batch(self, iteration: int) -> dict[str, np.ndarray]: ...


class _Batches(torch.utils.data.IterableDataset):
    """The batches of iterations ``start..stop-1`` in order, shared out over loader workers."""

    def __init__(self, sampler: BatchSource, start: int, stop: int) -> None:
        self.sampler, self.start, self.stop = sampler, start, stop

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        info = torch.utils.data.get_worker_info()
        step, first = (1, 0) if info is None else (info.num_workers, info.id)
        for i in range(self.start + first, self.stop, step):
            yield self.sampler.batch(i)


def batch_loader(
    sampler: BatchSource, start: int, stop: int, workers: int, device: torch.device
) -> torch.utils.data.DataLoader:
    """Batches prepared by ``workers`` processes (0: in this process) while training runs.

    Worker processes sidestep the GIL: sampling and augmentation run on another core instead
    of competing with the training step's Python code. The round-robin order of PyTorch's
    loader over workers keeps the batches in iteration order, so results do not depend on
    the number of workers.
    """
    extra: dict[str, Any] = {}
    if workers > 0:
        extra = {
            "prefetch_factor": 2,
            "persistent_workers": False,
            "worker_init_fn": ignore_sigterm,
        }
        if "fork" in mp.get_all_start_methods():  # memory maps are inherited, not pickled
            extra["multiprocessing_context"] = "fork"
    return torch.utils.data.DataLoader(
        _Batches(sampler, start, stop),
        batch_size=None,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        **extra,
    )
