"""The budget-doubling check: which networks are trained again with twice their iterations,
and where each doubled run lives.

The curve rule (the last quarter of training gains less than 1 Dice point) is necessary, not
sufficient: a network whose curve flattens under a decaying learning rate can still gain when
its budget is doubled. ``doubling_check.networks`` names the kinds of networks (teachers,
students, baselines) that are trained again with twice the iterations and otherwise the same
settings and seed; the table of training curves shows what doubling gained.

Each doubled run is a model-id-like path under the dataset's folder:
``doubled/<model id>`` for teachers and students; for a baseline ``baselines/<arch>-<loss>/
[x<b>/]seed<k>`` the baseline of twice its budget, ``baselines/<arch>-<loss>/x<2b>/seed<k>``,
which is the study's own when it trains that budget (``baselines.budgets``), else
``doubled/baselines/<arch>-<loss>/x<2b>/seed<k>``, or the doubled teacher it equals when
teachers are checked too. No network is trained twice.
"""

from __future__ import annotations

from typing import Any

from kdseg.config.model_ids import (
    baseline_id,
    baseline_models,
    doubled,
    parse_baseline,
    teacher_equal_to_baseline,
    teacher_models,
)
from kdseg.config.students import student_models
from kdseg.errors import ConfigError


def doubling_kinds(config: dict[str, Any]) -> list[str]:
    """The kinds of networks the study's doubling check covers (none: no check)."""
    return list(config.get("doubling_check", {}).get("networks", []))


def doubling_checked(config: dict[str, Any]) -> list[str]:
    """Model ids of the networks the doubling check trains again (students: those trained by
    ``train_student``; online pairs are not checked)."""
    kinds = set(doubling_kinds(config))
    models: list[str] = []
    if "teachers" in kinds:
        models += teacher_models(config)
    if "students" in kinds:
        models += [m for m in student_models(config) if m.startswith("students/")]
    if "baselines" in kinds:
        models += baseline_models(config)
    return models


def doubled_run(config: dict[str, Any], model: str) -> str:
    """Where the doubled run of ``model`` lives, relative to its dataset's folder."""
    if model.startswith(("teachers/", "students/")):
        return doubled(model)
    if not model.startswith("baselines/"):
        raise ConfigError(
            f"model {model!r}: the doubling check covers teachers, students and baselines"
        )
    arch, loss, seed, budget = parse_baseline(model)
    twice = baseline_id(arch, loss, seed, 2 * budget)
    if twice in baseline_models(config):
        return twice
    teacher = teacher_equal_to_baseline(config, model) if budget == 1 else None
    if teacher is not None and "teachers" in doubling_kinds(config):
        return doubled(teacher)
    return doubled(twice)
