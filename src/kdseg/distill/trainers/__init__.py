"""How each student method trains (imported by training jobs only; what the methods declare is
:mod:`kdseg.config.methods`). A method's trainer is the ``train`` function of the module its
declaration names (``METHOD.trainer``, default: the method's name); every trainer goes through
:func:`kdseg.train.segmentation.train_network`, so sampler, checkpoints, model files and
validation are shared."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from kdseg.config.methods import METHODS, TeacherFiles

Trainer = Callable[..., dict[str, Any]]


def trainer_of(method: str) -> Trainer:
    """The ``train`` function of a registered method's trainer module."""
    if method not in METHODS:
        raise KeyError(f"unknown student method {method!r} (known: {', '.join(METHODS)})")
    module = METHODS[method].trainer_module
    train = getattr(importlib.import_module(module), "train", None)
    if not callable(train):
        raise TypeError(f"{module}: no train function (the trainer of method {method!r})")
    return train


def train_student(
    method: str,
    settings: Mapping[str, Any],
    teachers: Mapping[str, Any],
    **common: Any,
) -> dict[str, Any]:
    """Train one student with a registered method.

    ``teachers``: the files the method declared it needs (``soft_labels``, ``models``,
    ``init``); ``common``: the run's :class:`~kdseg.train.job.TrainingJob` as keyword arguments
    (paths, architecture, training, seed, name, threads)."""
    train = trainer_of(method)
    files = TeacherFiles(
        soft_labels=list(teachers.get("soft_labels", [])),
        models=list(teachers.get("models", [])),
        init=teachers.get("init"),
    )
    return train(dict(settings), files, **common)
