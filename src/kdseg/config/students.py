"""Students and their baselines, as the entries' methods declare them (the workflow's targets)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kdseg.config.methods import method_of
from kdseg.config.model_ids import (
    StudentRun,
    baseline_id,
    baseline_models,
    soft_label_sources,
    teacher_models,
)
from kdseg.errors import ConfigError


def student_models(config: dict[str, Any], final: bool = False) -> list[str]:
    """Model ids of every student (``students/<entry>/<teacher>/<arch>/seed<k>``) that the
    entries' methods train (``final``: only the students methods are compared by, e.g. not
    the teacher assistants)."""

    return [
        run.model_id
        for name, entry in config["students"].items()
        for run in (method_of(entry).final_runs if final else method_of(entry).runs)(config, name)
    ]


def student_teachers(config: dict[str, Any]) -> list[str]:
    """Names in the teacher slot of student ids: ensembles, online entries' <arch>-<loss>."""

    runs = [StudentRun.parse(m).teacher for m in student_models(config)]
    return sorted(set(runs) | set(config["ensembles"]))


def phase_models(config: dict[str, Any]) -> list[str]:
    """Model ids of the networks that methods train in a phase of their own before their
    students (:meth:`~kdseg.config.methods.StudentMethod.phase_models`; online KD's phase 1,
    ``online/.../teacher|student``)."""

    return [
        model
        for name, entry in config["students"].items()
        for model in method_of(entry).phase_models(config, name)
    ]


def student_needs(config: dict[str, Any], model_id: str):
    """The teacher outputs (:class:`~kdseg.config.methods.TeacherNeeds`) a student reads."""

    run = StudentRun.parse(model_id)
    return method_of(config["students"][run.name]).needs(config, run)


def student_settings(config: dict[str, Any], name: str) -> dict[str, Any]:
    """What training a student entry depends on: its method and that method's settings."""

    entry = config["students"][name]
    method = method_of(entry)
    return {"method": method.name, **method.settings(entry)}


def phase_settings(config: dict[str, Any], name: str) -> dict[str, Any]:
    """What the phase of a student entry's method's own depends on (online KD's phase 1)."""

    entry = config["students"][name]
    method = method_of(entry)
    return {"method": method.name, **method.phase_settings(entry)}


def phase_partner(config: dict[str, Any], name: str, partner: str) -> tuple[str, str]:
    """The architecture and loss names of a partner network of an entry's phase (online KD's
    phase-1 teacher: ``students.<name>.teacher``)."""

    entry = config["students"][name]
    return method_of(entry).partner(entry, partner)


def baseline_of_student(config: dict[str, Any], run: Any) -> str | None:
    """The baseline a student is compared with: same architecture and seed, trained for the
    student's budget (online KD's students: twice the iterations) when the study has such a
    baseline (``baselines.budgets``), else the one of ``training.iterations``."""

    baselines = baseline_models(config)
    loss = config["baselines"]["loss"]
    budget = method_of(config["students"][run.name]).budget(config, run)
    for candidate in (baseline_id(run.arch, loss, run.seed, budget),
                      baseline_id(run.arch, loss, run.seed)):  # fmt: skip
        if candidate in baselines:
            return candidate
    return None


SOFTENED_STORAGE = "float16_softened"
"""Soft labels softened per prediction at one temperature (:mod:`kdseg.distill.soft_labels`)."""


def softened_storage(temperature: float) -> str:
    """The storage name of soft labels softened per prediction at ``temperature``."""
    return f"{SOFTENED_STORAGE}_T{temperature:g}"


def soft_label_storage(config: Mapping[str, Any], model_id: str) -> str:
    """The stored form of ``<model_id>/soft_labels`` that every student reading them needs.

    :func:`softened_storage` at T if its readers soften every prediction (``soften:
    predictions``) at T != 1 (they must then agree on T, and no other reader may need other
    targets, e.g. at T = 1 for patch placement); else ``float16_log_members`` if a reader softens
    members (``soften: members``) at T != 1 and the soft labels are of several models;
    otherwise ``float16_log_mean`` if any reader has T != 1; otherwise ``uint8``. ``config``:
    the study config as one dataset sees it."""
    members = len(soft_label_sources(config, model_id))
    readers = []  # (student, temperature, soften rule, reads T = 1 targets to place patches)
    for name, entry in config.get("students", {}).items():
        method = method_of(entry)
        if not any(
            model_id in method.needs(config, run).soft_labels for run in method.runs(config, name)
        ):
            continue
        guides = entry.get("patch_source", "labels") != "labels" or (
            float(entry.get("uncertain_patches", 0.0)) > 0
        )
        temperature = float(entry["temperature"])
        readers.append((name, temperature, entry["soften"], guides))
    per_prediction = {(n, t) for n, t, rule, _ in readers if rule == "predictions" and t != 1}
    if per_prediction:
        name, temperature = sorted(per_prediction)[0]
        others = sorted(
            n for n, t, rule, guides in readers
            if guides or rule != "predictions" or t != temperature
        )  # fmt: skip
        if others:
            raise ConfigError(
                f"students.{name}: soften: predictions at temperature {temperature:g} stores "
                f"the soft labels of {model_id} softened at that temperature, which "
                f"students.{others[0]} also reads at another temperature, rule or for patch "
                "placement; give them one temperature and soften rule"
            )
        return softened_storage(temperature)
    storage = "uint8"
    for _, temperature, rule, _ in readers:
        if temperature == 1:
            continue
        if rule == "members" and members > 1:
            return "float16_log_members"
        storage = "float16_log_mean"
    return storage


def trained_nothing(config: Mapping[str, Any]) -> str | None:
    """Why a study trains no network (no teacher, student or baseline), or None."""
    if teacher_models(config) or student_models(config) or baseline_models(config):
        return None
    if not config.get("ensembles"):
        return "it defines no 'ensembles' (nor students or baselines)"
    return "its ensembles, students and baselines name no network"
