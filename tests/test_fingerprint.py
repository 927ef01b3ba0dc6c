"""The dataset fingerprint: spacings, shapes after the body crop, foreground intensities and
class sizes of hand-made raw datasets, computed by hand."""

import json
import math

import numpy as np
import pytest
from conftest import make_tiny

from kdseg.data.fingerprint import dataset_fingerprint, foreground_samples, write_fingerprint
from kdseg.data.nifti import affine_from_spacing, write_volume
from kdseg.data.preprocess import load_manifest, preprocess_dataset
from kdseg.data.splits import write_splits
from kdseg.data.validate import validate_raw_dataset
from kdseg.errors import KdsegError

LABELS = {"background": 0, "organ": 1, "lesion": 2}
AIR, BODY = -1000.0, 100.0  # CT: the body is what is above -500 HU


def box(start, stop):
    """A block of voxels: ``box((x0, y0, z0), (x1, y1, z1))``."""
    return tuple(slice(a, b) for a, b in zip(start, stop, strict=True))


def ct_case(shape, body, regions):
    """(image, label): air with a body block; ``regions``: (block, label value, intensity)."""
    image = np.full(shape, AIR, np.float32)
    image[body] = BODY
    label = np.zeros(shape, np.uint8)
    for where, value, intensity in regions:
        label[where], image[where] = value, intensity
    return image, label


def write_raw(root, cases, channels=("CT",), labels=LABELS):
    """An nnU-Net v2 raw dataset; ``cases``: case -> (channel images, label, spacing)."""
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    for case, (images, label, spacing) in cases.items():
        affine = affine_from_spacing(spacing)
        for c, image in enumerate(images):
            write_volume(root / "imagesTr" / f"{case}_{c:04d}.nii.gz", image, affine)
        write_volume(root / "labelsTr" / f"{case}.nii.gz", label, affine)
    (root / "dataset.json").write_text(json.dumps({
        "name": root.name, "channel_names": {str(c): n for c, n in enumerate(channels)},
        "labels": labels, "numTraining": len(cases), "file_ending": ".nii.gz"}))  # fmt: skip
    report = root.parent / f"{root.name}_report.json"
    validate_raw_dataset(root, report)
    return root, report


@pytest.fixture
def isotropic(tmp_path):
    """3 CT cases at 1 mm. Organ: 4x4x3 voxels (intensity 40/60/80); lesion: 2x2x2, 1 and
    3x3x3 voxels (200/300/260). Body blocks -> crops (margin 2) of 14x14x10, 14x16x10, 16x12x12."""
    organ_a, lesion_a = box((6, 7, 7), (10, 11, 10)), box((11, 12, 8), (13, 14, 10))
    organ_b, lesion_b = box((7, 6, 6), (11, 10, 9)), box((12, 10, 7), (13, 11, 8))
    organ_c, lesion_c = box((5, 6, 9), (9, 10, 12)), box((10, 8, 12), (13, 11, 15))
    bodies = {
        "a": ((20, 20, 20), box((4, 5, 6), (14, 15, 12)), organ_a, 40.0, lesion_a, 200.0),
        "b": ((20, 20, 20), box((5, 4, 5), (15, 16, 11)), organ_b, 60.0, lesion_b, 300.0),
        "c": ((20, 20, 24), box((3, 5, 8), (15, 13, 16)), organ_c, 80.0, lesion_c, 260.0),
    }
    cases = {}
    for case, (shape, body, organ, organ_hu, lesion, lesion_hu) in bodies.items():
        image, label = ct_case(shape, body, [(organ, 1, organ_hu), (lesion, 2, lesion_hu)])
        cases[case] = ([image], label, (1.0, 1.0, 1.0))
    return write_raw(tmp_path / "Dataset010_Iso", cases)


