"""Data overview: one row per case, three orientations through the foreground, labels overlaid."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from kdseg.atomic import atomic_path
from kdseg.data.preprocess import load_manifest, open_case

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


def plot_data_overview(
    preprocessed_dir: str | Path, out_png: str | Path, max_cases: int = 8
) -> None:
    """One row per case (up to ``max_cases``, all splits), orientations as columns."""
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
            if row == 0:
                ax.set_title(view)
            if col == 0:
                ax.set_ylabel(f"{entry['case']}\n({entry.get('split', '?')})", fontsize=8)
    handles = structure_handles(labels, cmap)
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8)
    fig.suptitle(
        f"{manifest['name']}: preprocessed data, spacing {[round(s, 2) for s in spacing]} mm"
    )
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
