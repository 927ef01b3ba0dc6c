"""The model-id grammar of a study: teachers, ensembles, students, baselines, online pairs.

``teachers/<arch>-<loss>/[subset<k>of<K>/]seed<s>``, ``ensembles/<name>``,
``students/<entry>/<teacher>/<arch>/seed<s>``, ``baselines/<arch>-<loss>/[x<b>/]seed<s>``,
``online/<entry>/<arch>-<loss>/<arch>/seed<s>/{teacher,student}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kdseg.errors import ConfigError

# Each kind of model id as a pattern of Snakemake wildcards: the rules' output paths, the ids
# built below and their parsers all come from these (and nowhere else).
TEACHER = "teachers/{arch}-{loss}/seed{seed}"
SUBSET_TEACHER = "teachers/{arch}-{loss}/{subset}/seed{seed}"
STUDENT = "students/{student}/{teacher}/{arch}/seed{seed}"
ONLINE_PAIR = "online/{student}/{teacher}/{arch}/seed{seed}"
BASELINE = "baselines/{arch}-{loss}/seed{seed}"
BUDGET_BASELINE = "baselines/{arch}-{loss}/x{budget}/seed{seed}"
ENSEMBLE = "ensembles/{ensemble}"
PATTERNS = (TEACHER, SUBSET_TEACHER, STUDENT, ONLINE_PAIR, BASELINE, BUDGET_BASELINE, ENSEMBLE)
KINDS = tuple(dict.fromkeys(p.split("/")[0] for p in PATTERNS))
"""The first folder of every model id (``{model}`` wildcards start with one of these)."""
DOUBLED = "doubled"
"""The folder (under a dataset's) of the doubled runs that are not the study's own models."""


def doubled(pattern: str) -> str:
    """The id (or id pattern) of a model's run with twice the iterations (the doubling check)."""
    return f"{DOUBLED}/{pattern}"


def id_regex(pattern: str) -> re.Pattern[str]:
    """A pattern's parser: ``{seed}``/``{budget}`` match digits, other wildcards one path part."""
    parts = re.split(r"\{(\w+)\}", pattern)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else
        rf"(?P<{part}>\d+)" if part in ("seed", "budget") else rf"(?P<{part}>[^/]+?)"
        for i, part in enumerate(parts)
    )  # fmt: skip
    return re.compile(regex)


_STUDENT_ID = id_regex(STUDENT)
_BASELINE_IDS = (id_regex(BASELINE), id_regex(BUDGET_BASELINE))


@dataclass(frozen=True)
class StudentRun:
    """One trained student: config entry, teacher (slot of its path), architecture, seed."""

    name: str
    teacher: str
    arch: str
    seed: int

    @property
    def model_id(self) -> str:
        return STUDENT.format(student=self.name, teacher=self.teacher, arch=self.arch,
                              seed=self.seed)  # fmt: skip

    @classmethod
    def parse(cls, model_id: str) -> StudentRun:
        match = _STUDENT_ID.fullmatch(model_id)
        if match is None:
            raise ConfigError(f"model {model_id!r}: not a student id")
        return cls(match["student"], match["teacher"], match["arch"], int(match["seed"]))


def online_id(run: StudentRun, role: str) -> str:
    """Model id of a phase-1 network of online KD (``role``: teacher or student)."""
    pair = ONLINE_PAIR.format(student=run.name, teacher=run.teacher, arch=run.arch, seed=run.seed)
    return f"{pair}/{role}"


def model_architecture(config: dict[str, Any], model_id: str) -> str:
    """The architecture name of a single model's id (teachers, students, baselines, online)."""
    kind, *parts = model_id.split("/")
    if kind == "students" and len(parts) == 4:
        return parts[2]
    tag = None  # <arch>-<loss>
    if kind == "online" and len(parts) == 5:
        if parts[4] == "student":
            return parts[2]
        tag = parts[1]
    elif kind in ("teachers", "baselines") and len(parts) in (2, 3):  # subset<k>of<K>/, x<b>/
        tag = parts[0]
    for arch in config["architectures"] if tag else ():
        if tag.startswith(f"{arch}-") and tag[len(arch) + 1 :] in config["losses"]:
            return arch
    raise ConfigError(f"model {model_id!r}: no architecture of the config matches")


