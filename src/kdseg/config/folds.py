"""Cross-validated datasets (``splits.folds: K``) as the workflow runs them: each fold is a
dataset of its own, ``<dataset>/fold<k>``, that trains, distils and predicts like any other
(its networks, soft labels and students under ``<study>/<dataset>/fold<k>/``); the dataset
itself holds the raw data, the plan, the pooled test predictions (each case from the fold that
held it out) and everything computed from them: metrics, statistics, tables and figures.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_FOLD = re.compile(r"(?P<dataset>.+)/fold(?P<fold>\d+)")


def fold_count(config: dict[str, Any], dataset: str) -> int:
    """K of a cross-validated dataset; 0 for one split (and for a fold itself)."""
    entry = config["datasets"][dataset]
    if "fold" in entry.get("splits", {}):
        return 0
    return int(entry.get("splits", {}).get("folds") or 0)


def fold_dataset(dataset: str, fold: int) -> str:
    """The name of fold ``fold`` of ``dataset`` (a path under the study folder)."""
    return f"{dataset}/fold{fold}"


def folds_of(config: dict[str, Any], dataset: str) -> list[str]:
    """The fold datasets of a cross-validated dataset (none for one split)."""
    return [fold_dataset(dataset, k) for k in range(1, fold_count(config, dataset) + 1)]


def parent_dataset(dataset: str) -> str:
    """The study's dataset a fold belongs to (a dataset that is no fold: itself)."""
    match = _FOLD.fullmatch(dataset)
    return match["dataset"] if match else dataset


def fold_model(model: str, fold: int) -> str:
    """A fold's network as the cross-validated dataset names it: ``fold<k>/<model id>``."""
    return f"fold{fold}/{model}"


def pooled_model(model: str) -> str:
    """The pooled model a fold's network belongs to (the inverse of :func:`fold_model`)."""
    return re.sub(r"^fold\d+/", "", model)


def add_fold_datasets(config: dict[str, Any]) -> None:
    """Add each fold of every cross-validated dataset to ``config["datasets"]`` (in place):
    the dataset's entry with ``splits.fold`` set. Applied after validation, to the planned and
    the explicit config alike."""
    for name in list(config.get("datasets", {})):
        entry = config["datasets"][name]
        folds = int(entry.get("splits", {}).get("folds") or 0)
        for k in range(1, folds + 1):
            fold = copy.deepcopy(entry)
            fold["splits"] = {**entry.get("splits", {}), "fold": k}
            config["datasets"][fold_dataset(name, k)] = fold
