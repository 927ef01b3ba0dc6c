"""An ensemble's test predictions from its members' stored ones (no network runs again)."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from kdseg.data.preprocess import load_manifest
from kdseg.data.restore import labels_in_original_geometry
from kdseg.ensemble.stored import combine_member_predictions, mean_and_std
from kdseg.errors import KdsegError


def test_mean_and_std_of_the_predicted_class():
    rng = np.random.default_rng(0)
    members = [rng.dirichlet(np.ones(3), size=(4, 5)).transpose(2, 0, 1) for _ in range(3)]
    mean, std = mean_and_std(members)
    np.testing.assert_allclose(mean, np.mean(members, 0), rtol=1e-6)
    label = mean.argmax(0)
    i, j = 2, 3
    chosen = [m[label[i, j], i, j] for m in members]
    assert std[i, j] == pytest.approx(np.std(chosen), rel=1e-6)
    with pytest.raises(KdsegError, match="differ in shape"):
        mean_and_std([members[0], members[1][:, :3]])


def _members(preprocessed, root, n=3, seed=0):
    """``n`` member prediction folders as the predict job writes them (random probabilities)."""
    rng = np.random.default_rng(seed)
    entries = [c for c in load_manifest(preprocessed)["cases"] if c["split"] == "test"]
    dirs = []
    for k in range(n):
        d = root / f"member{k}"
        d.mkdir(parents=True)
        for e in entries:
            shape = np.load(preprocessed / f"{e['case']}_image.npy", mmap_mode="r").shape[-3:]
            probs = rng.dirichlet(np.ones(5), size=shape).transpose(3, 0, 1, 2)
            np.save(d / f"{e['case']}_probabilities.npy", probs.astype(np.float16))
        info = {"split": "test", "device": "cpu", "parameters": 100 * (k + 1),
                "inference": {"patch": [8, 8, 8]}, "peak_memory_mb": 10.0 * (k + 1),
                "seconds_per_case": {e["case"]: 0.5 * (k + 1) for e in entries}}  # fmt: skip
        (d / "inference.json").write_text(json.dumps(info))
        dirs.append(d)
    return dirs, entries


def test_the_ensemble_is_the_mean_of_its_members_stored_probabilities(tiny_preprocessed, tmp_path):
    dirs, entries = _members(tiny_preprocessed, tmp_path)
    out = tmp_path / "ensemble"
    summary = combine_member_predictions(dirs, tiny_preprocessed, out, name="ensembles/e")
    assert entries
    for e in entries:
        case = e["case"]
        members = [np.load(d / f"{case}_probabilities.npy").astype(np.float32) for d in dirs]
        mean = np.load(out / f"{case}_probabilities.npy")
        np.testing.assert_allclose(mean, np.mean(members, 0), atol=1e-3)  # float16 storage
        labels = np.asarray(nib.load(out / f"{case}.nii.gz").dataobj)
        expected = labels_in_original_geometry(
            np.mean(members, 0), e["cropped_shape"], e["crop_box"], e["original"]["shape"]
        )
        np.testing.assert_array_equal(labels, expected)
        assert np.load(out / f"{case}_std.npy").shape == mean.shape[1:]
    # run in turn: times add up; one member in memory at a time: the largest peak
    assert summary["seconds_per_case"] == {e["case"]: 0.5 + 1.0 + 1.5 for e in entries}
    assert summary["parameters"] == 600 and summary["members"] == 3
    assert summary["peak_memory_mb"] == 30.0
    assert json.loads((out / "inference.json").read_text())["mean_seconds_per_case"] == 3.0


def test_an_incomplete_member_is_named_and_nothing_is_written(tiny_preprocessed, tmp_path):
    dirs, entries = _members(tiny_preprocessed, tmp_path, n=2)
    (dirs[1] / f"{entries[0]['case']}_probabilities.npy").unlink()
    out = tmp_path / "ensemble"
    with pytest.raises(KdsegError, match=rf"member1/{entries[0]['case']}_probabilities.npy"):
        combine_member_predictions(dirs, tiny_preprocessed, out)
    assert not out.exists()
    (dirs[0] / "inference.json").unlink()
    with pytest.raises(KdsegError, match=r"member0/inference.json: missing"):
        combine_member_predictions(dirs, tiny_preprocessed, out)