def test_isotropic_dataset_by_hand(isotropic):
    fp = dataset_fingerprint(*isotropic, {}, name="iso")
    assert fp["name"] == "iso" and fp["cases"] == 3 and fp["case_ids"] == ["a", "b", "c"]
    assert fp["channels"] == ["CT"] and fp["modalities"] == ["ct"]
    assert fp["labels"] == {"0": "background", "1": "organ", "2": "lesion"}
    assert fp["spacings"] == [[1.0, 1.0, 1.0]] * 3
    assert fp["shapes"] == [[20, 20, 20], [20, 20, 20], [20, 20, 24]]
    assert fp["shapes_after_crop"] == [[14, 14, 10], [14, 16, 10], [16, 12, 12]]
    assert fp["median_spacing"] == [1.0, 1.0, 1.0]
    assert fp["median_shape_after_crop"] == [14.0, 14.0, 10.0]
    assert fp["median_size_mm"] == [14.0, 14.0, 10.0]
    assert fp["anisotropy"] == {"ratio": 1.0, "worst_axis": 0}

    (intensity,) = fp["intensity"].values()
    total = 48 * 40 + 8 * 200 + 48 * 60 + 1 * 300 + 48 * 80 + 27 * 260
    assert intensity["name"] == "CT" and intensity["sampled_voxels"] == 180  # every fg voxel
    assert intensity["mean"] == pytest.approx(total / 180)
    # sorted: 48 x 40, 48 x 60, 48 x 80, 36 lesion voxels -> the middle two are 60
    assert (intensity["min"], intensity["max"], intensity["median"]) == (40.0, 300.0, 60.0)

    cropped = 14 * 14 * 10 + 14 * 16 * 10 + 16 * 12 * 12
    organ, lesion = fp["classes"]["1"], fp["classes"]["2"]
    assert organ["name"] == "organ" and lesion["name"] == "lesion"
    assert organ["voxel_fraction"] == pytest.approx(3 * 48 / cropped)
    assert lesion["voxel_fraction"] == pytest.approx((8 + 1 + 27) / cropped)
    assert organ["cases_present"] == lesion["cases_present"] == 3
    assert (organ["median_volume_mm3"], lesion["median_volume_mm3"]) == (48.0, 8.0)
    assert organ["median_extent_mm"] == [4.0, 4.0, 3.0]
    assert lesion["median_extent_mm"] == [2.0, 2.0, 2.0]
    assert (organ["median_min_extent_voxels"], lesion["median_min_extent_voxels"]) == (3.0, 2.0)
    assert fp["smallest_structure"] == {
        "label": 2,
        "name": "lesion",
        "median_volume_mm3": 8.0,
        "median_extent_mm": [2.0, 2.0, 2.0],
        "equivalent_diameter_mm": pytest.approx((6 * 8 / math.pi) ** (1 / 3)),
    }


def test_crop_margin_comes_from_the_settings(isotropic):
    fp = dataset_fingerprint(*isotropic, {"crop_margin": 0})
    assert fp["shapes_after_crop"] == [[10, 10, 6], [10, 12, 6], [12, 8, 8]]


def test_anisotropic_spacing_percentiles_and_extents(tmp_path):
    organ, lesion = box((5, 5, 3), (9, 9, 5)), box((10, 10, 3), (11, 11, 4))
    image, label = ct_case(
        (16, 16, 8), box((3, 3, 2), (13, 13, 6)), [(organ, 1, 50.0), (lesion, 2, 150.0)]
    )
    spacings = {"p1": (0.8, 0.8, 3.0), "p2": (0.8, 0.8, 3.0), "p3": (1.0, 1.0, 2.5)}
    cases = {case: ([image], label, s) for case, s in spacings.items()}
    fp = dataset_fingerprint(*write_raw(tmp_path / "Dataset011_Aniso", cases), {})
    assert np.allclose(fp["spacings"], list(spacings.values()))
    assert fp["median_spacing"] == pytest.approx([0.8, 0.8, 3.0])
    # sorted [0.8, 0.8, 1.0] and [2.5, 3, 3], linear interpolation
    assert fp["spacing_percentiles"]["10"] == pytest.approx([0.8, 0.8, 2.6])
    assert fp["spacing_percentiles"]["90"] == pytest.approx([0.96, 0.96, 3.0])
    assert fp["anisotropy"]["ratio"] == pytest.approx(3.75)
    assert fp["anisotropy"]["worst_axis"] == 2
    assert fp["median_shape_after_crop"] == [14.0, 14.0, 8.0]
    assert fp["median_size_mm"] == pytest.approx([14 * 0.8, 14 * 0.8, 8 * 3.0])
    organ = fp["classes"]["1"]  # 4x4x2 voxels: 3.2 x 3.2 x 6 mm twice, 4 x 4 x 5 mm once
    assert organ["median_extent_mm"] == pytest.approx([3.2, 3.2, 6.0])
    assert organ["median_volume_mm3"] == pytest.approx(32 * 0.8 * 0.8 * 3.0)
    assert organ["median_min_extent_voxels"] == 2.0
    lesion = fp["smallest_structure"]
    assert lesion["name"] == "lesion" and lesion["median_volume_mm3"] == pytest.approx(1.92)


