"""Train one segmentation network on reference labels (a teacher or a baseline).

Ties the pieces together: the preprocessed dataset's training cases (memory-mapped), the
class-balanced sampler, the loss, the shared training loop with checkpoints, validation Dice
on the validation cases, and the final model file with what is needed to apply it.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kdseg.atomic import atomic_path
from kdseg.data.preprocess import load_manifest, open_case
from kdseg.errors import ConfigError
from kdseg.figures.curves import plot_training_curves
from kdseg.infer import InferenceSpec, predict_probabilities
from kdseg.losses import build_loss
from kdseg.model_file import save_model
from kdseg.nets import build_network, count_parameters, input_geometry
from kdseg.provenance import provenance
from kdseg.train.loop import StepLoss, TrainSettings, train
from kdseg.train.sampling import Augmentation, CaseArrays, PatchSampler

log = logging.getLogger("kdseg")

LOOP_KEYS = set(TrainSettings.__dataclass_fields__)


def choose_device(setting: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU; or an explicit torch device string."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def cases_of_split(manifest: Mapping[str, Any], split: str) -> list[str]:
    """Case names of one split, in manifest order."""
    return [c["case"] for c in manifest["cases"] if c["split"] == split]


def mean_dice(prediction: np.ndarray, reference: np.ndarray, num_classes: int) -> float:
    """Mean Dice over the foreground classes (both empty: 1; one empty: 0)."""
    scores = []
    for c in range(1, num_classes):
        p, r = prediction == c, reference == c
        denom = int(p.sum()) + int(r.sum())
        scores.append(1.0 if denom == 0 else 2.0 * int((p & r).sum()) / denom)
    return float(np.mean(scores))


def inference_spec(architecture: Mapping[str, Any]) -> InferenceSpec:
    """The inference settings of an architecture config section."""
    patch = tuple(architecture["patch"])
    spec = InferenceSpec(
        spatial_dims=len(patch),
        patch=patch,
        orientations=tuple(architecture.get("orientations", (0, 1, 2))),
    )
    return spec.with_settings(architecture.get("inference"))


def build_sampler(
    preprocessed: str | Path,
    manifest: Mapping[str, Any],
    architecture: Mapping[str, Any],
    training: Mapping[str, Any],
    model: nn.Module,
    seed: int,
    extra: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> PatchSampler:
    """The patch sampler over the training cases (``extra``: per-case extra targets)."""
    cases = []
    for name in cases_of_split(manifest, "train"):
        image, label = open_case(preprocessed, name)
        cases.append(CaseArrays(name, image, label, dict((extra or {}).get(name, {}))))
    margin, divisor = input_geometry(model)
    patch = [int(p) for p in architecture["patch"]]
    if any(p % divisor for p in patch):
        raise ConfigError(
            f"architecture {architecture['network']}: patch {patch} must be a multiple of "
            f"{divisor} for this network"
        )
    sampling = training.get("sampling", {})
    return PatchSampler(
        cases,
        num_classes=len(manifest["dataset"]["labels"]),
        patch=patch,
        batch_size=int(training.get("batch_size", 4)),
        seed=seed,
        orientations=architecture.get("orientations", (0, 1, 2)),
        margin=margin,
        class_ratios=sampling.get("class_ratios"),
        augmentation=Augmentation.from_config(training.get("augmentation", {})),
        max_locations=int(sampling.get("max_locations", 2000)),
    )


def make_validator(
    preprocessed: str | Path,
    manifest: Mapping[str, Any],
    spec: InferenceSpec,
    device: torch.device,
    max_cases: int,
):
    """A function model -> mean validation Dice at preprocessed resolution (None: no cases)."""
    names = cases_of_split(manifest, "validation")[:max_cases]
    if not names:
        return None
    num_classes = len(manifest["dataset"]["labels"])

    def validate(model: nn.Module) -> float:
        scores = []
        for name in names:
            image, label = open_case(preprocessed, name)
            probs = predict_probabilities(model, image, spec, device=device, amp=False)
            scores.append(mean_dice(probs.argmax(0), np.asarray(label), num_classes))
        return float(np.mean(scores))

    return validate


def write_history(path: str | Path, history: list[dict[str, float]]) -> None:
    """The per-iteration loss (and validation Dice where measured) as CSV."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["iteration", "loss", "lr", "validation_dice"])
        writer.writeheader()
        writer.writerows(history)


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


