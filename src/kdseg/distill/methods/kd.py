"""The paper's students (Noothout et al. 2022): distilled from an ensemble's soft labels.

``loss = soft(student, ensemble target at T) + hard_weight * CE(student, labels)`` (see
:mod:`kdseg.distill.kd_loss`); the ensemble's soft labels are precomputed per case, 8-bit at
T = 1, float16 log-probabilities otherwise (:mod:`kdseg.distill.soft_labels`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kdseg.distill.methods.base import (
    KD_LOSS_KEYS,
    StudentMethod,
    StudentRun,
    TeacherFiles,
    TeacherNeeds,
    teacher_model,
)
from kdseg.distill.students import train_from_soft_labels


class EnsembleKD(StudentMethod):
    name = "kd"
    keys = ("ensembles", *KD_LOSS_KEYS)
    loss_keys = KD_LOSS_KEYS
    summary = "soft labels of an ensemble (or one teacher) + weighted CE (Noothout et al.)"

    def needs(self, config: Mapping[str, Any], run: StudentRun) -> TeacherNeeds:
        return TeacherNeeds(soft_labels=(teacher_model(config, run.teacher),))

    def train(
        self, settings: Mapping[str, Any], teachers: TeacherFiles, **common: Any
    ) -> dict[str, Any]:
        """KD from the one soft-label source, from random or ``init`` weights (the methods
        built on this one: teacher assistants, online KD's phase 2)."""
        return train_from_soft_labels(
            teachers.soft_labels[0], settings, init=teachers.init, **common
        )


METHOD = EnsembleKD()
