"""The paper's figures per dataset: Dice boxplots, footprint, qualitative panel, calibration.

Model groups are read from the model ids (``teachers/``, ``ensembles/``, ``students/``,
``baselines/``). Calibration uses the test cases' probabilities at preprocessed resolution
against the preprocessed labels: a reliability diagram of the top-class confidence and the
expected calibration error (ECE, 15 equal-width bins, weighted by voxel count) over the body
voxels of the test cases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from kdseg.atomic import atomic_path
from kdseg.data.preprocess import load_manifest, open_case
from kdseg.evaluate import model_summary
from kdseg.figures.overview import label_colormap
from kdseg.study_table import read_metrics

GROUPS = ("teachers", "ensembles", "students", "baselines")
COLOURS = {"teachers": "0.6", "ensembles": "C3", "students": "C0", "baselines": "C2"}


def group_of(model: str) -> str:
    """``teachers`` / ``ensembles`` / ``students`` / ``baselines`` from a model id."""
    return model.split("/", 1)[0]


def _save(fig: plt.Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def plot_dice_boxplots(metrics: pd.DataFrame, out_png: str | Path, title: str = "") -> None:
    """One panel per structure: Dice over test cases per model, coloured by group."""
    structures = list(dict.fromkeys(metrics["structure"]))
    models = list(dict.fromkeys(metrics["model"]))
    fig, axes = plt.subplots(1, len(structures), figsize=(2.2 + 1.9 * len(structures), 4.8),
                             sharey=True, squeeze=False, constrained_layout=True)  # fmt: skip
    for ax, structure in zip(axes[0], structures, strict=True):
        part = metrics[metrics["structure"] == structure]
        data = [part[part["model"] == m]["dice"].to_numpy() for m in models]
        box = ax.boxplot(data, vert=False, patch_artist=True, widths=0.6)
        for patch, model in zip(box["boxes"], models, strict=True):
            patch.set_facecolor(COLOURS.get(group_of(model), "0.8"))
        ax.set_title(structure, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_xlabel("Dice")
    axes[0, 0].set_yticks(range(1, len(models) + 1), models, fontsize=7)
    axes[0, 0].invert_yaxis()
    fig.suptitle(title)
    _save(fig, out_png)


def plot_footprint(summary: pd.DataFrame, out_png: str | Path, title: str = "") -> None:
    """Mean Dice against inference time and against parameters, per model group."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    for ax, column, label in ((axes[0], "seconds_per_case", "inference time per case (s)"),
                              (axes[1], "parameters", "parameters")):  # fmt: skip
        for group in GROUPS:
            part = summary[summary["model"].map(group_of) == group]
            if part.empty:
                continue
            ax.scatter(part[column], part["mean_dice"], label=group, color=COLOURS[group],
                       s=40, edgecolor="k", linewidth=0.4)  # fmt: skip
            if group != "teachers":
                for _, row in part.iterrows():
                    ax.annotate(row["model"].split("/", 1)[1], (row[column], row["mean_dice"]),
                                fontsize=6, xytext=(3, 3), textcoords="offset points")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("mean test Dice")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    _save(fig, out_png)


