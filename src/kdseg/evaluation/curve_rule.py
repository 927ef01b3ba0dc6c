"""The curve rule: has a network's validation curve settled by the end of its training?

A run is *settled* when its mean validation Dice gained less than :data:`SETTLED_GAIN`
(1 Dice point) over the last quarter of training: the validation Dice at the last iteration
minus the validation Dice at the last validation at or before 3/4 of the iterations. A run
without a validation at or before that point (validation too rare, or none) cannot be judged
and does not count as settled. The training loop always validates at
:func:`reference_iteration` (as well as every ``validate_every`` iterations), so the reference
is exactly 3/4 of the run whatever the validation interval. Reads history rows as written by
the training loop (dicts with ``iteration`` and, where measured, ``validation_dice``),
torch-free.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SETTLED_GAIN = 0.01
"""The most mean validation Dice a settled run may gain over its last quarter."""


def reference_iteration(total: int) -> int:
    """The iteration whose validation the rule compares the end with: the last one at or
    before 3/4 of ``total``."""
    return (3 * total) // 4


def validation_points(history: Iterable[Mapping[str, Any]]) -> list[tuple[int, float]]:
    """(iteration, mean validation Dice) of every row that has a validation score."""
    points = []
    for row in history:
        value = row.get("validation_dice")
        if value not in (None, "") and not math.isnan(float(value)):
            points.append((int(float(row["iteration"])), float(value)))
    return points


def last_quarter_gain(history: Iterable[Mapping[str, Any]]) -> float | None:
    """Mean validation Dice at the end minus at 3/4 of training (None: cannot be judged)."""
    rows = list(history)
    points = validation_points(rows)
    if not rows or not points:
        return None
    total = max(int(float(row["iteration"])) for row in rows)
    end_iteration, end_value = points[-1]
    before = [value for iteration, value in points if iteration <= reference_iteration(total)]
    if end_iteration != total or not before:
        return None
    return end_value - before[-1]


def settles(gain: float | None, threshold: float = SETTLED_GAIN) -> bool:
    """True when a last-quarter gain (None: cannot be judged) is below ``threshold``."""
    return gain is not None and gain < threshold


def is_settled(history: Iterable[Mapping[str, Any]], threshold: float = SETTLED_GAIN) -> bool:
    """True when the last quarter gained less than ``threshold`` mean validation Dice."""
    return settles(last_quarter_gain(history), threshold)


def read_history(path: str | Path) -> list[dict[str, str]]:
    """The rows of a ``training.csv``."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
