"""One network's training as a job plans it (:class:`TrainingJob`: inputs, outputs, typed
settings) and what its method adds (:class:`Objective`: the loss and what it records)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kdseg.models.windows import InferenceSpec
from kdseg.train.loop import StepLoss, TrainResult
from kdseg.train.sampler import PatchGuides
from kdseg.train.settings import TrainingSection

StepLossFactory = Callable[[int, torch.device, nn.Module], StepLoss]
"""``make_step_loss(num_classes, device, network)`` -> ``f(net, batch) -> loss``. A step loss
that is an ``nn.Module`` with parameters (feature adapters, a co-trained network) is trained,
checkpointed and resumed with the network, but not saved in its model file."""
NetworkBuilder = Callable[[int, int], tuple[nn.Module, nn.Module, InferenceSpec]]
"""(in_channels, num_classes) -> (module trained, network validated, its inference settings)."""
ModelWriter = Callable[[TrainResult, nn.Module, Mapping[str, Any], dict[str, Any]], dict[str, Any]]
"""(loop result, the module built, manifest, metadata common to every model of the run) ->
what the run returns."""


@dataclass(frozen=True)
class TrainingJob:
    """Inputs, outputs and settings of one training run (``training_cases``: a subset of the
    training split; ``init``: a model file whose weights the run starts from)."""

    preprocessed: Path
    model_out: Path
    history_out: Path
    curves_out: Path
    checkpoint: Path
    architecture: Mapping[str, Any]
    training: TrainingSection
    seed: int
    name: str = "model"
    threads: int = 1
    training_cases: Sequence[str] | None = None
    init: Path | None = None

    @classmethod
    def of(
        cls,
        *,
        preprocessed: str | Path,
        model_out: str | Path,
        history_out: str | Path,
        curves_out: str | Path,
        checkpoint: str | Path,
        training: Mapping[str, Any] | TrainingSection,
        init: str | Path | None = None,
        **rest: Any,
    ) -> TrainingJob:
        """A job from a job script's keyword arguments (paths as strings, ``training`` as the
        planned section)."""
        return cls(
            preprocessed=Path(preprocessed), model_out=Path(model_out),
            history_out=Path(history_out), curves_out=Path(curves_out),
            checkpoint=Path(checkpoint), training=TrainingSection.of(training),
            init=None if init is None else Path(init), **rest,
        )  # fmt: skip


@dataclass(frozen=True)
class Objective:
    """What a method trains with: its step loss (:data:`StepLossFactory`); ``extra``: per-case
    arrays (e.g. soft labels) that the sampler cuts like the labels; ``guides``: where patches
    go besides the labels; ``meta``: stored in the model file; ``fingerprint``: the settings and
    teacher files that shape the weights, recorded in the checkpoint (None: ``meta``).
    ``build`` and ``write_models``: for methods that train more than one network in one run
    (online KD's teacher and student)."""

    make_step_loss: StepLossFactory
    extra: Mapping[str, Mapping[str, np.ndarray]] | None = None
    guides: PatchGuides | None = None
    meta: Mapping[str, Any] | None = None
    fingerprint: Mapping[str, Any] | None = None
    build: NetworkBuilder | None = None
    write_models: ModelWriter | None = None

    @property
    def recorded(self) -> dict[str, Any]:
        """What the method records in the checkpoint."""
        return dict((self.meta or {}) if self.fingerprint is None else self.fingerprint)
