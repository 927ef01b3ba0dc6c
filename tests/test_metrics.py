"""Tests for kdseg.evaluation.metrics: agreement with MONAI, hand-computed cases, the
empty-mask rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from monai.metrics import DiceMetric, HausdorffDistanceMetric, MeanIoU, SurfaceDistanceMetric
from scipy import ndimage

from kdseg.evaluation.metrics import confusion_matrix, overall_metrics, segmentation_metrics

SPACING_3D = (0.8, 1.0, 2.5)
LABELS = {"a": 1, "b": 2, "c": 3}
NUMERIC = ("dice", "iou", "hd95", "assd")


def _blobs(shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, reference): label maps 0..3 from smoothed noise; prediction is perturbed."""
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.standard_normal(shape), 3.0)
    noisy = base + 0.5 * base.std() * ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
    noisy = np.roll(noisy, tuple(range(1, len(shape) + 1)), axis=tuple(range(len(shape))))

    def quantise(field: np.ndarray) -> np.ndarray:
        return np.digitize(field, np.quantile(field, [0.55, 0.75, 0.9])).astype(np.uint8)

    return quantise(noisy), quantise(base)


def _one_hot(label_map: np.ndarray, num_classes: int) -> torch.Tensor:
    """(1, C, *spatial) one-hot float tensor."""
    planes = [label_map == c for c in range(num_classes)]
    return torch.from_numpy(np.stack(planes)[None].astype(np.float32))


def _monai_rows(pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, ...]) -> dict:
    """Per-structure metrics from MONAI's metric classes (background excluded)."""
    yp, y = _one_hot(pred, 4), _one_hot(ref, 4)
    dice = DiceMetric(include_background=False, reduction="none")
    iou = MeanIoU(include_background=False, reduction="none")
    hd = HausdorffDistanceMetric(percentile=95, include_background=False, reduction="none")
    asd = SurfaceDistanceMetric(symmetric=True, include_background=False, reduction="none")
    dice(yp, y)
    iou(yp, y)
    hd(yp, y, spacing=list(spacing))
    asd(yp, y, spacing=list(spacing))
    return {
        "dice": dice.aggregate()[0].tolist(),
        "iou": iou.aggregate()[0].tolist(),
        "hd95": hd.aggregate()[0].tolist(),
        "assd": asd.aggregate()[0].tolist(),
    }


@pytest.mark.filterwarnings("ignore:.*always_return_as_numpy:FutureWarning")
@pytest.mark.parametrize(
    ("shape", "spacing", "seed"),
    [
        ((48, 40, 24), SPACING_3D, 0),
        ((40, 48, 20), (2.5, 0.7, 1.2), 1),
        ((96, 80), (0.6, 1.7), 2),
    ],
    ids=["3d", "3d-other-spacing", "2d"],
)
def test_agrees_with_monai_metric_classes(
    shape: tuple[int, ...], spacing: tuple[float, ...], seed: int
) -> None:
    pred, ref = _blobs(shape, seed)
    rows = segmentation_metrics(pred, ref, spacing, LABELS)
    expected = _monai_rows(pred, ref, spacing)
    assert [r["structure"] for r in rows] == list(LABELS)
    for i, row in enumerate(rows):
        assert row["empty_rule"] == ""
        assert row["reference_voxels"] == int((ref == i + 1).sum())
        assert row["predicted_voxels"] == int((pred == i + 1).sum())
        assert 0.0 < row["dice"] < 1.0 and row["hd95"] > 0.0
        for key in NUMERIC:
            assert row[key] == pytest.approx(expected[key][i], rel=1e-5, abs=1e-6), key


