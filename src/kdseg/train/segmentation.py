"""Train one segmentation network on reference labels (a teacher or a baseline).

Ties the pieces together: the preprocessed dataset's training cases (memory-mapped), the
class-balanced sampler, the loss, the shared training loop with checkpoints, validation Dice
on the validation cases, and the final model file with what is needed to apply it.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kdseg.data.preprocess import load_manifest, open_case
from kdseg.data.splits import training_subset
from kdseg.errors import ConfigError
from kdseg.evaluation.curve_figure import plot_training_curves
from kdseg.evaluation.metrics import class_dice
from kdseg.models.losses import build_loss
from kdseg.models.model_file import load_weights, read_model_file, save_model
from kdseg.models.windows import InferenceSpec, predict_probabilities
from kdseg.nets import build_network, count_parameters, input_geometry
from kdseg.runtime.atomic import atomic_path
from kdseg.runtime.device import choose_device
from kdseg.runtime.provenance import provenance
from kdseg.train.loop import StepLoss, TrainResult, TrainSettings, train
from kdseg.train.sampling import (
    Augmentation,
    CaseArrays,
    PatchGuides,
    PatchSampler,
    Sampling,
)

log = logging.getLogger("kdseg")

LOOP_KEYS = set(TrainSettings.__dataclass_fields__)
UNRECORDED_TRAINING = ("device",)  # where training runs, not what it learns


def cases_of_split(manifest: Mapping[str, Any], split: str) -> list[str]:
    """Case names of one split, in manifest order."""
    return [c["case"] for c in manifest["cases"] if c["split"] == split]


def structure_columns(labels: Mapping[str, Any]) -> list[str]:
    """History columns of the per-structure validation Dice, in label-value order
    (``validation_dice_<structure>``)."""
    ordered = sorted(labels, key=lambda name: int(labels[name]))
    return [f"validation_dice_{name}" for name in ordered[1:]]


def validation_scores(
    per_case: Sequence[Sequence[float]], labels: Mapping[str, Any]
) -> dict[str, float]:
    """``validation_dice`` (mean over structures of the mean over cases) and one
    :func:`structure_columns` entry per structure, from each case's :func:`class_dice`."""
    per_structure = np.mean(per_case, axis=0)
    columns = structure_columns(labels)
    return {"validation_dice": float(per_structure.mean()),
            **{c: float(v) for c, v in zip(columns, per_structure, strict=True)}}  # fmt: skip


def inference_spec(architecture: Mapping[str, Any], padding: str = "edge") -> InferenceSpec:
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
    training: Mapping[str, Any],
    model: nn.Module,
    seed: int,
    extra: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    training_cases: Sequence[str] | None = None,
    guides: PatchGuides | None = None,
) -> PatchSampler:
    """The patch sampler over the training cases (``extra``: per-case extra targets;
    ``training_cases``: a subset of the training split, e.g. of a limit-trained teacher;
    ``guides``: placement labels and focus voxels other than the labels, e.g. a student's)."""
    guides = guides or PatchGuides()
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
    sampling = Sampling.from_config(training.get("sampling", {}))
    return PatchSampler(
        cases,
        num_classes=len(manifest["dataset"]["labels"]),
        patch=patch,
        batch_size=int(training.get("batch_size", 4)),
        seed=seed,
        orientations=architecture.get("orientations", (0, 1, 2)),
        margin=margin,
        class_ratios=sampling.class_ratios,
        augmentation=Augmentation.from_config(training.get("augmentation", {})),
        max_locations=int(sampling.max_locations),
        rule=sampling.rule,
        percent_bg_full_bg=float(sampling.percent_bg_full_bg),
        focus_fraction=guides.focus_fraction,
        padding=training.get("padding", "edge"),
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
    labels = manifest["dataset"]["labels"]

    def validate(model: nn.Module) -> dict[str, float]:
        per_case = []
        for name in names:
            image, label = open_case(preprocessed, name)
            probs = predict_probabilities(model, image, spec, device=device, amp=False)
            per_case.append(class_dice(probs.argmax(0), np.asarray(label), len(labels)))
        return validation_scores(per_case, labels)

    return validate


def write_history(path: str | Path, history: list[dict[str, float]]) -> None:
    """The per-iteration loss (and validation Dice, mean and per structure, where measured)
    as CSV."""
    first = ("iteration", "loss", "lr", "validation_dice")
    fields = list(dict.fromkeys([*first, *(key for row in history for key in row)]))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)  # as csv.DictWriter writes them (missing: ""), in less time
        writer.writerow(fields)
        writer.writerows([row.get(key, "") for key in fields] for row in history)


