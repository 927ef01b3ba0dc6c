"""Training curves: loss per iteration (raw and smoothed) and validation Dice.

Drawn at every validation of a running training (:func:`kdseg.train.segmentation.live_progress`),
so kept cheap: a bare Agg figure (no pyplot state), fixed margins instead of a layout engine,
and long histories thinned to what a 600-pixel-wide axis can show (each bin's minimum and
maximum loss: the raw line looks the same).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kdseg.runtime.atomic import atomic_path

MAX_POINTS = 2000
"""Loss values drawn at most per line (longer histories are thinned, see :func:`thin`)."""


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over ``window`` values (shorter at the start)."""
    if len(values) == 0:
        return values
    cumsum = np.cumsum(np.insert(values.astype(float), 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(0, idx - window)
    return (cumsum[idx] - cumsum[lo]) / (idx - lo)


def thin(x: np.ndarray, y: np.ndarray, limit: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``limit`` points of a line: ``y``'s minimum and maximum of each of
    ``limit // 2`` consecutive bins (in their order), at the bin's first ``x``; unchanged when
    short enough."""
    if len(y) <= limit:
        return x, y
    bins = np.array_split(np.arange(len(y)), limit // 2)
    xs, ys = [], []
    for idx in bins:
        lo, hi = idx[np.argmin(y[idx])], idx[np.argmax(y[idx])]
        first, second = (lo, hi) if lo <= hi else (hi, lo)
        xs += [x[first], x[second]]
        ys += [y[first], y[second]]
    return np.array(xs), np.array(ys)


def plot_training_curves(
    history: list[dict[str, float]], path: str | Path, title: str = ""
) -> None:
    """Loss against iteration, validation Dice on a second axis; written atomically."""
    it = np.array([row["iteration"] for row in history], dtype=float)
    loss = np.array([row["loss"] for row in history], dtype=float)
    smoothed = smooth(loss, max(1, len(loss) // 50))
    fig = Figure(figsize=(6, 3.5))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.11, right=0.89, bottom=0.14, top=0.91)
    ax = fig.add_subplot()
    ax.plot(*thin(it, loss), color="0.75", lw=0.6, label="loss")
    step = max(1, len(loss) // MAX_POINTS)
    ax.plot(it[::step], smoothed[::step], color="C0", lw=1.5, label="loss (smoothed)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss")
    val = [
        (row["iteration"], row["validation_dice"]) for row in history if "validation_dice" in row
    ]
    if val:
        ax2 = ax.twinx()
        ax2.plot(*zip(*val, strict=True), "o-", color="C3", label="validation Dice")
        ax2.set_ylabel("validation Dice")
        ax2.set_ylim(0, 1)
        ax2.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
