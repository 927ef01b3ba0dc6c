"""Each kind of bad raw data gets a one-line error naming the case, the file and the problem."""

import gzip
import json

import nibabel as nib
import numpy as np
import pytest

from kdseg.data.nifti import write_volume
from kdseg.data.validate import validate_raw_dataset
from kdseg.errors import RawDataError

CASE = "thorax_001"


def _img(root, case=CASE, ch=0):
    return root / "imagesTr" / f"{case}_{ch:04d}.nii.gz"


def _lab(root, case=CASE):
    return root / "labelsTr" / f"{case}.nii.gz"


def _rewrite(path, fn):
    img = nib.load(path)
    data, affine = fn(np.asarray(img.dataobj).copy(), img.affine.copy())
    write_volume(path, data, affine)


def truncate(root):
    data = _img(root).read_bytes()
    _img(root).write_bytes(data[: len(data) // 2])
    return _img(root), "unreadable NIfTI"


def garbage(root):
    _lab(root).write_bytes(gzip.compress(b"this is not a nifti file at all" * 20))
    return _lab(root), "unreadable NIfTI"


def shape_mismatch(root):
    _rewrite(_img(root), lambda a, aff: (a[:-2], aff))
    return _img(root), r"has shape \(22, 24, 16\), label .*thorax_001.nii.gz has shape"


def affine_mismatch(root):
    def shift(a, aff):
        aff[0, 3] += 3.0
        return a, aff

    _rewrite(_img(root), shift)
    return _img(root), "affines of image .* and label .*thorax_001.nii.gz differ"


def unknown_label(root):
    def bad(a, aff):
        a[0, 0, 0] = 7
        return a, aff

    _rewrite(_lab(root), bad)
    return _lab(root), r"label value\(s\) \[7\] not in dataset.json"


def nan_values(root):
    def bad(a, aff):
        a = a.astype(np.float32)
        a[1, 1, 1] = np.nan
        a[2, 2, 2] = np.inf
        return a, aff

    _rewrite(_img(root), bad)
    return _img(root), "1 NaN and 1 infinite intensities"


def missing_label(root):
    _lab(root).unlink()
    return "labelsTr/thorax_001.nii.gz", "label file missing"


def missing_image(root):
    _img(root).unlink()
    return "imagesTr/thorax_001_0000.nii.gz", "image file missing"


def extra_channel(root):
    _img(root).with_name(f"{CASE}_0001.nii.gz").write_bytes(_img(root).read_bytes())
    return f"{CASE}_0001.nii.gz", "channel 1 not in dataset.json"


def four_d_image(root):
    _rewrite(_img(root), lambda a, aff: (np.stack([a, a], axis=-1), aff))
    return _img(root), "must be 3D with one file per channel"


def no_foreground(root):
    _rewrite(_lab(root), lambda a, aff: (np.zeros_like(a), aff))
    return _lab(root), "no foreground"


def non_integer_label(root):
    _rewrite(_lab(root), lambda a, aff: (a.astype(np.float32) + 0.5, aff))
    return _lab(root), "must be integers"


@pytest.mark.parametrize(
    "corrupt",
    [
        truncate,
        garbage,
        shape_mismatch,
        affine_mismatch,
        unknown_label,
        nan_values,
        missing_label,
        missing_image,
        extra_channel,
        four_d_image,
        no_foreground,
        non_integer_label,
    ],
)
def test_bad_case_is_reported_with_case_file_and_problem(tiny_raw, tmp_path, corrupt):
    file, problem = corrupt(tiny_raw)
    report = tmp_path / "report.json"
    with pytest.raises(RawDataError) as err:
        validate_raw_dataset(tiny_raw, report, name="Tiny")
    lines = err.value.problems
    assert len(lines) == 1, lines
    line = lines[0]
    assert "\n" not in line
    assert line.startswith(f"case {CASE}: ")
    assert str(file).split("/")[-1] in line
    import re

    assert re.search(problem, line), line
    assert not report.exists()  # nothing written for a bad dataset


def test_all_problems_are_listed_together(tiny_raw):
    missing_label(tiny_raw)
    _img(tiny_raw, "thorax_002").unlink()
    with pytest.raises(RawDataError) as err:
        validate_raw_dataset(tiny_raw)
    assert len(err.value.problems) == 2
    assert "2 problem(s)" in str(err.value)


def test_valid_dataset_writes_report(tiny_raw, tmp_path):
    report = tmp_path / "r.json"
    validate_raw_dataset(tiny_raw, report)
    data = json.loads(report.read_text())
    assert [c["case"] for c in data["cases"]] == [f"thorax_{i:03d}" for i in range(4)]
    assert data["cases"][0]["spacing"] == [6.0, 6.0, 6.0]
    assert set(data["cases"][0]["voxels_per_label"]) == {"0", "1", "2", "3", "4"}


def _one_case_folder(tmp_path, image_shape=(8, 8, 4), label_shape=(8, 8, 4), nan=0, inf=0):
    """A one-case raw dataset (labels: background, organ, lesion) with a chosen geometry."""
    import json

    import nibabel as nib

    root = tmp_path / "Dataset009_One"
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    image = np.zeros(image_shape, np.float32)
    image.flat[:nan] = np.nan
    image.flat[nan : nan + inf] = np.inf
    label = np.zeros(label_shape, np.uint8)
    label[2:4, 2:4, 1:3] = 1
    nib.save(nib.Nifti1Image(image, np.eye(4)), root / "imagesTr" / "c1_0000.nii.gz")
    nib.save(nib.Nifti1Image(label, np.eye(4)), root / "labelsTr" / "c1.nii.gz")
    (root / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "CT"}, "labels": {"background": 0, "organ": 1, "lesion": 2},
        "numTraining": 1, "file_ending": ".nii.gz"}))  # fmt: skip
    return root


