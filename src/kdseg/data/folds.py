"""K-fold cross-validation at patient level: which patients each fold tests, and each fold's
train / validation / test split.

Patients are shuffled with the split seed and dealt to the folds in turn (within each stratum
when ``stratify_by`` is set), so fold sizes differ by at most one patient (per stratum). Fold k
tests its own patients; its validation patients are a share (``validation``) of the others,
drawn with the seed and k; the rest train. Every patient is tested by exactly one fold, and no
fold's test patient is among its training or validation patients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kdseg.data.splits import _count, _groups, _value_of, patients_of
from kdseg.errors import ConfigError


def assign_folds(
    groups: Mapping[str, list[str]],
    folds: int,
    seed: int,
    stratify_by: str | None = None,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, int]:
    """patient -> fold (1..K)."""
    if folds < 2 or folds > len(groups):
        raise ConfigError(
            f"splits.folds={folds}: needs 2 to {len(groups)} folds ({len(groups)} patients)"
        )
    strata: dict[str, list[str]] = {}
    for patient in sorted(groups):
        key = _value_of(groups[patient], stratify_by, metadata or {}) if stratify_by else ""
        strata.setdefault(key, []).append(patient)
    fold_of: dict[str, int] = {}
    dealt = 0  # strata continue the turn, so small strata do not all start at fold 1
    for key in sorted(strata):
        patients = strata[key]
        order = np.random.default_rng(seed).permutation(len(patients))
        for i in order:
            fold_of[patients[i]] = dealt % folds + 1
            dealt += 1
    return fold_of


def fold_splits(
    cases: Sequence[str],
    seed: int,
    folds: int,
    fold: int | None,
    validation: float | int,
    group_pattern: str | None = None,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    stratify_by: str | None = None,
) -> dict[str, Any]:
    """The split of fold ``fold`` (1..K), in :func:`kdseg.data.splits.make_splits`' form plus
    ``folds``, ``fold`` and ``fold_of`` (patient -> fold). ``fold`` None: the whole
    cross-validation, every case a test case (the pooled predictions' split)."""
    patient = patients_of(cases, group_pattern, metadata)
    groups = _groups(patient)
    fold_of = assign_folds(groups, folds, seed, stratify_by, metadata)
    if fold is None:
        parts = {"test": sorted(groups), "validation": [], "train": []}
    else:
        if not 1 <= fold <= folds:
            raise ConfigError(f"splits.fold={fold}: not a fold of 1..{folds}")
        test = sorted(p for p in groups if fold_of[p] == fold)
        rest = sorted(p for p in groups if fold_of[p] != fold)
        order = np.random.default_rng([seed, fold]).permutation(len(rest))
        n_val = _count(validation, len(rest), "validation")
        if n_val >= len(rest):
            raise ConfigError(
                f"splits: validation ({n_val}) leaves fold {fold} no training patient of "
                f"{len(rest)}"
            )
        shuffled = [rest[i] for i in order]
        parts = {"test": test, "validation": sorted(shuffled[:n_val]),
                 "train": sorted(shuffled[n_val:])}  # fmt: skip
    return {
        "seed": seed,
        "group_pattern": group_pattern,
        "stratify_by": stratify_by,
        "held_out": {},
        "folds": folds,
        "fold": fold,
        **{name: sorted(c for p in parts[name] for c in groups[p]) for name in parts},
        "patients": parts,
        "patient_of": patient,
        "fold_of": fold_of,
    }