StepLossFactory = Callable[[int, torch.device], StepLoss]


def train_network(
    preprocessed: str | Path,
    model_out: str | Path,
    history_out: str | Path,
    curves_out: str | Path,
    checkpoint: str | Path,
    architecture: Mapping[str, Any],
    training: Mapping[str, Any],
    seed: int,
    make_step_loss: StepLossFactory,
    name: str = "model",
    threads: int = 1,
    extra: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a network with a given loss; write the model file, history CSV and curves.

    ``make_step_loss(num_classes, device)`` returns ``f(net, batch) -> loss``; ``extra`` adds
    per-case arrays (e.g. soft labels) that the sampler cuts like the labels; ``meta`` is
    stored in the model file.
    """
    torch.set_num_threads(threads)
    manifest = load_manifest(preprocessed)
    num_classes = len(manifest["dataset"]["labels"])
    device = choose_device(training.get("device", "auto"))
    torch.manual_seed(seed)  # initial weights follow the run's seed
    model = build_network(
        architecture["network"],
        len(manifest["modalities"]),
        num_classes,
        **architecture.get("kwargs", {}),
    )
    spec = inference_spec(architecture)
    sampler = build_sampler(preprocessed, manifest, architecture, training, model, seed, extra)
    step_loss = make_step_loss(num_classes, device)
    settings = TrainSettings(**{k: v for k, v in training.items() if k in LOOP_KEYS})
    validate = make_validator(
        preprocessed, manifest, spec, device, int(training.get("validation_cases", 4))
    )
    log.info(
        "%s: %s (%d parameters) on %s, %d training cases, seed %d",
        name, architecture["network"], count_parameters(model), device,
        len(sampler.cases), seed,
    )  # fmt: skip
    result = train(model, sampler, step_loss, settings, seed, checkpoint, device, validate, name)
    use_best = settings.weights == "best" and result.best_state is not None
    state = result.best_state if use_best else result.final_state
    info = model_metadata(manifest, architecture, spec, model)
    info.update(
        dict(meta or {}),
        seed=seed,
        iterations=settings.iterations,
        weights="best" if use_best else "final",
        best_iteration=result.best_iteration,
        best_validation_dice=result.best_score,
        name=name,
        provenance=provenance(
            {"architecture": dict(architecture), "training": dict(training), **dict(meta or {})},
            seed,
        ),
    )
    write_history(history_out, result.history)
    plot_training_curves(result.history, curves_out, title=name)
    save_model(model_out, {k: v.cpu() for k, v in state.items()}, info)
    Path(checkpoint).unlink(missing_ok=True)  # the model file now holds the result
    return info


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
) -> dict[str, Any]:
    """Train on reference labels (a teacher or a baseline)."""
    return train_network(
        preprocessed, model_out, history_out, curves_out, checkpoint, architecture, training,
        seed, label_step_loss(loss), name, threads, meta={"loss": dict(loss)},
    )  # fmt: skip


def label_step_loss(
    loss: Mapping[str, Any],
) -> Callable[[int, torch.device], StepLoss]:
    """The step-loss factory of training on reference labels with a ``losses`` entry."""

    def make_step_loss(num_classes: int, device: torch.device) -> StepLoss:
        criterion = build_loss(dict(loss), num_classes).to(device)
        return lambda net, batch: criterion(net(batch["image"]), batch["label"])

    return make_step_loss
