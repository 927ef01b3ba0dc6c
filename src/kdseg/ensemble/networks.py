"""Ensembles: the mean of the members' softmax probabilities, label = arg-max.

:class:`Ensemble` runs its member networks one after the other on an image (soft labels,
benchmarks); the study's test predictions of an ensemble are made from its members' stored
ones instead (:mod:`kdseg.ensemble.stored`). The per-voxel standard deviation of the members'
probability for the ensemble's predicted class is kept as an uncertainty map.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kdseg.ensemble.stored import mean_and_std
from kdseg.errors import KdsegError
from kdseg.models.model_file import load_model
from kdseg.models.windows import InferenceSpec, predict_probabilities
from kdseg.nets import count_parameters


class Ensemble:
    """Member models applied in turn; probabilities averaged."""

    def __init__(
        self,
        model_files: Sequence[str | Path],
        device: torch.device,
        amp: bool = False,
        inference: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """``inference``: per member, its architecture's config ``inference`` section."""
        if not model_files:
            raise KdsegError("ensemble: no member models")
        if inference is not None and len(inference) != len(model_files):
            raise KdsegError("ensemble: one inference section per member model is needed")
        self.members: list[tuple[torch.nn.Module, InferenceSpec]] = []
        classes = None
        for i, path in enumerate(model_files):
            model, meta, spec = load_model(path, device, inference and inference[i])
            if classes is not None and meta["classes"] != classes:
                raise KdsegError(f"{path}: classes {meta['classes']} differ from other members")
            classes = meta["classes"]
            self.members.append((model, spec))
        self.device, self.amp = device, amp and device.type == "cuda"

    @property
    def parameters(self) -> int:
        return sum(count_parameters(m) for m, _ in self.members)

    def member_probabilities(
        self, image: np.ndarray, temperature: float = 1.0
    ) -> Iterator[np.ndarray]:
        """Each member's probabilities (K, ...) float32 in turn (one member in memory;
        ``temperature``: each of its predictions softened before they are blended)."""
        for model, spec in self.members:
            yield predict_probabilities(
                model, image, spec, device=self.device, amp=self.amp, temperature=temperature
            )

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(mean probabilities (K, ...), {"std": std of the predicted class's probability})."""
        mean, std = mean_and_std(self.member_probabilities(image))
        return mean.astype(np.float32), {"std": std.astype(np.float32)}
