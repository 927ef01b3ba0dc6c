"""Train one segmentation network on reference labels (a teacher or a baseline).

Ties the pieces together: the preprocessed dataset's training cases (memory-mapped), the
class-balanced sampler, the loss, the shared training loop with checkpoints, validation Dice
on the validation cases, and the final model file with what is needed to apply it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kdseg.data.preprocess import load_manifest, open_case
from kdseg.data.splits import training_subset
from kdseg.errors import ConfigError
from kdseg.evaluation.curve_figure import plot_training_curves
from kdseg.models.losses import build_loss
from kdseg.models.model_file import load_weights, read_model_file, save_model
from kdseg.models.windows import InferenceSpec
from kdseg.nets import build_network, count_parameters, input_geometry
from kdseg.runtime.device import choose_device
from kdseg.runtime.provenance import provenance
from kdseg.train.defaults import training_default
from kdseg.train.device_rotation import batch_rotation, rotation_on_device
from kdseg.train.fingerprint import training_fingerprint
from kdseg.train.history import live_progress, write_history
from kdseg.train.job import Objective, StepLossFactory, TrainingJob
from kdseg.train.loop import StepLoss, TrainResult, train
from kdseg.train.sampler import CaseArrays, PatchGuides, PatchSampler
from kdseg.train.settings import TrainingSection
from kdseg.train.validation import cases_of_split, make_validator

log = logging.getLogger("kdseg")


def inference_spec(
    architecture: Mapping[str, Any], padding: str = training_default("padding")
) -> InferenceSpec:
    """The inference settings of an architecture config section (``padding``: the training
    section's ``padding``, how the network saw the image borders)."""
    patch = tuple(architecture["patch"])
    spec = InferenceSpec(
        spatial_dims=len(patch),
        patch=patch,
        orientations=tuple(architecture.get("orientations", (0, 1, 2))),
        padding=padding,
    )
    return spec.with_settings(architecture.get("inference"))


def subset_training_cases(
    preprocessed: str | Path, subset: str, splits: Mapping[str, Any]
) -> list[str]:
    """The training cases of ``subset<k>of<K>`` of a preprocessed dataset (drawn with the
    dataset's ``splits`` settings: seed and group pattern; patients from the manifest)."""
    manifest = load_manifest(preprocessed)
    cases = cases_of_split(manifest, "train")
    patient = {c["case"]: c["patient"] for c in manifest["cases"] if "patient" in c}
    return training_subset(cases, subset, splits["seed"], splits.get("group_pattern"), patient)


def build_sampler(
    preprocessed: str | Path,
    manifest: Mapping[str, Any],
    architecture: Mapping[str, Any],
    training: Mapping[str, Any] | TrainingSection,
    model: nn.Module,
    seed: int,
    extra: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    training_cases: Sequence[str] | None = None,
    guides: PatchGuides | None = None,
    device_rotation: bool = False,
) -> PatchSampler:
    """The patch sampler over the training cases (``extra``: per-case extra targets;
    ``training_cases``: a subset of the training split, e.g. of a limit-trained teacher;
    ``guides``: placement labels and focus voxels other than the labels, e.g. a student's;
    ``device_rotation``: cut for the authors' rotation on the training device)."""
    settings, guides = TrainingSection.of(training), guides or PatchGuides()
    names = cases_of_split(manifest, "train")
    if training_cases is not None:
        outside = sorted(set(training_cases) - set(names))
        if outside:
            raise ConfigError(f"training cases {outside} are not in the training split")
        names = [n for n in names if n in set(training_cases)]
    cases = []
    for name in names:
        image, label = open_case(preprocessed, name)
        cases.append(CaseArrays(name, image, label, dict((extra or {}).get(name, {})),
                                guides.placement.get(name), guides.focus.get(name)))  # fmt: skip
    margin, divisor = input_geometry(model)
    patch = [int(p) for p in architecture["patch"]]
    if any(p % divisor for p in patch):
        raise ConfigError(
            f"architecture {architecture['network']}: patch {patch} must be a multiple of "
            f"{divisor} for this network"
        )
    sampling = settings.sampling
    return PatchSampler(
        cases,
        num_classes=len(manifest["dataset"]["labels"]),
        patch=patch,
        batch_size=int(settings.loop.batch_size),
        seed=seed,
        orientations=architecture.get("orientations", (0, 1, 2)),
        margin=margin,
        class_ratios=sampling.class_ratios,
        augmentation=settings.augmentation,
        max_locations=int(sampling.max_locations),
        rule=sampling.rule,
        percent_bg_full_bg=float(sampling.percent_bg_full_bg),
        focus_fraction=guides.focus_fraction,
        padding=settings.padding,
        device_rotation=device_rotation,
    )


def model_metadata(
    manifest: Mapping[str, Any],
    architecture: Mapping[str, Any],
    spec: InferenceSpec,
    model: nn.Module,
) -> dict[str, Any]:
    """What is needed to rebuild and apply a model trained on this dataset."""
    return {
        "architecture": {
            "network": architecture["network"],
            "kwargs": dict(architecture.get("kwargs", {})),
        },
        "in_channels": len(manifest["modalities"]),
        "classes": dict(manifest["dataset"]["labels"]),
        "spacing": list(manifest["target_spacing"]),
        "normalization": {
            "modalities": list(manifest["modalities"]),
            "ct_stats": manifest["ct_stats"],
            "settings": manifest["settings"],
        },
        "inference": spec.to_json(),
        "parameters": count_parameters(model),
    }


class WithObjective(nn.Module):
    """A network plus the trainable parts of its loss; applies the network."""

    def __init__(self, network: nn.Module, objective: nn.Module) -> None:
        super().__init__()
        self.network, self.objective = network, objective

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


def network_state(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of ``state`` under ``prefix`` (``""``: all), prefix removed, on the CPU."""
    return {k[len(prefix) :]: v.cpu() for k, v in state.items() if k.startswith(prefix)}


def load_initial_weights(model: nn.Module, path: str | Path) -> None:
    """Start from the weights of a model file of the same architecture."""
    load_weights(
        model, read_model_file(path).get("state_dict"), path,
        f"{type(model).__name__} of this architecture",
    )  # fmt: skip


def _network(
    job: TrainingJob, objective: Objective, manifest: Mapping[str, Any]
) -> tuple[nn.Module, nn.Module, InferenceSpec]:
    """The network of the run (its initial weights follow the run's seed), the network
    validated and its inference settings."""
    num_classes = len(manifest["dataset"]["labels"])
    torch.manual_seed(job.seed)
    if objective.build is not None:
        model, validated, spec = objective.build(len(manifest["modalities"]), num_classes)
    else:
        architecture = job.architecture
        model = build_network(
            architecture["network"],
            len(manifest["modalities"]),
            num_classes,
            **architecture.get("kwargs", {}),
        )
        validated, spec = model, inference_spec(architecture, job.training.padding)
    if job.init is not None:
        load_initial_weights(model, job.init)
    return model, validated, spec


def _write_model(
    job: TrainingJob,
    objective: Objective,
    result: TrainResult,
    prefix: str,
    model_parts: tuple[nn.Module, InferenceSpec, Mapping[str, Any]],
) -> dict[str, Any]:
    """The model file(s) of a finished run; the checkpoint is then removed."""
    model, spec, manifest = model_parts
    section, meta = job.training.section, dict(objective.meta or {})
    recipe = {"architecture": dict(job.architecture), "training": dict(section), **meta}
    common = {"seed": job.seed, "iterations": job.training.loop.iterations, "name": job.name,
              "provenance": provenance(recipe, job.seed)}  # fmt: skip
    if objective.write_models is not None:
        written = objective.write_models(result, model, manifest, common)
        job.checkpoint.unlink(missing_ok=True)
        return written
    use_best = job.training.loop.weights == "best" and result.best_state is not None
    state = network_state(result.best_state if use_best else result.final_state, prefix)
    info = model_metadata(manifest, job.architecture, spec, model)
    info.update(
        meta,
        **common,
        weights="best" if use_best else "final",
        best_iteration=result.best_iteration,
        best_validation_dice=result.best_score,
        training_cases=list(job.training_cases) if job.training_cases is not None else "all",
    )
    save_model(job.model_out, state, info)
    job.checkpoint.unlink(missing_ok=True)  # the model file now holds the result
    return info


def train_network(job: TrainingJob, objective: Objective) -> dict[str, Any]:
    """Train a network with a method's objective; write the model file, history CSV and
    curves (returns the model file's metadata, or what ``objective.write_models`` returns).

    Every method goes through here: the loop, sampler, checkpoints, validation and progress
    are the same for all."""
    torch.set_num_threads(job.threads)
    settings = job.training
    manifest = load_manifest(job.preprocessed)
    device = choose_device(settings.device)
    model, validated, spec = _network(job, objective, manifest)
    sampler = build_sampler(
        job.preprocessed, manifest, job.architecture, settings, model, job.seed,
        objective.extra, job.training_cases, objective.guides,
        rotation_on_device(settings.rotate_on, device, settings.augmentation),
    )  # fmt: skip
    step_loss = objective.make_step_loss(len(manifest["dataset"]["labels"]), device, model)
    trained, prefix = model, ""
    if isinstance(step_loss, nn.Module) and any(True for _ in step_loss.parameters()):
        trained, prefix = WithObjective(model, step_loss), "network."
    validate = make_validator(job.preprocessed, manifest, spec, device, settings.validation_cases)
    log.info(
        "%s: %s (%d parameters) on %s, %d training cases, seed %d",
        job.name, job.architecture["network"], count_parameters(model), device,
        len(sampler.cases), job.seed,
    )  # fmt: skip
    if sampler.device_rotation:
        log.info("%s: the authors' rotation batched on %s (training.rotate_on)", job.name, device)
    fingerprint = training_fingerprint(
        job.preprocessed, job.architecture, settings.section, job.training_cases, job.init
    )
    recorded = {**fingerprint, **objective.recorded}
    result = train(
        trained, sampler, step_loss, settings.loop, job.seed, job.checkpoint, device,
        None if validate is None else (lambda _trained: validate(validated)), job.name,
        recorded, progress=live_progress(job.history_out, job.curves_out, job.name),
        on_device=batch_rotation(sampler),
    )  # fmt: skip
    write_history(job.history_out, result.history)
    plot_training_curves(result.history, job.curves_out, title=job.name)
    return _write_model(job, objective, result, prefix, (model, spec, manifest))


def train_segmentation_model(
    preprocessed: str | Path,
    model_out: str | Path,
    history_out: str | Path,
    curves_out: str | Path,
    checkpoint: str | Path,
    architecture: Mapping[str, Any],
    loss: Mapping[str, Any],
    training: Mapping[str, Any],
    seed: int,
    name: str = "model",
    threads: int = 1,
    training_cases: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train on reference labels (a teacher or a baseline; ``training_cases``: a subset)."""
    job = TrainingJob.of(
        preprocessed=preprocessed, model_out=model_out, history_out=history_out,
        curves_out=curves_out, checkpoint=checkpoint, architecture=architecture,
        training=training, seed=seed, name=name, threads=threads, training_cases=training_cases,
    )  # fmt: skip
    return train_network(job, Objective(label_step_loss(loss), meta={"loss": dict(loss)}))


def label_step_loss(
    loss: Mapping[str, Any],
) -> StepLossFactory:
    """The step-loss factory of training on reference labels with a ``losses`` entry."""

    def make_step_loss(num_classes: int, device: torch.device, _network: nn.Module) -> StepLoss:
        criterion = build_loss(dict(loss), num_classes).to(device)
        return lambda net, batch: criterion(net(batch["image"]), batch["label"])

    return make_step_loss
