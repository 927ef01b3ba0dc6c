"""Shared fixtures: tiny raw datasets in the nnU-Net v2 layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdseg.data.phantoms import write_phantom_dataset

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "thorax": dict(shape=[24, 24, 16], spacing=[6.0, 6.0, 6.0]),
    "brain": dict(shape=[24, 24, 20], spacing=[6.0, 6.0, 6.0]),
    "cardiac": dict(shape=[32, 32, 6], spacing=[3.0, 3.0, 12.0]),
}


def make_tiny(root: Path, kind: str = "thorax", cases: int = 4, seed: int = 0) -> Path:
    """A tiny phantom dataset written in the raw layout under ``root``."""
    write_phantom_dataset(root, kind=kind, cases=cases, seed=seed, **TINY[kind])
    return root


def own_dataset(path: Path) -> dict:
    """A study's entry for a tiny raw dataset: 8 mm voxels, one test and one validation case."""
    return {
        "source": "raw",
        "path": str(path),
        "preprocess": {"target_spacing": [8, 8, 8]},
        "splits": {"test": 1, "validation": 1},
    }


@pytest.fixture
def tiny_raw(tmp_path: Path) -> Path:
    """A tiny 4-case thorax dataset (raw layout)."""
    return make_tiny(tmp_path / "Dataset001_Tiny")


@pytest.fixture(scope="session")
def tiny_preprocessed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A preprocessed 6-case tiny thorax dataset (4 train, 1 validation, 1 test)."""
    from kdseg.data.preprocess import preprocess_dataset
    from kdseg.data.splits import write_splits
    from kdseg.data.validate import validate_raw_dataset

    root = tmp_path_factory.mktemp("tiny_pre")
    raw = make_tiny(root / "Dataset001_Tiny", cases=6)
    report, splits, out = root / "report.json", root / "splits.json", root / "preprocessed"
    validate_raw_dataset(raw, report)
    write_splits(str(report), str(splits), seed=0, test=1, validation=1)
    preprocess_dataset(raw, report, splits, out, {"target_spacing": [6.0, 6.0, 6.0]}, name="T")
    return out
