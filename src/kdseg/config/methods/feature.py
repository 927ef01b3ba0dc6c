"""Feature distillation with KL, Lovász and Dice (METHODS 2a; Ben Loussaief et al. 2023).

One (larger) teacher, run live on every training batch: its probabilities and the feature
maps of named layers are the targets of :class:`kdseg.distill.features.FeatureKDLoss`, whose
1x1 adapters train with the student (and are checkpointed with it) but are not part of the
student's model file. The teacher is frozen (eval mode, no gradients) and must take the
student's patches (same input geometry). ``layers``: ``{student: [...], teacher: [...]}``
submodule paths; when not given (our default) the bottleneck and the last decoder block of
kdseg's U-Nets are used. ``weights`` of the four terms and ``temperature``: all 1 by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kdseg.config.methods.base import StudentMethod, TeacherNeeds
from kdseg.config.model_ids import StudentRun, ensemble_members
from kdseg.errors import ConfigError


class FeatureKD(StudentMethod):
    name = "feature"
    keys = ("ensembles", "temperature", "layers", "weights")
    loss_keys = ("temperature", "layers", "weights")
    summary = "one teacher live: KL + Lovász + Dice + adapted feature MSE (Ben Loussaief et al.)"

    def check(self, config: Mapping[str, Any], student: str) -> None:
        super().check(config, student)
        for ens in config["students"][student]["ensembles"]:
            if len(ensemble_members(config, ens)) != 1:
                raise ConfigError(
                    f"config key 'students.{student}.ensembles': method 'feature' needs one "
                    f"teacher, ensemble {ens!r} has {len(ensemble_members(config, ens))}"
                )

    def needs(self, config: Mapping[str, Any], run: StudentRun) -> TeacherNeeds:
        return TeacherNeeds(models=tuple(ensemble_members(config, run.teacher)))


METHOD = FeatureKD()
