"""Patient-level train/validation/test splits from a seed."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kdseg.atomic import write_json
from kdseg.errors import ConfigError

log = logging.getLogger("kdseg")


def patient_of(case: str, pattern: str | None) -> str:
    """The patient a case belongs to: the regex's first group, or the case itself."""
    if not pattern:
        return case
    match = re.match(pattern, case)
    if match is None or not match.groups():
        raise ConfigError(
            f"splits.group_pattern {pattern!r} does not match case {case!r} with a group"
        )
    return match.group(1)


def _count(value: float | int, n: int, key: str) -> int:
    """A configured count (int >= 1) or fraction (0 <= x < 1) of ``n`` groups."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        count = value
    else:
        count = round(float(value) * n)
        if value > 0:
            count = max(count, 1)
    if count > n:
        raise ConfigError(f"splits.{key}={value} asks for {count} patients but only {n} exist")
    return count


def make_splits(
    cases: Sequence[str],
    seed: int,
    test: float | int,
    validation: float | int,
    group_pattern: str | None = None,
) -> dict:
    """Shuffle patients with ``seed`` and cut them into test, validation and train."""
    groups: dict[str, list[str]] = {}
    for case in sorted(cases):
        groups.setdefault(patient_of(case, group_pattern), []).append(case)
    patients = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(patients))
    shuffled = [patients[i] for i in order]
    n_test = _count(test, len(patients), "test")
    n_val = _count(validation, len(patients), "validation")
    if n_test + n_val >= len(patients):
        raise ConfigError(
            f"splits: test ({n_test}) + validation ({n_val}) leave no training patient "
            f"out of {len(patients)}"
        )
    parts = {
        "test": shuffled[:n_test],
        "validation": shuffled[n_test : n_test + n_val],
        "train": shuffled[n_test + n_val :],
    }
    return {
        "seed": seed,
        "group_pattern": group_pattern,
        **{
            name: sorted(c for p in parts[name] for c in groups[p])
            for name in ("train", "validation", "test")
        },
        "patients": {name: sorted(pats) for name, pats in parts.items()},
    }


def disjoint_subsets(
    cases: Sequence[str], k: int, seed: int, group_pattern: str | None = None
) -> list[list[str]]:
    """``k`` disjoint subsets of ``cases`` (the training cases of limit-trained teachers,
    METHODS 2b): patients shuffled with ``seed`` and dealt round-robin, so subset sizes differ
    by at most one patient and a patient's cases never straddle two subsets."""
    groups: dict[str, list[str]] = {}
    for case in sorted(cases):
        groups.setdefault(patient_of(case, group_pattern), []).append(case)
    if not 1 <= k <= len(groups):
        raise ConfigError(
            f"{k} subsets of {len(groups)} training patients: need 1 <= k <= patients"
        )
    patients = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(patients))
    return [sorted(c for i in order[j::k] for c in groups[patients[i]]) for j in range(k)]


def training_subset(
    cases: Sequence[str], subset: str, seed: int, group_pattern: str | None = None
) -> list[str]:
    """The cases of ``subset<k>of<K>`` (see :func:`disjoint_subsets`) among ``cases``."""
    match = re.fullmatch(r"subset(\d+)of(\d+)", subset)
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise ConfigError(f"{subset!r}: not a subset name subset<k>of<K> with 1 <= k <= K")
    return disjoint_subsets(cases, int(match[2]), seed, group_pattern)[int(match[1]) - 1]


def write_splits(
    report: str,
    out_json: str,
    seed: int,
    test: float | int,
    validation: float | int,
    group_pattern: str | None = None,
) -> dict:
    """Splits of the cases in a validation report, written to ``out_json``."""
    cases = [c["case"] for c in json.loads(Path(report).read_text())["cases"]]
    splits = make_splits(cases, seed, test, validation, group_pattern)
    write_json(out_json, splits)
    log.info(
        "splits: %d train, %d validation, %d test cases",
        len(splits["train"]),
        len(splits["validation"]),
        len(splits["test"]),
    )
    return splits
