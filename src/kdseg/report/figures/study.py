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
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from kdseg.data.preprocess import load_manifest, open_case
from kdseg.evaluation.evaluate import model_summary
from kdseg.report.figures.overview import label_colormap, structure_handles
from kdseg.runtime.atomic import atomic_path
from kdseg.statistics.findings import read_metrics

GROUPS = ("teachers", "ensembles", "students", "online", "baselines")
COLOURS = {"teachers": "0.6", "ensembles": "C3", "students": "C0", "online": "C1",
           "baselines": "C2"}  # fmt: skip
# per group, the colour map whose shades tell its models apart (light to dark)
SHADES = {"teachers": "Greys", "ensembles": "Reds", "students": "Blues", "online": "Oranges",
          "baselines": "Greens"}  # fmt: skip
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def group_of(model: str) -> str:
    """``teachers`` / ``ensembles`` / ``students`` / ``online`` / ``baselines`` from a model
    id."""
    return model.split("/", 1)[0]


def model_styles(models: Sequence[str]) -> dict[str, dict[str, object]]:
    """A distinct colour and marker per model: the group's colour for a group's only model,
    else shades of the group's hue from light to dark, and markers in turn within a group."""
    styles: dict[str, dict[str, object]] = {}
    for group in dict.fromkeys(group_of(m) for m in models):
        members = [m for m in models if group_of(m) == group]
        if len(members) == 1:
            colours = [matplotlib.colors.to_rgba(COLOURS.get(group, "0.5"))]
        else:
            cmap = plt.get_cmap(SHADES.get(group, "Purples"))
            colours = [cmap(x) for x in np.linspace(0.45, 0.95, len(members))]
        for i, (model, colour) in enumerate(zip(members, colours, strict=True)):
            styles[model] = {"color": colour, "marker": MARKERS[i % len(MARKERS)]}
    return styles


def _group_handles(models: Sequence[str]) -> list[Patch]:
    return [Patch(facecolor=COLOURS.get(g, "0.8"), edgecolor="k", label=g)
            for g in GROUPS if any(group_of(m) == g for m in models)]  # fmt: skip


def _plain_number(value: float, _pos: object = None) -> str:
    """Tick label without exponent: 0.2, 5, 20k, 1.5M."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _log_axis(axis: matplotlib.axis.Axis) -> None:
    """Log ticks at 1, 2 and 5 times powers of ten, plainly labelled, no minor labels."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(_plain_number))
    axis.set_minor_formatter(NullFormatter())


def _save(fig: plt.Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def plot_dice_boxplots(metrics: pd.DataFrame, out_png: str | Path, title: str = "") -> None:
    """One panel per structure: Dice over test cases per model, coloured by group, every case
    drawn as a point over its box (so a model with the same Dice everywhere, e.g. 0, still
    shows: a flat box, its median line and its points)."""
    structures = list(dict.fromkeys(metrics["structure"]))
    models = list(dict.fromkeys(metrics["model"]))
    fig, axes = plt.subplots(1, len(structures), figsize=(2.2 + 1.9 * len(structures), 5.2),
                             sharey=True, squeeze=False, layout="constrained")  # fmt: skip
    jitter = np.random.default_rng(0)
    for ax, structure in zip(axes[0], structures, strict=True):
        part = metrics[metrics["structure"] == structure]
        data = [part[part["model"] == m]["dice"].to_numpy(dtype=float) for m in models]
        box = ax.boxplot(data, orientation="horizontal", patch_artist=True, widths=0.6,
                         showfliers=False, medianprops={"color": "k", "linewidth": 1.6},
                         whiskerprops={"color": "0.3"}, capprops={"color": "0.3"})  # fmt: skip
        for i, (patch, model, values) in enumerate(zip(box["boxes"], models, data, strict=True)):
            colour = COLOURS.get(group_of(model), "0.8")
            patch.set_facecolor(colour)
            patch.set_alpha(0.75)
            y = i + 1 + jitter.uniform(-0.18, 0.18, len(values))
            ax.scatter(values, y, s=7, color=colour, edgecolor="k", linewidth=0.4, zorder=3,
                       label=model)  # fmt: skip
        ax.set_title(structure, fontsize=9)
        ax.set_xlim(-0.04, 1.04)  # a box at 0 or 1 is not cut by the frame
        ax.set_xlabel("Dice")
        ax.grid(axis="x", color="0.9", linewidth=0.6)
        ax.set_axisbelow(True)
    axes[0, 0].set_yticks(range(1, len(models) + 1), models, fontsize=7)
    axes[0, 0].invert_yaxis()
    fig.legend(handles=_group_handles(models), loc="outside lower center",
               ncol=len(GROUPS), fontsize=8, frameon=False)  # fmt: skip
    fig.suptitle(title)
    _save(fig, out_png)


def plot_footprint(summary: pd.DataFrame, out_png: str | Path, title: str = "") -> None:
    """Mean Dice against inference time and against parameters: one marker per model (teachers
    grey, one legend entry), every other model named in the legend, not next to its point."""
    models = list(summary["model"])
    styles = model_styles(models)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    for ax, column, label in ((axes[0], "seconds_per_case", "inference time per case (s)"),
                              (axes[1], "parameters", "parameters")):  # fmt: skip
        for _, row in summary.iterrows():
            model = row["model"]
            teacher = group_of(model) == "teachers"
            style = {"color": COLOURS["teachers"], "marker": "o"} if teacher else styles[model]
            ax.scatter(row[column], row["mean_dice"], s=34 if teacher else 52,
                       edgecolor="k", linewidth=0.4, zorder=2 if teacher else 3,
                       **style)  # fmt: skip
        ax.set_xscale("log")
        _log_axis(ax.xaxis)
        ax.margins(x=0.08, y=0.08)
        ax.set_xlabel(label)
        ax.set_ylabel("mean test Dice")
        ax.grid(color="0.92", linewidth=0.6)
    handles = []
    teachers = [m for m in models if group_of(m) == "teachers"]
    if teachers:
        label = f"teachers ({len(teachers)})"
        handles.append(Line2D([], [], linestyle="", marker="o", color=COLOURS["teachers"],
                              markeredgecolor="k", label=label))  # fmt: skip
    handles += [Line2D([], [], linestyle="", markeredgecolor="k", label=m, **styles[m])
                for m in models if group_of(m) != "teachers"]  # fmt: skip
    fig.legend(handles=handles, loc="outside right center", fontsize=7, frameon=False)
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
    fig, ax = plt.subplots(figsize=(5.6, 5), layout="constrained")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="perfect calibration")
    styles = model_styles(list(named_predictions))
    eces = {}
    for model, folder in named_predictions.items():
        probs, labels = _test_probabilities(preprocessed, folder)
        centres, acc, _, ece = reliability(probs, labels)
        eces[model] = ece
        ax.plot(centres, acc, "-", ms=4, lw=1.4, markeredgecolor="k", markeredgewidth=0.3,
                label=f"{model} (ECE {ece:.3f})", **styles[model])  # fmt: skip
    ax.set_xlim(0, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("confidence (top-class probability)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=6.5, loc="lower right")
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
    fig, axes = plt.subplots(1, columns, figsize=(2.4 * columns, 3.2), squeeze=False,
                             layout="constrained")  # fmt: skip
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
    handles = structure_handles(manifest["dataset"]["labels"], cmap)
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 8),
               fontsize=7, frameon=False)  # fmt: skip
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