def ensemble_members(config: dict[str, Any], ensemble: str) -> list[str]:
    """Model ids of an ensemble's members: ``teachers/<arch>-<loss>/seed<k>``, or with
    ``subsets: K`` ``teachers/<arch>-<loss>/subset<i>of<K>/seed<k>`` for i = 1..K (each trained
    on one of K disjoint subsets of the training cases)."""
    ens = config["ensembles"][ensemble]
    total = int(ens.get("subsets", 1))
    subsets = [None] if total == 1 else [f"subset{i}of{total}" for i in range(1, total + 1)]
    return [
        teacher_id(a, loss, s, sub)
        for a in ens["architectures"]
        for loss in ens["losses"]
        for s in ens["seeds"]
        for sub in subsets
    ]


def teacher_id(arch: str, loss: str, seed: int, subset: str | None = None) -> str:
    """``teachers/<arch>-<loss>/seed<k>``; on a subset ``.../subset<i>of<K>/seed<k>``."""
    if subset is None:
        return TEACHER.format(arch=arch, loss=loss, seed=seed)
    return SUBSET_TEACHER.format(arch=arch, loss=loss, subset=subset, seed=seed)


def teacher_models(config: dict[str, Any]) -> list[str]:
    """Model ids of every teacher some ensemble names, each once, sorted."""
    return sorted({m for ens in config["ensembles"] for m in ensemble_members(config, ens)})


def teacher_equal_to_baseline(config: dict[str, Any], baseline: str) -> str | None:
    """The teacher a baseline ``baselines/<arch>-<loss>/seed<k>`` equals, or None.

    A teacher of the same architecture, loss and seed trained on all training cases of the
    same dataset view is the same network (same settings, data and seed): the baseline reuses
    its model file instead of training it again."""
    teacher = "teachers/" + baseline.removeprefix("baselines/")  # x<budget>/: never a teacher
    return teacher if teacher in teacher_models(config) else None


def parse_teacher(model_id: str) -> tuple[str, int, int, int]:
    """(``<arch>-<loss>``, seed, subset k, subsets K) of a teacher id (K = 1: all cases)."""
    parts = model_id.split("/")
    subset = re.fullmatch(r"subset(\d+)of(\d+)", parts[2]) if len(parts) == 4 else None
    if parts[0] != "teachers" or len(parts) not in (3, 4) or (len(parts) == 4 and not subset):
        raise ConfigError(f"model {model_id!r}: not a teacher id")
    k, total = (int(subset[1]), int(subset[2])) if subset else (1, 1)
    return parts[1], int(parts[-1].removeprefix("seed")), k, total


def soft_label_sources(config: dict[str, Any], model_id: str) -> list[str]:
    """The models whose mean probabilities are ``<model_id>/soft_labels``."""
    if model_id.startswith("ensembles/"):
        return ensemble_members(config, model_id.removeprefix("ensembles/"))
    return [model_id]


def baseline_models(config: dict[str, Any]) -> list[str]:
    """Model ids of every baseline: ``baselines/<arch>-<loss>/seed<k>``."""
    b = config["baselines"]
    return [
        baseline_id(a, b["loss"], s, budget)
        for budget in b.get("budgets", [1])
        for a in b["architectures"]
        for s in b["seeds"]
    ]


def baseline_id(arch: str, loss: str, seed: int, budget: int = 1) -> str:
    """``baselines/<arch>-<loss>/seed<k>``; a baseline trained ``budget`` > 1 times the
    iterations: ``baselines/<arch>-<loss>/x<budget>/seed<k>``."""
    if budget == 1:
        return BASELINE.format(arch=arch, loss=loss, seed=seed)
    return BUDGET_BASELINE.format(arch=arch, loss=loss, budget=budget, seed=seed)


def parse_baseline(model_id: str) -> tuple[str, str, int, int]:
    """(arch, loss, seed, budget) of a baseline id (the inverse of :func:`baseline_id`)."""
    for regex in _BASELINE_IDS:
        if match := regex.fullmatch(model_id):
            fields = match.groupdict()
            return fields["arch"], fields["loss"], int(fields["seed"]), int(fields.get("budget", 1))
    raise ConfigError(f"model {model_id!r}: not a baseline id")


def teacher_model(config: Mapping[str, Any], ensemble: str) -> str:
    """The model id an ensemble stands for in tables and soft labels: its only member, or
    ``ensembles/<name>``."""
    members = ensemble_members(config, ensemble)
    return members[0] if len(members) == 1 else ensemble_id(ensemble)


def ensemble_id(name: str) -> str:
    """``ensembles/<name>``: the id of an ensemble's combined predictions."""
    return ENSEMBLE.format(ensemble=name)
