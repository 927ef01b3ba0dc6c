"""What every student method declares: its config keys, the students it trains and the teacher
outputs each student needs. Declarations only (no torch): the workflow reads them to build its
DAG; how a method trains lives in :mod:`kdseg.distill.trainers`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kdseg.config.model_ids import StudentRun, teacher_model
from kdseg.errors import ConfigError

COMMON_KEYS = ("method", "architecture", "seeds", "datasets")
# the paper's KD loss settings (kdseg.distill.kd_loss.KDLoss and the soften rule), read by
# several methods
KD_LOSS_KEYS = ("soft_loss", "temperature", "hard_weight", "soft_dice_weight", "soften")
# where a kd student's patches go (kdseg.distill.patch_guides; ours)
PATCH_KEYS = ("patch_source", "uncertain_patches", "uncertain_entropy")


@dataclass(frozen=True)
class TeacherNeeds:
    """Model ids whose outputs a student reads: soft labels, model files, initial weights."""

    soft_labels: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    init: str | None = None


@dataclass(frozen=True)
class Phase:
    """A training phase of a method's own, run before its students: one workflow rule, which
    rules/distill.smk builds from this declaration (online KD's phase 1)."""

    rule: str  # the rule's name
    script: str  # its job script in workflow/scripts/
    model: str  # model-id pattern of one job (kdseg.config.model_ids); it writes <model>/<net>
    networks: tuple[str, ...]  # the <net> model files a job writes
    # networks of an architecture and loss of their own: the entry's <partner>: {architecture,
    # loss}; the job gets params <partner>_architecture and <partner>_loss
    partners: tuple[str, ...] = ()


@dataclass
class TeacherFiles:
    """The files of :class:`TeacherNeeds`, as the training job receives them."""

    soft_labels: Sequence[str] = field(default_factory=list)
    models: Sequence[str] = field(default_factory=list)
    init: str | None = None


class StudentMethod:
    """Base of the student methods; subclasses set ``name``, ``keys``, ``loss_keys``,
    ``summary`` and, where it is not the method's name, ``trainer``."""

    name: str = ""
    keys: tuple[str, ...] = ()  # entry keys the method reads, besides COMMON_KEYS
    loss_keys: tuple[str, ...] = ()  # the keys training depends on (rule params)
    summary: str = ""
    # the module of kdseg.distill.trainers whose ``train`` trains the students ("": ``name``)
    trainer: str = ""
    phase: Phase | None = None  # a training phase of its own before its students

    @property
    def trainer_module(self) -> str:
        """The dotted name of the module whose ``train`` trains this method's students."""
        return f"kdseg.distill.trainers.{self.trainer or self.name}"

    def check_keys(self, student: str, entry: Mapping[str, Any]) -> None:
        """Keys the user wrote that this method does not use are errors."""
        unused = sorted(set(entry) - set(COMMON_KEYS) - set(self.keys))
        if unused:
            raise ConfigError(
                f"config key 'students.{student}.{unused[0]}': not used by method "
                f"{self.name!r} (its keys: {', '.join(COMMON_KEYS + self.keys)})"
            )

    def prepare(self, config: dict[str, Any], student: str) -> None:
        """Fill in derived settings after schema validation (default: nothing)."""

    def check(self, config: Mapping[str, Any], student: str) -> None:
        """Semantic checks of the entry against the config (default: ensembles exist)."""
        entry = config["students"][student]
        if not entry.get("ensembles"):
            raise ConfigError(
                f"config key 'students.{student}.ensembles': required by method {self.name!r}"
            )
        for ens in entry["ensembles"]:
            if ens not in config["ensembles"]:
                raise ConfigError(
                    f"config key 'students.{student}.ensembles': {ens!r} is not defined in "
                    "'ensembles'"
                )

    def runs(self, config: Mapping[str, Any], student: str) -> list[StudentRun]:
        """Every student this entry trains (default: one per ensemble and seed)."""
        entry = config["students"][student]
        return [
            StudentRun(student, ens, entry["architecture"], seed)
            for ens in entry["ensembles"]
            for seed in entry["seeds"]
        ]

    def final_runs(self, config: Mapping[str, Any], student: str) -> list[StudentRun]:
        """The students the method is compared by (default: all of :meth:`runs`)."""
        return self.runs(config, student)

    def settings(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """The entry's values of ``loss_keys`` (what training depends on); ``soften`` only
        where the temperature is not 1 (both rules give the same targets at T = 1)."""
        settings = {k: entry[k] for k in self.loss_keys if k in entry}
        if "soften" in settings and float(entry["temperature"]) == 1:
            del settings["soften"]
        return settings

    def phase_models(self, config: Mapping[str, Any], student: str) -> list[str]:
        """Model ids of the networks that a phase of the method's own trains before its
        students (default: none; online KD: the phase-1 teacher and student)."""
        return []

    def phase_settings(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """What that phase depends on (default: the students' :meth:`settings`)."""
        return self.settings(entry)

    def partner(self, entry: Mapping[str, Any], partner: str) -> tuple[str, str]:
        """The architecture and loss names of a :attr:`Phase.partners` network (default: the
        entry's ``<partner>: {architecture, loss}``)."""
        return entry[partner]["architecture"], entry[partner]["loss"]

    def needs(self, config: Mapping[str, Any], run: StudentRun) -> TeacherNeeds:
        raise NotImplementedError

    def teacher_of(self, config: Mapping[str, Any], run: StudentRun) -> str:
        """The model id a student is compared with as its teacher (default: the ensemble's
        model, or its only member)."""
        return teacher_model(config, run.teacher)

    def budget(self, config: Mapping[str, Any], run: StudentRun) -> int:
        """The iterations a student has trained, in multiples of ``training.iterations``: its
        baseline is the one of the same budget when the study trains it
        (``baselines.budgets``)."""
        return 1
