"""The paper's students (Noothout et al. 2022): distilled from an ensemble's soft labels.

``loss = soft(student, ensemble target at T) + hard_weight * CE(student, labels)`` (see
:mod:`kdseg.distill.kd_loss`); the ensemble's soft labels are precomputed per case, 8-bit at
T = 1, float16 log-probabilities otherwise (:mod:`kdseg.distill.soft_labels`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kdseg.config.methods.base import KD_LOSS_KEYS, PATCH_KEYS, StudentMethod, TeacherNeeds
from kdseg.config.model_ids import StudentRun, teacher_model


class EnsembleKD(StudentMethod):
    name = "kd"
    keys = ("ensembles", *KD_LOSS_KEYS, *PATCH_KEYS)
    loss_keys = (*KD_LOSS_KEYS, *PATCH_KEYS)
    summary = "soft labels of an ensemble (or one teacher) + weighted CE (Noothout et al.)"
    trainer = "kd"  # also of its subclasses: online KD's phase 2, every assistant link

    def needs(self, config: Mapping[str, Any], run: StudentRun) -> TeacherNeeds:
        return TeacherNeeds(soft_labels=(teacher_model(config, run.teacher),))


METHOD = EnsembleKD()
