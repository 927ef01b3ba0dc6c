"""Training curves: loss per iteration (raw and smoothed) and validation Dice."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from kdseg.atomic import atomic_path


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over ``window`` values (shorter at the start)."""
    if len(values) == 0:
        return values
    cumsum = np.cumsum(np.insert(values.astype(float), 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(0, idx - window)
    return (cumsum[idx] - cumsum[lo]) / (idx - lo)


def plot_training_curves(
    history: list[dict[str, float]], path: str | Path, title: str = ""
) -> None:
    """Loss against iteration, validation Dice on a second axis; written atomically."""
    it = np.array([row["iteration"] for row in history], dtype=float)
    loss = np.array([row["loss"] for row in history], dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.5), constrained_layout=True)
    ax.plot(it, loss, color="0.75", lw=0.6, label="loss")
    ax.plot(it, smooth(loss, max(1, len(loss) // 50)), color="C0", lw=1.5, label="loss (smoothed)")
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
    plt.close(fig)
