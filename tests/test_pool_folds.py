"""Pooling a cross-validated dataset's test predictions (kdseg.evaluation.pool_folds)."""

from __future__ import annotations

import json

import pytest

from kdseg.errors import KdsegError
from kdseg.evaluation.pool_folds import pool_predictions


def _fold(root, name, cases):
    fold = root / name
    fold.mkdir()
    for case in cases:
        (fold / f"{case}.nii.gz").write_bytes(case.encode())
    (fold / ".snakemake_timestamp").write_text("")
    timings = {case: 1.0 + i for i, case in enumerate(cases)}
    (fold / "inference.json").write_text(json.dumps({"seconds_per_case": timings,
                                                     "peak_memory_mb": len(cases)}))  # fmt: skip
    return fold


def test_pooled_predictions_hold_every_case_once(tmp_path):
    folds = [_fold(tmp_path, "f1", ["a", "b"]), _fold(tmp_path, "f2", ["c"])]
    pooled = pool_predictions(folds, tmp_path / "pooled")
    out = tmp_path / "pooled"
    assert sorted(p.name for p in out.iterdir()) == [
        "a.nii.gz", "b.nii.gz", "c.nii.gz", "inference.json"]  # fmt: skip
    assert (out / "c.nii.gz").read_bytes() == b"c"
    assert sorted(pooled["seconds_per_case"]) == ["a", "b", "c"]
    assert pooled["mean_seconds_per_case"] == pytest.approx(4 / 3)
    assert pooled["peak_memory_mb"] == 2


def test_a_case_two_folds_tested_stops_pooling(tmp_path):
    folds = [_fold(tmp_path, "f1", ["a"]), _fold(tmp_path, "f2", ["a"])]
    with pytest.raises(KdsegError, match="case 'a' is also a test case of"):
        pool_predictions(folds, tmp_path / "pooled")
    assert not (tmp_path / "pooled").exists()
