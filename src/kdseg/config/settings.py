"""Settings as a job sees them: the config per dataset, architecture and training budget."""

from __future__ import annotations

from typing import Any

from kdseg.config.model_ids import model_architecture
from kdseg.config.study_file import canonical


def runs_on(entry: dict[str, Any], dataset: str) -> bool:
    """Whether an ensemble or student entry is trained on ``dataset`` (no list: on all)."""
    return dataset in entry.get("datasets", [dataset])


def dataset_view(config: dict[str, Any], dataset: str) -> dict[str, Any]:
    """The config as one dataset sees it: only the ensembles and students trained on it."""
    view = dict(config)
    view["ensembles"] = {k: v for k, v in config["ensembles"].items() if runs_on(v, dataset)}
    view["students"] = {k: v for k, v in config["students"].items() if runs_on(v, dataset)}
    return view


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied key by key (nested dicts merged, others replaced),
    keys in sorted order (the params Snakemake compares then do not depend on where a value
    came from)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return canonical(out)


def architecture_settings(config: dict[str, Any], dataset: str, arch: str) -> dict[str, Any]:
    """A named architecture with the dataset's changes applied."""
    changes = config["datasets"][dataset].get("architectures", {}).get(arch, {})
    return deep_merge(config["architectures"][arch], changes)


def trained_architecture(config: dict[str, Any], dataset: str, arch: str) -> dict[str, Any]:
    """What training depends on: the architecture without its ``inference`` section (which
    the prediction jobs apply, so changing it never re-trains a network)."""
    settings = architecture_settings(config, dataset, arch)
    settings.pop("inference", None)
    settings.pop("training", None)  # part of the training settings (training_settings)
    return settings


def inference_settings(config: dict[str, Any], dataset: str, model_id: str) -> dict[str, Any]:
    """The config ``inference`` section of a single model's architecture on a dataset."""
    arch = model_architecture(config, model_id)
    return architecture_settings(config, dataset, arch).get("inference", {})


def training_settings(
    config: dict[str, Any], dataset: str, arch: str | None = None
) -> dict[str, Any]:
    """The training section with the dataset's changes applied, then (``arch``) those of the
    architecture (``architectures.<arch>.training``, with the dataset's changes to it)."""
    settings = deep_merge(config["training"], config["datasets"][dataset].get("training", {}))
    if arch is None:
        return settings
    return deep_merge(settings, architecture_settings(config, dataset, arch).get("training", {}))


RUNTIME_TRAINING = ("checkpoint_every", "device", "loader_workers", "log_every", "rotate_on")
"""Training settings that decide where a job runs and how it reports, not what it learns: they
are no job param (changing one re-runs nothing); the job reads them from the config."""


def learning_settings(config: dict[str, Any], dataset: str, arch: str) -> dict[str, Any]:
    """The training settings that shape the weights (a training job's params)."""
    settings = training_settings(config, dataset, arch)
    return {k: v for k, v in settings.items() if k not in RUNTIME_TRAINING}


def runtime_settings(
    config: dict[str, Any], dataset: str, arch: str | None = None
) -> dict[str, Any]:
    """The training settings that do not shape the weights (:data:`RUNTIME_TRAINING`)."""
    settings = training_settings(config, dataset, arch)
    return {k: settings[k] for k in RUNTIME_TRAINING if k in settings}


def scaled_training(training: dict[str, Any], budget: int) -> dict[str, Any]:
    """Training settings for ``budget`` times the iterations (validation, checkpoints and
    progress lines at the same intervals)."""
    return {**training, "iterations": int(training["iterations"]) * budget}
