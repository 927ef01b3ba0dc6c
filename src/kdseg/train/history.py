"""A run's history files: the per-iteration CSV and its curves, rewritten as training goes."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from kdseg.evaluation.curve_figure import plot_training_curves
from kdseg.runtime.atomic import atomic_path


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
