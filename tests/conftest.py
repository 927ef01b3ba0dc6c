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


@pytest.fixture
def tiny_raw(tmp_path: Path) -> Path:
    """A tiny 4-case thorax dataset (raw layout)."""
    return make_tiny(tmp_path / "Dataset001_Tiny")
