"""Training settings as typed, frozen objects, built once per job from the planned
``training`` section. Defaults live in the config schema only (``$defs.training``): a key that
a caller leaves out (tests, benchmarks) takes the schema's default, as a planned config has it."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kdseg.train.augmentation import Augmentation
from kdseg.train.defaults import training_default
from kdseg.train.placement import Sampling


@dataclass(frozen=True)
class TrainSettings:
    """The training loop's settings (keys of the ``training`` section; schema defaults).

    ``batch_size`` has no schema default (it is planned per dataset and architecture)."""

    iterations: int = training_default("iterations")
    batch_size: int = 4
    optimizer: dict[str, Any] = field(default_factory=partial(training_default, "optimizer"))
    schedule: dict[str, Any] = field(default_factory=partial(training_default, "schedule"))
    validate_every: int = training_default("validate_every")
    checkpoint_every: int = training_default("checkpoint_every")
    log_every: int = training_default("log_every")
    weights: str = training_default("weights")
    amp: bool = training_default("amp")
    loader_workers: int = training_default("loader_workers")
    channels_last: bool = training_default("channels_last")


LOOP_KEYS = frozenset(f.name for f in dataclasses.fields(TrainSettings))


@dataclass(frozen=True)
class TrainingSection:
    """The whole ``training`` section of one job: the loop's settings, patch sampling and
    augmentation, padding, device, where the rotation runs (``rotate_on``) and validation
    cases; ``section`` is the mapping it was built from (recorded as given in checkpoints and
    model files)."""

    section: Mapping[str, Any]
    loop: TrainSettings
    sampling: Sampling
    augmentation: Augmentation
    padding: str
    device: str
    rotate_on: str
    validation_cases: int

    @classmethod
    def of(cls, training: Mapping[str, Any] | TrainingSection) -> TrainingSection:
        """``training`` typed (a :class:`TrainingSection` is returned as it is)."""
        if isinstance(training, TrainingSection):
            return training
        section = dict(training)

        def value(key: str) -> Any:
            return copy.deepcopy(section[key]) if key in section else training_default(key)

        return cls(
            section=section,
            loop=TrainSettings(**{k: v for k, v in section.items() if k in LOOP_KEYS}),
            sampling=Sampling.from_config(value("sampling")),
            augmentation=Augmentation.from_config(value("augmentation")),
            padding=value("padding"),
            device=value("device"),
            rotate_on=value("rotate_on"),
            validation_cases=int(value("validation_cases")),
        )
