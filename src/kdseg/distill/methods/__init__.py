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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kdseg.distill.methods import adaptive_kd, assistant_kd, feature_kd, kd, online_kd
from kdseg.distill.methods.base import (
    COMMON_KEYS,
    StudentMethod,
    StudentRun,
    TeacherFiles,
    TeacherNeeds,
    teacher_model,
)

METHODS: dict[str, StudentMethod] = {
    m.name: m
    for m in (kd.METHOD, adaptive_kd.METHOD, feature_kd.METHOD, online_kd.METHOD,
              assistant_kd.METHOD)
}  # fmt: skip


def method_of(entry: Mapping[str, Any]) -> StudentMethod:
    """The method of a ``students`` entry (default ``kd``)."""
    return METHODS[entry.get("method", "kd")]


__all__ = [
    "COMMON_KEYS",
    "METHODS",
    "StudentMethod",
    "StudentRun",
    "TeacherFiles",
    "TeacherNeeds",
    "method_of",
    "teacher_model",
]
