"""Limit-trained multi-teacher students (METHODS 2b; Ben Loussaief et al. 2023).

The teachers are the members of an ensemble; with ``ensembles.<name>.subsets: K`` each member
is trained on one of K disjoint, patient-respecting subsets of the training cases (drawn with
the dataset's split seed: :func:`kdseg.data.splits.disjoint_subsets`). Each teacher's soft labels
are stored separately; per voxel of every batch the student's target is the adaptive mean of
:func:`kdseg.distill.adaptive.adaptive_target` (teacher weights: softmax over teachers of
``-CE / tau`` against the reference; our rule, the paper's is not public), and the loss is the
paper's KD loss against that target (at temperature T != 1: :func:`adaptive_step_loss`). The
tables also show each teacher and their plain mean (the ensemble).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kdseg.config.methods.base import KD_LOSS_KEYS, StudentMethod, TeacherNeeds
from kdseg.config.model_ids import StudentRun, ensemble_members


class AdaptiveMultiTeacherKD(StudentMethod):
    name = "adaptive"
    keys = ("ensembles", *KD_LOSS_KEYS, "tau")
    loss_keys = (*KD_LOSS_KEYS, "tau")
    summary = "per-voxel adaptive mean of several (limit-trained) teachers (Ben Loussaief et al.)"

    def needs(self, config: Mapping[str, Any], run: StudentRun) -> TeacherNeeds:
        return TeacherNeeds(soft_labels=tuple(ensemble_members(config, run.teacher)))


METHOD = AdaptiveMultiTeacherKD()
