"""The abdomen phantom: three structures of very different sizes on anisotropic voxels."""

import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from kdseg.data.phantoms import PHANTOMS, phantom_case_ids, write_phantom_dataset
from kdseg.data.validate import validate_raw_dataset

SPEC = PHANTOMS["abdomen"]
ORGAN, LESION, VESSEL = (SPEC.labels[k] for k in ("organ", "lesion", "vessel"))
CASES = 4


@pytest.fixture(scope="module")
def abdomen_raw(tmp_path_factory) -> Path:
    """Four cases at the kind's default geometry (0.8 x 0.8 x 3 mm), seed 1."""
    root = tmp_path_factory.mktemp("abdomen") / "raw"
    write_phantom_dataset(root, kind="abdomen", cases=CASES, seed=1)
    return root


def _load(root: Path, case: str) -> tuple[np.ndarray, np.ndarray, nib.Nifti1Image]:
    img = nib.load(root / "imagesTr" / f"{case}_0000.nii.gz")
    label = np.asarray(nib.load(root / "labelsTr" / f"{case}.nii.gz").dataobj)
    return np.asarray(img.dataobj), label, img


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "dataset.json"
    }


def test_same_seed_gives_identical_files_and_other_seed_differs(abdomen_raw, tmp_path):
    again = tmp_path / "again"
    write_phantom_dataset(again, kind="abdomen", cases=2, seed=1)
    first = _digest(again)
    assert first and all(first[k] == _digest(abdomen_raw)[k] for k in first)
    (a,), _ = SPEC.generate(1, 0, SPEC.default_shape, SPEC.default_spacing, 1.0)
    (b,), _ = SPEC.generate(2, 0, SPEC.default_shape, SPEC.default_spacing, 1.0)
    assert not np.array_equal(a, b)


def test_spacing_is_anisotropic_with_thick_slices(abdomen_raw):
    assert SPEC.default_spacing == (0.8, 0.8, 3.0)
    _, label, img = _load(abdomen_raw, "abdomen_000")
    np.testing.assert_allclose(img.header.get_zooms(), (0.8, 0.8, 3.0))
    assert label.shape == SPEC.default_shape
    assert img.get_data_dtype() == np.int16  # CT in HU, as the thorax phantom


def test_passes_raw_dataset_validation(abdomen_raw, tmp_path):
    result = validate_raw_dataset(abdomen_raw, tmp_path / "report.json")
    assert len(result["cases"]) == CASES
    meta = json.loads((abdomen_raw / "dataset.json").read_text())
    assert meta["labels"] == {"background": 0, "organ": 1, "lesion": 2, "vessel": 3}
    assert meta["channel_names"] == {"0": "CT"}


def test_every_case_has_organ_lesion_inside_it_and_vessel(abdomen_raw):
    for case in phantom_case_ids("abdomen", CASES):
        _, label, _ = _load(abdomen_raw, case)
        assert set(np.unique(label)) == {0, ORGAN, LESION, VESSEL}, case
        lesion = label == LESION
        rim = ndimage.binary_dilation(lesion) & ~lesion
        assert np.all(label[rim] == ORGAN), case  # the lesion touches only the organ
        assert len(np.unique(np.nonzero(label == VESSEL)[2])) >= 10, case  # crosses slices


def test_structure_sizes_differ_by_orders_of_magnitude(abdomen_raw):
    lesion_sizes, lesion_centres = [], []
    for case in phantom_case_ids("abdomen", CASES):
        _, label, _ = _load(abdomen_raw, case)
        organ, lesion, vessel = ((label == v).sum() for v in (ORGAN, LESION, VESSEL))
        assert organ > 50 * lesion and organ > 50 * vessel, case
        assert organ * 0.8 * 0.8 * 3.0 > 30_000  # mm^3: tens of mm across
        lesion_sizes.append(lesion)
        lesion_centres.append(np.argwhere(label == LESION).mean(axis=0))
    assert max(lesion_sizes) > 2 * min(lesion_sizes)  # lesions vary in size ...
    assert np.ptp(np.array(lesion_centres)[:, :2], axis=0).max() > 5  # ... and place (voxels)


def test_ct_intensities_in_hounsfield_units(abdomen_raw):
    image, label, _ = _load(abdomen_raw, "abdomen_000")
    organ = np.median(image[label == ORGAN])
    lesion = np.median(image[label == LESION])
    vessel = np.median(image[label == VESSEL])
    assert np.median(image[0, 0, :]) < -900  # air outside the body
    assert 50 < organ < 200 and vessel > organ
    assert 5 < organ - lesion < 80  # hypodense, modest contrast