def test_every_channel_has_its_own_intensity_statistics(tmp_path):
    label = np.zeros((10, 10, 6), np.uint8)
    label[3:5, 3:5, 2:4] = 1  # 8 voxels
    cases = {}
    for case, (t1, flair) in {"m1": (10.0, 500.0), "m2": (30.0, 700.0)}.items():
        images = [np.where(label > 0, value, 1.0).astype(np.float32) for value in (t1, flair)]
        cases[case] = (images, label, (1.0, 1.0, 1.0))
    raw = write_raw(tmp_path / "Dataset012_Two", cases, ("T1", "FLAIR"), {"bg": 0, "lesion": 1})
    fp = dataset_fingerprint(*raw, {})
    assert fp["channels"] == ["T1", "FLAIR"] and fp["modalities"] == ["mr", "mr"]
    t1, flair = fp["intensity"]["0"], fp["intensity"]["1"]
    assert (t1["name"], flair["name"]) == ("T1", "FLAIR")
    assert (t1["mean"], t1["std"], t1["min"], t1["max"]) == (20.0, 10.0, 10.0, 30.0)
    assert (flair["mean"], flair["std"], flair["min"], flair["max"]) == (600.0, 100.0, 500.0, 700.0)
    assert (t1["percentile_00_5"], t1["percentile_99_5"]) == (10.0, 30.0)
    assert t1["sampled_voxels"] == flair["sampled_voxels"] == 16


@pytest.fixture
def large_foreground(tmp_path):
    """2 CT cases with 11,700 foreground voxels of random intensities each."""
    rng = np.random.default_rng(0)
    cases = {}
    for case in ("l1", "l2"):
        image, label = ct_case((34, 34, 18), box((2, 2, 2), (32, 32, 16)), [])
        label[2:32, 2:32, 2:15] = 1  # 30 x 30 x 13 = 11,700 voxels
        image[label > 0] = rng.normal(50, 20, int(label.sum()))
        cases[case] = ([image], label, (1.0, 1.0, 1.0))
    return write_raw(tmp_path / "Dataset013_Large", cases, labels={"bg": 0, "organ": 1})


def test_sampling_is_capped_and_deterministic(large_foreground, tmp_path):
    raw, report = large_foreground
    first = write_fingerprint(raw, report, tmp_path / "a.json", {})
    second = write_fingerprint(raw, report, tmp_path / "b.json", {})
    assert first["intensity"]["0"]["sampled_voxels"] == 2 * 10_000
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert a.pop("provenance")["seed"] == 1234
    b.pop("provenance")
    assert a == b and a["intensity"] == second["intensity"]
    assert (tmp_path / "a.json").read_text().startswith('{\n  "name"')  # indent 2


def test_samples_are_distinct_foreground_voxels_at_the_same_places_in_every_channel():
    label = np.zeros((30, 30, 20), np.uint8)
    label[:, :, :15] = 1  # 13,500 foreground voxels
    image = np.arange(label.size, dtype=np.float32).reshape(label.shape)
    first, second = foreground_samples([image, image + 0.5], label)
    assert len(np.unique(first)) == 10_000 and (label.ravel()[first.astype(int)] == 1).all()
    assert (second == first + 0.5).all()
    label[:, :, 1:] = 0  # 900 voxels: all of them, in order
    (few,) = foreground_samples([image], label)
    assert (few == image[:, :, 0].ravel()).all()


@pytest.mark.parametrize("damage", ["missing", "garbage", "report"])
def test_a_missing_or_unreadable_file_is_named(isotropic, damage):
    raw, report = isotropic
    path = report if damage == "report" else raw / "imagesTr" / "b_0000.nii.gz"
    path.unlink() if damage != "garbage" else path.write_bytes(b"not a nifti")
    with pytest.raises(KdsegError) as err:
        dataset_fingerprint(raw, report, {})
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("kind", ["thorax", "brain"])
def test_crops_exactly_as_preprocessing(tmp_path, kind):
    raw = make_tiny(tmp_path / kind, kind, cases=4)
    report, splits, out = tmp_path / "r.json", tmp_path / "s.json", tmp_path / "pre"
    validate_raw_dataset(raw, report)
    write_splits(str(report), str(splits), seed=0, test=1, validation=1)
    settings = {"target_spacing": "median", "crop_margin": 1}
    preprocess_dataset(raw, report, splits, out, settings)
    fp = dataset_fingerprint(raw, report, settings)
    cases = load_manifest(out)["cases"]
    assert fp["shapes_after_crop"] == [c["cropped_shape"] for c in cases]
    assert fp["shapes"] != fp["shapes_after_crop"]  # the body crop did cut something