def _problems(root, **kwargs):
    from kdseg.data.validate import validate_raw_dataset
    from kdseg.errors import RawDataError

    with pytest.raises(RawDataError) as err:
        validate_raw_dataset(root, **kwargs)
    return err.value.problems


def test_a_label_that_occurs_in_no_case_is_refused_unless_allowed(tmp_path):
    from kdseg.data.validate import validate_raw_dataset

    root = _one_case_folder(tmp_path)
    (problem,) = _problems(root)
    assert "label 'lesion' (value 2) occurs in no case" in problem and "dataset.json" in problem
    assert validate_raw_dataset(root, allow_absent_labels=["lesion"])["cases"]


def test_validation_messages_name_what_is_wrong(tmp_path):
    root = _one_case_folder(tmp_path, label_shape=(8, 8, 5), nan=3, inf=2)
    problems = " | ".join(_problems(root))
    assert "3 NaN and 2 infinite intensities" in problems
    assert "image " + str(root / "imagesTr" / "c1_0000.nii.gz") in problems
    assert "label " + str(root / "labelsTr" / "c1.nii.gz") + " has shape (8, 8, 5)" in problems
    (root / "labelsTr" / "c1.nii.gz").unlink()
    missing = f"case c1: {root / 'labelsTr' / 'c1.nii.gz'}: label file missing"
    assert missing in _problems(root)


def test_a_file_ending_that_matches_nothing_says_what_was_found(tmp_path):
    import json

    root = _one_case_folder(tmp_path)
    meta = json.loads((root / "dataset.json").read_text())
    (root / "dataset.json").write_text(json.dumps({**meta, "file_ending": ".mha"}))
    (problem,) = _problems(root)
    assert "no file in imagesTr/ or labelsTr/ ends in '.mha'" in problem
    assert problem.endswith("endings found: .nii.gz")


def test_a_split_leaving_one_training_patient_warns(caplog):
    from kdseg.data.splits import make_splits

    with caplog.at_level("WARNING", logger="kdseg"):
        make_splits([f"c{i}" for i in range(4)], seed=0, test=2, validation=1)
    assert "only 1 training patient(s) of 4" in caplog.text
