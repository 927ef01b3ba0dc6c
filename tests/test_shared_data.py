"""Shared raw data: hidden temporaries and lock files are never taken for data."""

from __future__ import annotations

import json
import shutil

from kdseg.data.raw_dataset import discover_cases, list_raw_files, read_dataset_json
from kdseg.data.validate import validate_raw_dataset


def test_hidden_temporaries_and_locks_in_a_raw_dataset_are_not_data(tiny_raw, tmp_path):
    """What a killed writer (or a lock holder) leaves in imagesTr/labelsTr is not a case."""
    images, labels = tiny_raw / "imagesTr", tiny_raw / "labelsTr"
    shutil.copy(
        images / "thorax_000_0000.nii.gz", images / ".thorax_000_0000.nii.gz.k3j_x9a2.tmp.nii.gz"
    )
    shutil.copy(labels / "thorax_001.nii.gz", labels / ".thorax_009.nii.gz.0badcafe.tmp.nii.gz")
    (labels / ".thorax_000.nii.gz.lock").touch()
    info = read_dataset_json(tiny_raw)
    assert [c.case for c in discover_cases(tiny_raw, info)] == [f"thorax_{i:03d}" for i in range(4)]
    assert not any("/." in f for f in list_raw_files(tiny_raw))
    report = tmp_path / "report.json"
    validate_raw_dataset(tiny_raw, report)
    assert len(json.loads(report.read_text())["cases"]) == 4
