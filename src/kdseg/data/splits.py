"""Patient-level train/validation/test splits from a seed."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kdseg.errors import ConfigError
from kdseg.runtime.atomic import write_json

log = logging.getLogger("kdseg")
MIN_TRAINING_PATIENTS = 2  # fewer: a warning before any training


def patient_of(case: str, pattern: str | None) -> str:
    """The patient a case belongs to: the regex's first group, or the case itself."""
    if not pattern:
        return case
    match = re.match(pattern, case)
    if match is None or not match.groups():
        raise ConfigError(
            f"splits.group_pattern {pattern!r} does not match case {case!r} with a group"
        )
    if not match.group(1):  # an optional group that did not match: no patient, not "None"
        raise ConfigError(
            f"splits.group_pattern {pattern!r} gives case {case!r} no patient (its first "
            "group does not match)"
        )
    return match.group(1)


def _is_count(value: float | int) -> bool:
    """Whether a configured size is a count of patients (int >= 1), not a fraction."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _count(value: float | int, n: int, key: str) -> int:
    """A configured count (int >= 1) or fraction (0 <= x < 1) of ``n`` groups."""
    if _is_count(value):
        count = value
    else:
        count = round(float(value) * n)
        if value > 0:
            count = max(count, 1)
    if count > n:
        raise ConfigError(f"splits.{key}={value} asks for {count} patients but only {n} exist")
    return count


def patients_of(
    cases: Sequence[str],
    group_pattern: str | None = None,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, str]:
    """case -> patient: the case metadata's ``patient`` (written by the converters, e.g. an
    ACDC patient's ED and ES frames), else ``group_pattern``'s first group, else the case."""
    metadata = metadata or {}
    return {
        c: str(metadata.get(c, {}).get("patient") or patient_of(c, group_pattern)) for c in cases
    }


def _groups(patients: Mapping[str, str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for case in sorted(patients):
        groups.setdefault(patients[case], []).append(case)
    return groups


def _cut(
    patients: list[str], seed: int, test: float | int, validation: float | int, where: str = ""
) -> dict[str, list[str]]:
    """Shuffle ``patients`` with ``seed`` and cut them into test, validation and train."""
    order = np.random.default_rng(seed).permutation(len(patients))
    shuffled = [patients[i] for i in order]
    n_test = _count(test, len(patients), "test")
    n_val = _count(validation, len(patients), "validation")
    if n_test + n_val >= len(patients):
        raise ConfigError(
            f"splits: test ({n_test}) + validation ({n_val}) leave no training patient "
            f"out of {len(patients)}{where}"
        )
    return {
        "test": shuffled[:n_test],
        "validation": shuffled[n_test : n_test + n_val],
        "train": shuffled[n_test + n_val :],
    }


def _value_of(patient_cases: list[str], key: str, metadata: Mapping[str, Mapping[str, Any]]):
    """A patient's value of metadata ``key`` (its cases must agree)."""
    values = {str(metadata.get(c, {}).get(key, "")) for c in patient_cases}
    if len(values) != 1 or "" in values:
        raise ConfigError(
            f"splits: cases {patient_cases} have no single case-metadata value of {key!r}"
        )
    return values.pop()


def make_splits(
    cases: Sequence[str],
    seed: int,
    test: float | int,
    validation: float | int,
    group_pattern: str | None = None,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    stratify_by: str | None = None,
    held_out: Mapping[str, Sequence[str]] | None = None,
) -> dict:
    """Shuffle patients with ``seed`` and cut them into test, validation and train.

    ``held_out`` ({metadata key: values}, e.g. {site: [HK]}) puts those patients in the test
    split first; ``stratify_by`` (a metadata key, e.g. site) cuts each stratum on its own, so
    every stratum is in every split in proportion (``test``/``validation`` then are fractions).
    """
    metadata = metadata or {}
    patient = patients_of(cases, group_pattern, metadata)
    groups = _groups(patient)
    parts: dict[str, list[str]] = {"test": [], "validation": [], "train": []}
    remaining = sorted(groups)
    for key, values in (held_out or {}).items():
        wanted = {str(v) for v in values}
        held = [p for p in remaining if _value_of(groups[p], key, metadata) in wanted]
        if not held:
            raise ConfigError(f"splits.held_out.{key}: no case has a value in {sorted(wanted)}")
        parts["test"] += held
        remaining = [p for p in remaining if p not in held]
    if stratify_by:
        if _is_count(test) or _is_count(validation):
            raise ConfigError("splits.stratify_by: 'test' and 'validation' must be fractions")
        strata: dict[str, list[str]] = {}
        for p in remaining:
            strata.setdefault(_value_of(groups[p], stratify_by, metadata), []).append(p)
        cuts = [
            _cut(strata[v], seed, test, validation, f" of {stratify_by} {v}")
            for v in sorted(strata)
        ]
    else:
        cuts = [_cut(remaining, seed, test, validation)]
    for cut in cuts:
        for name, pats in cut.items():
            parts[name] += pats
    if len(parts["train"]) < MIN_TRAINING_PATIENTS:
        log.warning(
            "splits: only %d training patient(s) of %d (test %d, validation %d): every network "
            "would learn from %s; use more data or smaller test/validation counts",
            len(parts["train"]), len(groups), len(parts["test"]), len(parts["validation"]),
            "one patient" if len(parts["train"]) == 1 else "too few patients",
        )  # fmt: skip
    return {
        "seed": seed,
        "group_pattern": group_pattern,
        "stratify_by": stratify_by,
        "held_out": dict(held_out or {}),
        **{
            name: sorted(c for p in parts[name] for c in groups[p])
            for name in ("train", "validation", "test")
        },
        "patients": {name: sorted(pats) for name, pats in parts.items()},
        "patient_of": patient,
    }