def reliability(
    probabilities: Sequence[np.ndarray], labels: Sequence[np.ndarray], bins: int = 15
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(bin centres, accuracy per bin, voxel fraction per bin, ECE) of top-class confidence."""
    edges = np.linspace(0, 1, bins + 1)
    count, correct, conf_sum = np.zeros(bins), np.zeros(bins), np.zeros(bins)
    for p, y in zip(probabilities, labels, strict=True):
        conf = p.max(0).ravel().astype(np.float64)
        hit = (p.argmax(0) == y).ravel()
        idx = np.clip(np.digitize(conf, edges) - 1, 0, bins - 1)
        count += np.bincount(idx, minlength=bins)
        correct += np.bincount(idx, weights=hit, minlength=bins)
        conf_sum += np.bincount(idx, weights=conf, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = correct / count
        confidence = conf_sum / count
    weight = count / count.sum()
    ece = float(np.nansum(weight * np.abs(accuracy - confidence)))
    return (edges[:-1] + edges[1:]) / 2, accuracy, weight, ece


def _test_probabilities(preprocessed: str | Path, folder: str | Path) -> tuple[list, list]:
    manifest = load_manifest(preprocessed)
    probs, labels = [], []
    for entry in (c for c in manifest["cases"] if c["split"] == "test"):
        probs.append(
            np.load(Path(folder) / f"{entry['case']}_probabilities.npy").astype(np.float32)
        )
        labels.append(np.asarray(open_case(preprocessed, entry["case"])[1]))
    return probs, labels


def plot_calibration(
    preprocessed: str | Path,
    named_predictions: dict[str, str | Path],
    out_png: str | Path,
    out_json: str | Path,
    title: str = "",
) -> dict[str, float]:
    """Reliability diagrams and ECE of the given models (e.g. ensemble, student, baseline)."""
    fig, ax = plt.subplots(figsize=(5, 4.5), constrained_layout=True)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    eces = {}
    for model, folder in named_predictions.items():
        probs, labels = _test_probabilities(preprocessed, folder)
        centres, acc, _, ece = reliability(probs, labels)
        eces[model] = ece
        ax.plot(centres, acc, "o-", ms=3, color=COLOURS.get(group_of(model)),
                label=f"{model} (ECE {ece:.3f})")  # fmt: skip
    ax.set_xlabel("confidence (top-class probability)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=6)
    ax.set_title(title, fontsize=9)
    _save(fig, out_png)
    with atomic_path(out_json) as tmp:
        tmp.write_text(json.dumps({"ece": eces, "bins": 15}, indent=2) + "\n")
    return eces


def plot_qualitative(
    preprocessed: str | Path,
    named_predictions: dict[str, str | Path],
    std_from: str | None,
    out_png: str | Path,
    title: str = "",
) -> str:
    """Image, reference and each model's labels on the axial slice with most foreground of the
    first test case, plus the member standard deviation of ensemble ``std_from`` (None: no
    such panel); returns the case shown."""
    manifest = load_manifest(preprocessed)
    case = next(c["case"] for c in manifest["cases"] if c["split"] == "test")
    image, label = open_case(preprocessed, case)
    label = np.asarray(label)
    z = int(np.argmax((label > 0).sum(axis=(0, 1))))
    n_labels = max(manifest["dataset"]["labels"].values()) + 1
    cmap = label_colormap(n_labels)
    panels = [("image", None), ("reference", label[..., z])]
    for model, folder in named_predictions.items():
        probs = np.load(Path(folder) / f"{case}_probabilities.npy")
        panels.append((model, probs[..., z].argmax(0)))
    columns = len(panels) + (std_from is not None)
    fig, axes = plt.subplots(1, columns, figsize=(2.4 * columns, 2.9), squeeze=False,
                             constrained_layout=True)  # fmt: skip
    axes = axes[0]
    img = np.asarray(image[0][..., z]).T
    lo, hi = np.percentile(img, [1, 99])
    for ax, (name, lab) in zip(axes, panels, strict=False):
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, origin="lower")
        if lab is not None:
            ax.imshow(lab.T, cmap=cmap, vmin=0, vmax=n_labels - 1, origin="lower",
                      interpolation="nearest")  # fmt: skip
        ax.set_title(name, fontsize=7)
        ax.axis("off")
    if std_from is not None:
        std = np.load(Path(named_predictions[std_from]) / f"{case}_std.npy")[..., z]
        shown = axes[-1].imshow(std.astype(float).T, cmap="magma", origin="lower", vmin=0)
        axes[-1].set_title(f"{std_from}: member sd", fontsize=7)
        axes[-1].axis("off")
        fig.colorbar(shown, ax=axes[-1], fraction=0.046)
    fig.suptitle(f"{title} {case}, axial slice {z}", fontsize=9)
    _save(fig, out_png)
    return case


def plot_study_figures(
    models: Sequence[str],
    metrics: Sequence[str | Path],
    predictions: Sequence[str | Path],
    preprocessed: str | Path,
    dataset: str,
    boxplots: str | Path,
    footprint: str | Path,
    qualitative: str | Path,
    calibration: str | Path,
    calibration_json: str | Path,
) -> None:
    """All figures of one dataset (``models``, ``metrics``, ``predictions`` in one order)."""
    table = read_metrics(metrics)
    folders = dict(zip(models, predictions, strict=True))
    summary = pd.DataFrame(
        model_summary(m, Path(p) / "inference.json")
        for m, p in zip(metrics, predictions, strict=True)
    )
    plot_dice_boxplots(table, boxplots, title=f"{dataset}: test Dice per structure")
    plot_footprint(summary, footprint,
                   title=f"{dataset}: Dice against cost")  # fmt: skip
    # ensembles, students and baselines; a study of teachers alone shows its teachers
    compared = {m: folders[m] for m in models if group_of(m) != "teachers"} or folders
    plot_calibration(preprocessed, compared, calibration, calibration_json,
                     title=f"{dataset}: reliability (test voxels)")  # fmt: skip
    ensembles = [m for m in models if group_of(m) == "ensembles"]
    std_from = ensembles[0] if ensembles else None
    plot_qualitative(preprocessed, compared, std_from, qualitative, title=dataset)
