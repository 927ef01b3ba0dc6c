import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from conftest import TINY, make_tiny

from kdseg.data.phantoms import PHANTOMS, phantom_case_ids


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("kind", ["thorax", "brain", "cardiac"])
def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path, kind):
    a = _digest(make_tiny(tmp_path / "a", kind, cases=3, seed=5))
    b = _digest(make_tiny(tmp_path / "b", kind, cases=3, seed=5))
    c = _digest(make_tiny(tmp_path / "c", kind, cases=3, seed=6))
    assert a == b
    images = [k for k in a if k.startswith("imagesTr")]
    assert all(a[k] != c[k] for k in images)


@pytest.mark.parametrize("kind", ["thorax", "brain", "cardiac"])
def test_every_structure_present_with_its_label_values(tmp_path, kind):
    root = make_tiny(tmp_path / kind, kind, cases=3, seed=1)
    meta = json.loads((root / "dataset.json").read_text())
    assert meta["labels"] == PHANTOMS[kind].labels
    assert meta["numTraining"] == len(phantom_case_ids(kind, 3))
    for case in phantom_case_ids(kind, 3):
        label = np.asarray(nib.load(root / "labelsTr" / f"{case}.nii.gz").dataobj)
        assert set(np.unique(label)) == set(PHANTOMS[kind].labels.values()), case
        img = nib.load(root / "imagesTr" / f"{case}_0000.nii.gz")
        assert img.shape == tuple(TINY[kind]["shape"])
        np.testing.assert_allclose(img.header.get_zooms(), TINY[kind]["spacing"])


def test_cases_vary_in_shape_position_and_intensity(tmp_path):
    root = make_tiny(tmp_path / "t", "thorax", cases=4, seed=3)
    heart_sizes, heart_means, centres = [], [], []
    for case in phantom_case_ids("thorax", 4):
        label = np.asarray(nib.load(root / "labelsTr" / f"{case}.nii.gz").dataobj)
        image = np.asarray(nib.load(root / "imagesTr" / f"{case}_0000.nii.gz").dataobj)
        heart = label == PHANTOMS["thorax"].labels["heart"]
        heart_sizes.append(heart.sum())
        heart_means.append(image[heart].mean())
        centres.append(np.argwhere(heart).mean(axis=0))
    assert np.std(heart_sizes) > 0.05 * np.mean(heart_sizes)
    assert np.ptp(heart_means) > 5  # HU
    assert np.ptp(np.array(centres), axis=0).max() > 0.5  # voxels


def test_boundaries_are_partial_volume_and_some_low_contrast():
    spec = PHANTOMS["thorax"]
    (image,), label = spec.generate(0, 0, spec.default_shape, spec.default_spacing, noise=0.0)
    tissue = np.median(image[(label == 0) & (image > -200)])
    eso = np.median(image[label == spec.labels["esophagus"]])
    trachea = np.median(image[label == spec.labels["trachea"]])
    assert abs(eso - tissue) < 60  # HU: low contrast, harder than the air-filled trachea
    assert abs(trachea - tissue) > 500
    # without noise, boundary voxels take intermediate values (partial volume), not two levels
    heart = label == spec.labels["heart"]
    from scipy import ndimage

    rim = ndimage.binary_dilation(heart) & ~ndimage.binary_erosion(heart)
    values = np.unique(np.round(image[rim]))
    assert len(values) > 10


def test_cardiac_is_anisotropic_with_two_frames_per_patient():
    spec = PHANTOMS["cardiac"]
    assert spec.default_spacing[2] >= 4 * spec.default_spacing[0]
    assert phantom_case_ids("cardiac", 2) == [
        "patient000_ED",
        "patient000_ES",
        "patient001_ED",
        "patient001_ES",
    ]
    (_, ed) = spec.generate(0, 0, spec.default_shape, spec.default_spacing, 1.0, "ED")
    (_, es) = spec.generate(0, 0, spec.default_shape, spec.default_spacing, 1.0, "ES")
    lv = spec.labels["lv_cavity"]
    assert (es == lv).sum() < 0.8 * (ed == lv).sum()  # the cavity contracts at end-systole


# sha256 of image then label bytes of thorax_case at shape 32 x 32 x 24, 6 mm, computed on
# 2026-12-07 (numpy of /work/main/.venv) before thorax_case was split into helpers
THORAX_PINS = {
    0: "d4d901f1499a8af5b8f984e091d8e52e89d96c3a29b67a8ce2c8b5982acd8706",
    7: "02bf82df21bd293e519f23aa3843fc65eda92d750817197a472a233a734e1f07",
}


@pytest.mark.parametrize("seed", sorted(THORAX_PINS))
def test_thorax_case_is_unchanged(seed):
    from kdseg.data.phantoms.thorax import thorax_case

    (image,), label = thorax_case(np.random.default_rng(seed), (32, 32, 24), (6.0, 6.0, 6.0))
    digest = hashlib.sha256(image.tobytes() + label.tobytes()).hexdigest()
    assert digest == THORAX_PINS[seed]
