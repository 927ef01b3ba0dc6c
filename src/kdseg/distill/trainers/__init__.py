"""How each student method trains (imported by training jobs only; what the methods declare is
:mod:`kdseg.config.methods`). Every trainer goes through
:func:`kdseg.train.segmentation.train_network`, so sampler, checkpoints, model files and
validation are shared."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kdseg.config.methods import METHODS, TeacherFiles
from kdseg.distill.trainers import adaptive, feature, kd

Trainer = Callable[..., dict[str, Any]]
# online KD's phase 2 and every link of a teacher-assistant chain are the paper's KD step
TRAINERS: dict[str, Trainer] = {
    "kd": kd.train,
    "adaptive": adaptive.train,
    "feature": feature.train,
    "online": kd.train,
    "assistant": kd.train,
}


def train_student(
    method: str,
    settings: Mapping[str, Any],
    teachers: Mapping[str, Any],
    **common: Any,
) -> dict[str, Any]:
    """Train one student with a registered method.

    ``teachers``: the files the method declared it needs (``soft_labels``, ``models``,
    ``init``); ``common``: :func:`~kdseg.train.segmentation.train_network`'s shared arguments
    (paths, architecture, training, seed, name, threads)."""
    if method not in METHODS:
        raise KeyError(f"unknown student method {method!r}")
    files = TeacherFiles(
        soft_labels=list(teachers.get("soft_labels", [])),
        models=list(teachers.get("models", [])),
        init=teachers.get("init"),
    )
    return TRAINERS[method](dict(settings), files, **common)
