"""Teacher-assistant distillation (METHODS 2d; our reading of Xu et al. 2021's growing
teacher assistant network, whose exact growth rule is not public in any text we could read).

A chain ``teacher -> assistant(s) -> student``, each link a KD step of the paper's loss: the
first assistant learns from the teacher's (or ensemble's) soft labels, every later network from
the previous one's. ``assistants`` names the intermediate architectures (largest first); when
it is not given, one assistant is derived (our default): the student's architecture at the
geometric mean of the teacher's and the student's widths (``features``, per level), registered
as architecture ``<student entry>_assistant``. Every network of the chain is evaluated; the
last one is the method's student.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from kdseg.config.methods.base import KD_LOSS_KEYS, TeacherNeeds
from kdseg.config.methods.kd import EnsembleKD
from kdseg.config.model_ids import (
    StudentRun,
    ensemble_members,
    model_architecture,
    teacher_model,
)
from kdseg.errors import ConfigError


def geometric_mean_width(teacher: Any, student: Any) -> Any:
    """Per-level geometric mean of two ``features`` settings (ints or equal-length lists)."""
    if isinstance(teacher, int) and isinstance(student, int):
        return max(1, round(math.sqrt(teacher * student)))
    if isinstance(teacher, list) and isinstance(student, list) and len(teacher) == len(student):
        return [max(1, round(math.sqrt(t * s))) for t, s in zip(teacher, student, strict=True)]
    raise ConfigError(
        f"features {teacher} and {student} have different shapes: no geometric mean width"
    )


class TeacherAssistantKD(EnsembleKD):
    """The paper's KD at every link of the chain (training: :class:`EnsembleKD`'s)."""

    name = "assistant"
    keys = ("ensembles", "assistants", *KD_LOSS_KEYS)
    loss_keys = KD_LOSS_KEYS
    summary = "teacher -> assistant(s) -> student, each a KD step (after Xu et al.)"

    def prepare(self, config: dict[str, Any], student: str) -> None:
        entry = config["students"][student]
        if entry.get("assistants"):
            return
        ensembles = entry.get("ensembles") or []
        if not ensembles or ensembles[0] not in config["ensembles"]:
            return  # check() reports it
        members = ensemble_members(config, ensembles[0])
        teacher_arch = config["architectures"].get(model_architecture(config, members[0]), {})
        student_arch = config["architectures"].get(entry["architecture"])
        key = f"students.{student}.assistants"
        if student_arch is None:
            return
        if teacher_arch.get("network") != student_arch["network"] or not (
            "features" in teacher_arch.get("kwargs", {})
            and "features" in student_arch.get("kwargs", {})
        ):
            raise ConfigError(
                f"config key '{key}': cannot derive an assistant between "
                f"{teacher_arch.get('network')} and {student_arch['network']} (needs one "
                "network type with 'features'); "
                "name the assistant architectures"
            )
        name = f"{student}_assistant"
        derived = copy.deepcopy(student_arch)
        derived["kwargs"]["features"] = geometric_mean_width(
            teacher_arch["kwargs"]["features"], student_arch["kwargs"]["features"]
        )
        config["architectures"][name] = derived
        for ds in config["datasets"].values():  # the student's per-dataset changes apply too
            changes = ds.get("architectures", {}).get(entry["architecture"])
            if changes is not None:
                ds["architectures"][name] = copy.deepcopy(changes)
        entry["assistants"] = [name]

    def check(self, config: Mapping[str, Any], student: str) -> None:
        super().check(config, student)
        entry = config["students"][student]
        chain = [*entry["assistants"], entry["architecture"]]
        for arch in entry["assistants"]:
            if arch not in config["architectures"]:
                raise ConfigError(
                    f"config key 'students.{student}.assistants': {arch!r} is not defined in "
                    "'architectures'"
                )
        if len(set(chain)) != len(chain):
            raise ConfigError(
                f"config key 'students.{student}.assistants': the chain {chain} repeats an "
                "architecture"
            )

    def runs(self, config: Mapping[str, Any], student: str) -> list[StudentRun]:
        entry = config["students"][student]
        return [
            StudentRun(student, ens, arch, seed)
            for ens in entry["ensembles"]
            for seed in entry["seeds"]
            for arch in [*entry["assistants"], entry["architecture"]]
        ]

    def final_runs(self, config: Mapping[str, Any], student: str) -> list[StudentRun]:
        arch = config["students"][student]["architecture"]
        return [run for run in self.runs(config, student) if run.arch == arch]

    def needs(self, config: Mapping[str, Any], run: StudentRun) -> TeacherNeeds:
        entry = config["students"][run.name]
        chain = [*entry["assistants"], entry["architecture"]]
        position = chain.index(run.arch)
        if position == 0:
            return TeacherNeeds(soft_labels=(teacher_model(config, run.teacher),))
        previous = StudentRun(run.name, run.teacher, chain[position - 1], run.seed)
        return TeacherNeeds(soft_labels=(previous.model_id,))

    def teacher_of(self, config: Mapping[str, Any], run: StudentRun) -> str:
        needs = self.needs(config, run)
        return needs.soft_labels[0]


METHOD = TeacherAssistantKD()