def live_progress(
    history_out: str | Path, curves_out: str | Path, title: str
) -> Callable[[list[dict[str, float]]], None]:
    """The training loop's ``progress``: rewrite the history CSV and its curves (each
    atomically), so that a running job can be watched: about 0.1 s per call for a history of
    1000 rows, 0.4 s for 100000 (2-core machine)."""

    def write(history: list[dict[str, float]]) -> None:
        write_history(history_out, history)
        plot_training_curves(history, curves_out, title=title)

    return write


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


StepLossFactory = Callable[[int, torch.device, nn.Module], StepLoss]
# (in_channels, num_classes) -> (module trained, network validated, its inference settings)
NetworkBuilder = Callable[[int, int], tuple[nn.Module, nn.Module, InferenceSpec]]
# (loop result, the module built, manifest, metadata common to every model of the run)
# -> what the run returns
ModelWriter = Callable[[TrainResult, nn.Module, Mapping[str, Any], dict[str, Any]], dict[str, Any]]
"""``make_step_loss(num_classes, device, network)`` -> ``f(net, batch) -> loss``. A step loss
that is an ``nn.Module`` with parameters (feature adapters, a co-trained network) is trained,
checkpointed and resumed with the network, but not saved in its model file."""


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


def input_identity(path: str | Path) -> str:
    """A short content hash of an input file, or of an input folder's listing (names, sizes;
    hidden entries such as locks left out) and JSON records (a preprocessed dataset's
    manifest, soft labels' summary: stamped with the time they were written), for the
    fingerprint of a checkpoint."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        entries = sorted(e for e in path.iterdir() if not e.name.startswith("."))
        for entry in entries:
            digest.update(f"{entry.name}\0{entry.stat().st_size}\0".encode())
        files = [e for e in entries if e.suffix == ".json" and e.is_file()]
    else:
        files = [path]
    for file in files:
        with open(file, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def training_fingerprint(
    preprocessed: str | Path,
    architecture: Mapping[str, Any],
    training: Mapping[str, Any],
    training_cases: Sequence[str] | None = None,
    init: str | Path | None = None,
) -> dict[str, Any]:
    """What shapes a network's weights besides the loop settings (which the loop records)
    and the loss or method settings (the caller's): network and patch, sampling and
    augmentation, training cases, the data and the initial weights (by content)."""
    return {
        "architecture": dict(architecture),
        "training": {
            k: v for k, v in training.items() if k not in LOOP_KEYS | set(UNRECORDED_TRAINING)
        },
        "training_cases": "all" if training_cases is None else sorted(training_cases),
        "data": input_identity(preprocessed),
        "init": None if init is None else input_identity(init),
    }


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
    training_cases: Sequence[str] | None = None,
    init: str | Path | None = None,
    fingerprint: Mapping[str, Any] | None = None,
    build: NetworkBuilder | None = None,
    write_models: ModelWriter | None = None,
    guides: PatchGuides | None = None,
) -> dict[str, Any]:
    """Train a network with a given loss; write the model file, history CSV and curves.

    ``make_step_loss``: see :data:`StepLossFactory`; ``extra`` adds per-case arrays (e.g. soft
    labels) that the sampler cuts like the labels; ``guides``: where patches go besides the
    labels (:class:`PatchGuides`); ``meta`` is stored in the model file;
    ``training_cases`` restricts training to some training cases; ``init`` starts from the
    weights of a model file instead of a random initialisation; ``fingerprint``: the loss or
    method settings and teacher files (:func:`input_identity`) that shape the weights, recorded
    in the checkpoint with :func:`training_fingerprint` (default: ``meta``).

    Methods that train more than one network in one run (online KD's teacher and student)
    pass ``build`` (the trained module, the network validated, its inference settings) and
    ``write_models`` (the model files of the result, returned instead of the one model's
    metadata); the loop, sampler, checkpoints, validation and progress are the same.
    """
    torch.set_num_threads(threads)
    manifest = load_manifest(preprocessed)
    num_classes = len(manifest["dataset"]["labels"])
    device = choose_device(training.get("device", "auto"))
    torch.manual_seed(seed)  # initial weights follow the run's seed
    if build is None:
        model = build_network(
            architecture["network"],
            len(manifest["modalities"]),
            num_classes,
            **architecture.get("kwargs", {}),
        )
        validated, spec = model, inference_spec(architecture, training.get("padding", "edge"))
    else:
        model, validated, spec = build(len(manifest["modalities"]), num_classes)
    if init is not None:
        load_initial_weights(model, init)
    sampler = build_sampler(
        preprocessed, manifest, architecture, training, model, seed, extra, training_cases, guides
    )
    step_loss = make_step_loss(num_classes, device, model)
    trained, prefix = model, ""
    if isinstance(step_loss, nn.Module) and any(True for _ in step_loss.parameters()):
        trained, prefix = WithObjective(model, step_loss), "network."
    settings = TrainSettings(**{k: v for k, v in training.items() if k in LOOP_KEYS})
    validate = make_validator(
        preprocessed, manifest, spec, device, int(training.get("validation_cases", 4))
    )
    log.info(
        "%s: %s (%d parameters) on %s, %d training cases, seed %d",
        name, architecture["network"], count_parameters(model), device,
        len(sampler.cases), seed,
    )  # fmt: skip
    recorded = {
        **training_fingerprint(preprocessed, architecture, training, training_cases, init),
        **dict((meta or {}) if fingerprint is None else fingerprint),
    }
    result = train(
        trained, sampler, step_loss, settings, seed, checkpoint, device,
        None if validate is None else (lambda _trained: validate(validated)), name, recorded,
        progress=live_progress(history_out, curves_out, name),
    )  # fmt: skip
    write_history(history_out, result.history)
    plot_training_curves(result.history, curves_out, title=name)
    recipe = {"architecture": dict(architecture), "training": dict(training), **dict(meta or {})}
    common = {"seed": seed, "iterations": settings.iterations, "name": name,
              "provenance": provenance(recipe, seed)}  # fmt: skip
    if write_models is not None:
        written = write_models(result, model, manifest, common)
        Path(checkpoint).unlink(missing_ok=True)
        return written
    use_best = settings.weights == "best" and result.best_state is not None
    state = network_state(result.best_state if use_best else result.final_state, prefix)
    info = model_metadata(manifest, architecture, spec, model)
    info.update(
        dict(meta or {}),
        **common,
        weights="best" if use_best else "final",
        best_iteration=result.best_iteration,
        best_validation_dice=result.best_score,
        training_cases=list(training_cases) if training_cases is not None else "all",
    )
    save_model(model_out, state, info)
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
    training_cases: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train on reference labels (a teacher or a baseline; ``training_cases``: a subset)."""
    return train_network(
        preprocessed, model_out, history_out, curves_out, checkpoint, architecture, training,
        seed, label_step_loss(loss), name, threads, meta={"loss": dict(loss)},
        training_cases=training_cases,
    )  # fmt: skip


def label_step_loss(
    loss: Mapping[str, Any],
) -> StepLossFactory:
    """The step-loss factory of training on reference labels with a ``losses`` entry."""

    def make_step_loss(num_classes: int, device: torch.device, _network: nn.Module) -> StepLoss:
        criterion = build_loss(dict(loss), num_classes).to(device)
        return lambda net, batch: criterion(net(batch["image"]), batch["label"])

    return make_step_loss
