"""Student methods by name (config ``students.<entry>.method``).

Each method is one module declaring its config keys, the students it trains, which teacher
outputs (soft labels, model files, initial weights) each student needs, and its loss; the
training loop, sampler, checkpoints, model files and evaluation are shared.

=========== ==================================================================================
kd          the paper's students: an ensemble's (or one teacher's) soft labels + 0.1 CE
adaptive    limit-trained multi-teacher: per-voxel adaptive mean of the members' soft labels
feature     feature distillation: live teacher, KL + Lovász + Dice + adapted feature MSE
online      teacher and student trained together, then KD from the best teacher
assistant   teacher -> assistant(s) -> student, each link a KD step
=========== ==================================================================================

These modules declare; they import no torch. The training of each method is in
:mod:`kdseg.distill.trainers` (imported only by training jobs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kdseg.config.methods import adaptive, assistant, feature, kd, online
from kdseg.config.methods.base import (
    COMMON_KEYS,
    KD_LOSS_KEYS,
    StudentMethod,
    TeacherFiles,
    TeacherNeeds,
)

METHODS: dict[str, StudentMethod] = {
    m.name: m for m in (kd.METHOD, adaptive.METHOD, feature.METHOD, online.METHOD, assistant.METHOD)
}


def method_of(entry: Mapping[str, Any]) -> StudentMethod:
    """The method of a ``students`` entry (default ``kd``)."""
    return METHODS[entry.get("method", "kd")]


__all__ = [
    "COMMON_KEYS",
    "KD_LOSS_KEYS",
    "METHODS",
    "StudentMethod",
    "TeacherFiles",
    "TeacherNeeds",
    "method_of",
]
