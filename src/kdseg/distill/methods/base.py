"""What every student method declares: its config keys, the students it trains, the teacher
outputs it needs, and how it trains (always through :func:`kdseg.train.segmentation.train_network`
or the shared loop, so sampler, checkpoints, model files and evaluation are common)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kdseg.distill import kd_loss
from kdseg.errors import ConfigError

COMMON_KEYS = ("method", "architecture", "seeds", "datasets")
KD_LOSS_KEYS = kd_loss.SETTINGS  # the paper's KD loss settings, read by several methods
_STUDENT_ID = re.compile(r"^students/([^/]+)/([^/]+)/([^/]+)/seed(\d+)$")


@dataclass(frozen=True)
class StudentRun:
    """One trained student: config entry, teacher (slot of its path), architecture, seed."""

    name: str
    teacher: str
    arch: str
    seed: int

    @property
    def model_id(self) -> str:
        return f"students/{self.name}/{self.teacher}/{self.arch}/seed{self.seed}"

    @classmethod
    def parse(cls, model_id: str) -> StudentRun:
        match = _STUDENT_ID.match(model_id)
        if match is None:
            raise ConfigError(f"model {model_id!r}: not a student id")
        name, teacher, arch, seed = match.groups()
        return cls(name, teacher, arch, int(seed))


@dataclass(frozen=True)
class TeacherNeeds:
    """Model ids whose outputs a student reads: soft labels, model files, initial weights."""

    soft_labels: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    init: str | None = None


@dataclass
class TeacherFiles:
    """The files of :class:`TeacherNeeds`, as the training job receives them."""

    soft_labels: Sequence[str] = field(default_factory=list)
    models: Sequence[str] = field(default_factory=list)
    init: str | None = None


class StudentMethod:
    """Base of the student methods; subclasses set ``name``, ``keys``, ``loss_keys``."""

    name: str = ""
    keys: tuple[str, ...] = ()  # entry keys the method reads, besides COMMON_KEYS
    loss_keys: tuple[str, ...] = ()  # the keys training depends on (rule params)
    summary: str = ""

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
        if float(entry.get("temperature", 1.0)) == 1:
            settings.pop("soften", None)
        return settings

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

    def train(
        self, settings: Mapping[str, Any], teachers: TeacherFiles, **common: Any
    ) -> dict[str, Any]:
        """Train one student; ``common`` are :func:`train_network`'s shared arguments."""
        raise NotImplementedError


def teacher_model(config: Mapping[str, Any], ensemble: str) -> str:
    """The model id an ensemble stands for in tables and soft labels: its only member, or
    ``ensembles/<name>``."""
    from kdseg.config import ensemble_members

    members = ensemble_members(config, ensemble)
    return members[0] if len(members) == 1 else f"ensembles/{ensemble}"
