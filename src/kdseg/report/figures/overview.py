"""Data overview: one row per case, three orientations through the foreground, labels overlaid."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch, Rectangle

from kdseg.config.plan import shown_value
from kdseg.data.preprocess import load_manifest, open_case
from kdseg.runtime.atomic import atomic_path

_VIEWS = (("axial", 2), ("coronal", 1), ("sagittal", 0))


def _slice(volume: np.ndarray, axis: int, index: int) -> np.ndarray:
    return np.take(volume, index, axis=axis).T  # rows = second remaining axis, shown bottom-up


def label_colormap(n_labels: int) -> ListedColormap:
    """Transparent background, distinct colours for the structures."""
    base = plt.get_cmap("tab10")
    colours = [(0, 0, 0, 0)] + [(*base(i % 10)[:3], 0.45) for i in range(n_labels - 1)]
    return ListedColormap(colours)


def structure_handles(labels: dict[str, int], cmap: ListedColormap) -> list[Patch]:
    """Legend entries of the structures (``labels``: name -> value; background left out), in
    the colours of ``cmap``, transparency included (as the overlay shows them)."""
    return [Patch(facecolor=cmap(v), edgecolor="0.3", label=k) for k, v in labels.items() if v != 0]


def plan_summary(plan: Mapping[str, Any]) -> list[str]:
    """Lines describing a dataset's plan: spacing, then per architecture patch, batch and
    orientations, each value marked (plan) or (study file)."""

    def shown(key: str, entry: Mapping[str, Any], unit: str = "") -> str:
        return f"{shown_value(key, entry['value'])}{unit} ({entry['source']})"

    lines = [f"target spacing {shown('target_spacing', plan['target_spacing'], ' mm')}"]
    for name, arch in plan["architectures"].items():
        parts = [f"patch {shown('patch', arch['patch'])}"]
        parts.append(f"batch {shown('batch_size', arch['batch_size'])}")
        if "orientations" in arch:
            parts.append(f"slice axes {shown('orientations', arch['orientations'])}")
        lines.append(f"{name}: " + ", ".join(parts))
    return lines


def _patch_outlines(ax: Any, plan: Mapping[str, Any], axis: int, centre: np.ndarray) -> None:
    """Each 3D architecture's training patch, centred on the structures, in this view."""
    styles = ["-", "--", ":", "-."]
    shown = [a for a in range(3) if a != axis]
    for i, arch in enumerate(plan["architectures"].values()):
        patch = arch["patch"]["value"]
        if len(patch) != 3:
            continue
        w, h = patch[shown[0]], patch[shown[1]]
        corner = (centre[shown[0]] - w / 2, centre[shown[1]] - h / 2)
        style = styles[i % len(styles)]
        outline = Rectangle(corner, w, h, fill=False, edgecolor="yellow", linestyle=style)
        ax.add_patch(outline)


def plot_data_overview(
    preprocessed_dir: str | Path,
    out_png: str | Path,
    max_cases: int = 8,
    plan: str | Path | None = None,
) -> None:
    """One row per case (up to ``max_cases``, all splits), orientations as columns; with the
    dataset's ``plan`` (plans.json) its planned settings are listed and the 3D architectures'
    patches outlined (yellow) on the first case."""
    planned = json.loads(Path(plan).read_text()) if plan else None
    manifest = load_manifest(preprocessed_dir)
    labels = manifest["dataset"]["labels"]
    n_labels = max(labels.values()) + 1
    cmap = label_colormap(n_labels)
    spacing = manifest["target_spacing"]
    entries = manifest["cases"][:max_cases]
    fig, axes = plt.subplots(len(entries), 3, figsize=(9, 2.6 * len(entries)), squeeze=False)
    for row, entry in enumerate(entries):
        image, label = open_case(preprocessed_dir, entry["case"])
        centre = np.argwhere(label > 0).mean(axis=0).round().astype(int)
        for col, (view, axis) in enumerate(_VIEWS):
            ax = axes[row, col]
            shown = [a for a in range(3) if a != axis]
            aspect = spacing[shown[1]] / spacing[shown[0]]
            img = _slice(np.asarray(image[0]), axis, centre[axis])
            lo, hi = np.percentile(img, [1, 99])
            ax.imshow(
                img,
                cmap="gray",
                vmin=lo,
                vmax=hi,
                origin="lower",
                aspect=aspect,
                interpolation="nearest",
            )
            ax.imshow(
                _slice(np.asarray(label), axis, centre[axis]),
                cmap=cmap,
                vmin=0,
                vmax=n_labels - 1,
                origin="lower",
                aspect=aspect,
                interpolation="nearest",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0 and planned is not None:
                _patch_outlines(ax, planned, axis, centre)
            if row == 0:
                ax.set_title(view)
            if col == 0:
                ax.set_ylabel(f"{entry['case']}\n({entry.get('split', '?')})", fontsize=8)
    handles = structure_handles(labels, cmap)
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8)
    title = f"{manifest['name']}: preprocessed data, spacing {[round(s, 2) for s in spacing]} mm"
    top = 0.97
    if planned is not None:
        lines = plan_summary(planned)
        title += "\nplan (patches outlined in the first row): " + "; ".join(lines[:1])
        title += "".join(f"\n{line}" for line in lines[1:])
        top = 1 - (0.1 + 0.12 * len(lines)) / fig.get_size_inches()[1]
    fig.suptitle(title, fontsize=9 if planned is not None else None)
    fig.tight_layout(rect=(0, 0.04, 1, top))
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