def test_hand_computed_cubes() -> None:
    """6^3 cubes offset by 2 voxels along the 2.5 mm axis."""
    ref = np.zeros((16, 16, 16), np.uint8)
    pred = np.zeros_like(ref)
    ref[4:10, 4:10, 4:10] = 1
    pred[4:10, 4:10, 6:12] = 1
    (row,) = segmentation_metrics(pred, ref, SPACING_3D, {"cube": 1})
    # overlap 6*6*4 = 144 of 216 voxels each
    assert row["dice"] == pytest.approx(2 * 144 / 432)  # 2/3
    assert row["iou"] == pytest.approx(144 / 288)  # 1/2
    assert row["reference_voxels"] == row["predicted_voxels"] == 216
    # Far faces are 2 voxels * 2.5 mm apart: no surface distance exceeds 5 mm, and the
    # 36 voxels of each far face are exactly 5 mm from the other surface (> 5% of 216).
    assert row["hd95"] == pytest.approx(5.0)
    assert 0.0 < row["assd"] < 5.0


def test_hand_computed_plates() -> None:
    """Two-voxel-thick plates (all voxels are surface) offset by one voxel along axis 2.

    Each directed set is half zeros (the shared layer) and half exactly 2.5 mm.
    """
    ref = np.zeros((12, 14, 10), np.uint8)
    pred = np.zeros_like(ref)
    ref[2:10, 3:11, 4:6] = 2
    pred[2:10, 3:11, 5:7] = 2
    (row,) = segmentation_metrics(pred, ref, SPACING_3D, {"plate": 2})
    assert row["dice"] == pytest.approx(0.5)
    assert row["iou"] == pytest.approx(1 / 3)
    assert row["hd95"] == pytest.approx(2.5)
    assert row["assd"] == pytest.approx(1.25)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_spacing_used_in_array_axis_order(axis: int) -> None:
    """A one-voxel-thick plate shifted by 3 voxels along ``axis`` is 3 * spacing[axis] away.

    Fails if spacing is ignored (3.0) or applied in another axis order.
    """
    spacing = (0.8, 1.9, 2.5)
    ref = np.zeros((20, 20, 20), np.uint8)
    index: list[slice | int] = [slice(4, 15)] * 3
    index[axis] = 8
    ref[tuple(index)] = 1
    pred = np.roll(ref, 3, axis=axis)
    (row,) = segmentation_metrics(pred, ref, spacing, {"plate": 1})
    assert row["dice"] == 0.0 and row["empty_rule"] == ""
    assert row["hd95"] == pytest.approx(3 * spacing[axis])
    assert row["assd"] == pytest.approx(3 * spacing[axis])


def test_empty_mask_rule() -> None:
    shape = (10, 12, 8)
    ref = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    ref[2:6, 2:6, 2:5] = 1
    pred[2:6, 3:7, 2:5] = 1  # present in both
    ref[6:9, 6:10, 4:7] = 2  # missed
    pred[1:3, 8:11, 5:7] = 3  # false positive
    labels = {"both": 1, "missed": 2, "fp": 3, "absent": 4}
    rows = {r["structure"]: r for r in segmentation_metrics(pred, ref, SPACING_3D, labels)}
    diagonal = math.sqrt((10 * 0.8) ** 2 + (12 * 1.0) ** 2 + (8 * 2.5) ** 2)

    assert rows["both"]["empty_rule"] == ""
    assert rows["absent"]["empty_rule"] == "both_empty"
    assert (rows["absent"]["dice"], rows["absent"]["iou"]) == (1.0, 1.0)
    assert (rows["absent"]["hd95"], rows["absent"]["assd"]) == (0.0, 0.0)
    assert rows["absent"]["reference_voxels"] == rows["absent"]["predicted_voxels"] == 0

    assert rows["missed"]["empty_rule"] == "missed"
    assert rows["missed"]["predicted_voxels"] == 0 and rows["missed"]["reference_voxels"] == 36
    assert rows["fp"]["empty_rule"] == "false_positive"
    assert rows["fp"]["reference_voxels"] == 0 and rows["fp"]["predicted_voxels"] == 12
    for name in ("missed", "fp"):
        assert (rows[name]["dice"], rows[name]["iou"]) == (0.0, 0.0)
        assert rows[name]["hd95"] == pytest.approx(diagonal)
        assert rows[name]["assd"] == pytest.approx(diagonal)
        # the penalty is worse than any real surface distance in this image
        assert rows[name]["hd95"] > rows["both"]["hd95"]

    for row in rows.values():
        for key in NUMERIC:
            assert isinstance(row[key], float) and math.isfinite(row[key]), (row, key)


