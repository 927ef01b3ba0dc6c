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

These modules declare; they import no torch. Every module of this package that sets
``METHOD`` (a :class:`StudentMethod`) is a method: :data:`METHODS`, the schema's enum of
``students.<entry>.method`` and the trainer lookup (``METHOD.trainer`` names a module of
:mod:`kdseg.distill.trainers`, imported only by training jobs) all come from it, so a new method
is two new files (docs/development.md).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from kdseg.config.methods.base import (
    COMMON_KEYS,
    KD_LOSS_KEYS,
    Phase,
    StudentMethod,
    TeacherFiles,
    TeacherNeeds,
)


def discover() -> dict[str, StudentMethod]:
    """The ``METHOD`` of every module of this package, by name (sorted)."""
    found: dict[str, StudentMethod] = {}
    for module in pkgutil.iter_modules(__path__):
        method = getattr(importlib.import_module(f"{__name__}.{module.name}"), "METHOD", None)
        if not isinstance(method, StudentMethod):
            continue
        if not method.name or method.name in found:
            raise ValueError(
                f"{__name__}.{module.name}: method name {method.name!r} is empty or taken"
            )
        found[method.name] = method
    return dict(sorted(found.items()))


# updated in place (tests that add a method call discover() again)
METHODS: dict[str, StudentMethod] = discover()


def method_of(entry: Mapping[str, Any]) -> StudentMethod:
    """The method of a (validated) ``students`` entry."""
    return METHODS[entry["method"]]


def method_phases() -> list[Phase]:
    """The training phases of the methods' own (one workflow rule each)."""
    return [m.phase for m in METHODS.values() if m.phase is not None]


__all__ = [
    "COMMON_KEYS",
    "KD_LOSS_KEYS",
    "METHODS",
    "Phase",
    "StudentMethod",
    "TeacherFiles",
    "TeacherNeeds",
    "discover",
    "method_of",
    "method_phases",
]