def disjoint_subsets(
    cases: Sequence[str],
    k: int,
    seed: int,
    group_pattern: str | None = None,
    patient: Mapping[str, str] | None = None,
) -> list[list[str]]:
    """``k`` disjoint subsets of ``cases`` (the training cases of limit-trained teachers,
    METHODS 2b): patients (``patient``: case -> patient, else by ``group_pattern``) shuffled
    with ``seed`` and dealt round-robin, so subset sizes differ by at most one patient and a
    patient's cases never straddle two subsets."""
    patient = patient or {}
    groups = _groups({c: patient.get(c) or patient_of(c, group_pattern) for c in cases})
    if not 1 <= k <= len(groups):
        raise ConfigError(
            f"{k} subsets of {len(groups)} training patients: need 1 <= k <= patients"
        )
    patients = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(patients))
    return [sorted(c for i in order[j::k] for c in groups[patients[i]]) for j in range(k)]


def training_subset(
    cases: Sequence[str],
    subset: str,
    seed: int,
    group_pattern: str | None = None,
    patient: Mapping[str, str] | None = None,
) -> list[str]:
    """The cases of ``subset<k>of<K>`` (see :func:`disjoint_subsets`) among ``cases``."""
    match = re.fullmatch(r"subset(\d+)of(\d+)", subset)
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise ConfigError(f"{subset!r}: not a subset name subset<k>of<K> with 1 <= k <= K")
    subsets = disjoint_subsets(cases, int(match[2]), seed, group_pattern, patient)
    return subsets[int(match[1]) - 1]


def write_splits(
    report: str,
    out_json: str,
    seed: int,
    test: float | int,
    validation: float | int,
    group_pattern: str | None = None,
    stratify_by: str | None = None,
    held_out: Mapping[str, Sequence[str]] | None = None,
    folds: int | None = None,
    fold: int | None = None,
) -> dict:
    """Splits of the cases in a validation report (with the dataset's case metadata),
    written to ``out_json``; with ``folds`` those of fold ``fold`` of a cross-validation
    (:func:`fold_splits`; no ``fold``: the whole cross-validation, every case tested)."""
    data = json.loads(Path(report).read_text())
    cases = [c["case"] for c in data["cases"]]
    metadata = data["dataset"].get("case_metadata", {})
    if folds:
        if held_out:
            raise ConfigError("splits.held_out: not with splits.folds (every patient is tested)")
        splits = fold_splits(
            cases, seed, folds, fold, validation, group_pattern, metadata, stratify_by
        )
    else:
        splits = make_splits(
            cases, seed, test, validation, group_pattern, metadata, stratify_by, held_out
        )
    write_json(out_json, splits)
    log.info(
        "splits: %d train, %d validation, %d test cases",
        len(splits["train"]),
        len(splits["validation"]),
        len(splits["test"]),
    )
    return splits


# --- K-fold cross-validation ------------------------------------------------------------
# K-fold cross-validation at patient level: which patients each fold tests, and each fold's
# train / validation / test split.
#
# Patients are shuffled with the split seed and dealt to the folds in turn (within each stratum
# when ``stratify_by`` is set), so fold sizes differ by at most one patient (per stratum). Fold k
# tests its own patients; its validation patients are a share (``validation``) of the others,
# drawn with the seed and k; the rest train. Every patient is tested by exactly one fold, and no
# fold's test patient is among its training or validation patients.


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