def test_all_background_case_has_no_nan() -> None:
    empty = np.zeros((8, 8), np.uint8)
    rows = segmentation_metrics(empty, empty, (1.0, 1.0), LABELS)
    assert all(r["empty_rule"] == "both_empty" for r in rows)
    assert all(math.isfinite(r[k]) for r in rows for k in NUMERIC)
    assert overall_metrics(empty, empty, 4) == {"accuracy": 1.0, "kappa": 1.0}


def test_bad_inputs_raise() -> None:
    a = np.zeros((4, 5, 6), np.uint8)
    with pytest.raises(ValueError, match="spacing"):
        segmentation_metrics(a, a, (1.0, 1.0), LABELS)
    with pytest.raises(ValueError, match="shape"):
        segmentation_metrics(a, a[:3], (1.0, 1.0, 1.0), LABELS)
    with pytest.raises(ValueError, match="labels must lie"):
        overall_metrics(a + 4, a, 4)
    with pytest.raises(ValueError, match="non-integer"):
        overall_metrics(a + 0.5, a, 4)


def test_accuracy_and_kappa_hand_computed() -> None:
    ref = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    pred = np.array([0, 0, 1, 0, 1, 1, 2, 2, 2, 0])
    # confusion (rows = reference): [[3,1,0],[0,2,1],[1,0,2]]; marginals [4,3,3] both ways
    # p_o = 7/10, p_e = (16+9+9)/100 = 0.34, kappa = 0.36/0.66 = 6/11
    expected = np.array([[3, 1, 0], [0, 2, 1], [1, 0, 2]])
    np.testing.assert_array_equal(confusion_matrix(pred, ref, 3), expected)
    out = overall_metrics(pred, ref, 3)
    assert out["accuracy"] == pytest.approx(0.7)
    assert out["kappa"] == pytest.approx(6 / 11)
    # same values for a 2-D layout and float-typed integral labels
    out2 = overall_metrics(pred.reshape(2, 5).astype(float), ref.reshape(2, 5), 3)
    assert out2 == pytest.approx(out)


def test_kappa_identical_and_independent() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 4, size=(200, 200))
    b = rng.integers(0, 4, size=(200, 200))
    assert overall_metrics(a, a, 4) == {"accuracy": 1.0, "kappa": 1.0}
    out = overall_metrics(a, b, 4)
    assert out["accuracy"] == pytest.approx(0.25, abs=0.01)
    assert out["kappa"] == pytest.approx(0.0, abs=0.01)


def test_metric_rows_are_written_as_pandas_writes_them(tmp_path):
    import pandas as pd

    from kdseg.evaluation.evaluate import write_rows

    pred, ref = _blobs((20, 18, 9), 4)
    pred[pred == 3] = 0  # a missed structure: the empty-mask rule's row
    overall = overall_metrics(pred, ref, 4)
    per_structure = segmentation_metrics(pred, ref, SPACING_3D, LABELS)
    rows = [
        {"model": "m", "case": f"c{i}", **row, **overall} for i in range(2) for row in per_structure
    ]
    write_rows(rows, tmp_path / "ours.csv")
    pd.DataFrame(rows).to_csv(tmp_path / "pandas.csv", index=False)
    assert {r["empty_rule"] for r in rows} == {"", "missed"}
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_metric_rows_with_different_columns_are_refused(tmp_path):
    from kdseg.errors import KdsegError
    from kdseg.evaluation.evaluate import write_rows

    with pytest.raises(KdsegError, match="different columns"):
        write_rows([{"a": 1}, {"b": 2}], tmp_path / "x.csv")
    assert not list(tmp_path.iterdir())
