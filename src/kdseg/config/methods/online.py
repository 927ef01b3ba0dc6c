"""Online distillation with the best teacher (METHODS 2c; Liu et al. 2023).

Phase 1 (:func:`kdseg.distill.trainers.online.train_online_pair`, its own rule): a deeper
teacher and a light student train together in one run of the shared loop; the teacher learns
from the labels, the student with the paper's KD loss against the *current* teacher's (detached)
probabilities; the teacher's weights with the best validation Dice are kept (the final ones when
the config validates never). Both phase-1 networks are evaluated:
``online/<entry>/<teacher>/<arch>/seed<k>/teacher`` and ``.../student``. Phase 2: the student is
distilled from the best teacher's soft labels; by default (``init: online``, our choice) it
continues from the phase-1 student's weights, so it has seen twice the iterations of a baseline;
``init: scratch`` starts from random weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kdseg.config.methods.base import KD_LOSS_KEYS, Phase, TeacherNeeds
from kdseg.config.methods.kd import EnsembleKD
from kdseg.config.model_ids import ONLINE_PAIR, StudentRun, online_id
from kdseg.errors import ConfigError


class OnlineKD(EnsembleKD):
    """Phase 2 is the paper's KD from the best teacher (training: :class:`EnsembleKD`'s)."""

    name = "online"
    keys = ("teacher", "init", *KD_LOSS_KEYS)
    loss_keys = (*KD_LOSS_KEYS, "init")
    summary = "teacher and student trained together; then KD from the best teacher (Liu et al.)"
    phase = Phase(
        rule="train_online",
        script="train_online.py",
        model=ONLINE_PAIR,
        networks=("teacher", "student"),
        partners=("teacher",),
    )

    def check(self, config: Mapping[str, Any], student: str) -> None:
        teacher = config["students"][student].get("teacher")
        key = f"students.{student}.teacher"
        if not teacher:
            raise ConfigError(f"config key '{key}': required by method 'online'")
        if teacher["architecture"] not in config["architectures"]:
            raise ConfigError(f"config key '{key}.architecture': {teacher['architecture']!r} "
                              "is not defined in 'architectures'")  # fmt: skip
        if teacher["loss"] not in config["losses"]:
            raise ConfigError(f"config key '{key}.loss': {teacher['loss']!r} is not defined in "
                              "'losses'")  # fmt: skip

    def runs(self, config: Mapping[str, Any], student: str) -> list[StudentRun]:
        entry = config["students"][student]
        tag = f"{entry['teacher']['architecture']}-{entry['teacher']['loss']}"
        return [StudentRun(student, tag, entry["architecture"], s) for s in entry["seeds"]]

    def phase_models(self, config: Mapping[str, Any], student: str) -> list[str]:
        """Phase 1's teacher and student of every run."""
        return [
            online_id(run, role)
            for run in self.runs(config, student)
            for role in self.phase.networks
        ]

    def phase_settings(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Phase 1 does not depend on phase 2's ``init``."""
        settings = self.settings(entry)
        settings.pop("init", None)
        return settings

    def needs(self, config: Mapping[str, Any], run: StudentRun) -> TeacherNeeds:
        init = config["students"][run.name]["init"]
        return TeacherNeeds(
            soft_labels=(online_id(run, "teacher"),),
            init=online_id(run, "student") if init == "online" else None,
        )

    def teacher_of(self, config: Mapping[str, Any], run: StudentRun) -> str:
        return online_id(run, "teacher")

    def budget(self, config: Mapping[str, Any], run: StudentRun) -> int:
        """Phase 1 + phase 2 from the phase-1 student (``init: online``): twice the iterations."""
        return 2 if config["students"][run.name]["init"] == "online" else 1


METHOD = OnlineKD()
