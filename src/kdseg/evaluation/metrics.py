"""Per-case segmentation metrics in physical units (mm), on label maps in original geometry.

``segmentation_metrics`` gives, per structure, Dice, IoU, HD95 and ASSD; ``overall_metrics``
gives the multi-class voxel accuracy and Cohen's kappa of a whole label map, from
``confusion_matrix`` (``np.bincount`` over chunks of voxels).

Surface distances follow MONAI's definitions (``compute_hausdorff_distance(percentile=95)``
and ``compute_average_surface_distance(symmetric=True)``) and agree with them to float32
precision (checked in ``tests/test_metrics.py``):

* the surface of a mask is the set of its voxels that a binary erosion with the
  6-connected (face) structuring element removes, the outside of the image counting as
  background;
* distances are exact Euclidean distances between voxel centres scaled by ``spacing``,
  which is given in array axis order (one value per axis of the array, in mm);
* HD95 = max(95th percentile of prediction->reference surface distances,
  95th percentile of reference->prediction surface distances), linear interpolation;
* ASSD = mean over the union of both directed sets of surface distances.

Backend: ``scipy.spatial.cKDTree`` over the surface voxels' physical coordinates (the same
algorithm MONAI uses on CPU), not a dense distance transform: only surface voxels are
touched: a 256x256x100 case with four organ-like structures takes about 0.3 s on 2 CPU cores
(about 7 s for a pathological case of ~2.5 million surface voxels, where MONAI takes ~16 s).
Surface voxels shared by both masks are at distance 0 and are not queried.

Empty-mask rule (MONAI returns NaN for empty masks, and averaging with ``nanmean`` then
silently drops a missed structure, which flatters a model; MONAI issue 9095). Every row
says which rule applied in ``empty_rule``; no NaN ever comes out:

* ``""``: both masks non-empty, metrics as above;
* ``"both_empty"``: structure absent from both: dice 1, iou 1, hd95 0, assd 0 (correct
  absence);
* ``"missed"``: in the reference but not predicted, and ``"false_positive"``: predicted but
  absent from the reference: dice 0, iou 0, and hd95 = assd = the diagonal of the image's
  physical extent, ``sqrt(sum((shape_i * spacing_i) ** 2))``, the largest distance possible in
  the image, so the case is penalised, never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = ["confusion_matrix", "overall_metrics", "segmentation_metrics"]


def _check_spacing(spacing: Sequence[float], ndim: int) -> np.ndarray:
    """Spacing as a float array, one positive finite value per array axis."""
    sp = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if sp.size != ndim:
        raise ValueError(f"spacing has {sp.size} values for a {ndim}-D array")
    if not np.all(np.isfinite(sp) & (sp > 0)):
        raise ValueError(f"spacing must be positive and finite, got {tuple(sp)}")
    return sp


def _crop_box(mask: np.ndarray) -> tuple[slice, ...]:
    """Bounding box of a non-empty mask, grown by one voxel on each side (clipped)."""
    box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other) if other else mask)
        box.append(slice(max(int(hit[0]) - 1, 0), min(int(hit[-1]) + 2, mask.shape[axis])))
    return tuple(box)


def _surface(mask: np.ndarray) -> np.ndarray:
    """Surface voxels: those removed by a 6-connected erosion (outside = background)."""
    return mask & ~ndimage.binary_erosion(mask)


def _directed(from_edge: np.ndarray, to_edge: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Distance (mm) from each surface voxel of ``from_edge`` to the nearest one of ``to_edge``."""
    distances = np.zeros(int(from_edge.sum()), dtype=np.float64)
    todo = from_edge & ~to_edge  # shared surface voxels are at distance 0
    if todo.any():
        tree = cKDTree(np.argwhere(to_edge) * spacing)
        distances[: int(todo.sum())] = tree.query(np.argwhere(todo) * spacing, workers=-1)[0]
    return distances


def _surface_distances(
    pred: np.ndarray, ref: np.ndarray, spacing: np.ndarray
) -> tuple[float, float]:
    """(HD95, ASSD) in mm of two non-empty boolean masks."""
    box = _crop_box(pred | ref)
    pred_edge, ref_edge = _surface(pred[box]), _surface(ref[box])
    d_pred = _directed(pred_edge, ref_edge, spacing)
    d_ref = _directed(ref_edge, pred_edge, spacing)
    hd95 = max(float(np.percentile(d_pred, 95)), float(np.percentile(d_ref, 95)))
    assd = float(np.concatenate([d_pred, d_ref]).mean())
    return hd95, assd


def segmentation_metrics(
    prediction: np.ndarray,
    reference: np.ndarray,
    spacing: Sequence[float],
    labels: Mapping[str, int],
) -> list[dict[str, Any]]:
    """One row per structure: dice, iou, hd95 and assd (mm), voxel counts and ``empty_rule``.

    ``prediction`` and ``reference`` are label maps of the same shape; ``spacing`` is in mm, in
    array axis order; ``labels`` maps structure name to label value (background excluded).
    See the module docstring for the surface definition and the empty-mask rule.
    """
    pred = np.asarray(prediction)
    ref = np.asarray(reference)
    if pred.shape != ref.shape:
        raise ValueError(f"prediction shape {pred.shape} != reference shape {ref.shape}")
    sp = _check_spacing(spacing, ref.ndim)
    diagonal = math.sqrt(float(np.sum((np.asarray(ref.shape) * sp) ** 2)))

    rows: list[dict[str, Any]] = []
    for name, value in labels.items():
        p = pred == value
        r = ref == value
        n_pred, n_ref = int(p.sum()), int(r.sum())
        if n_pred and n_ref:
            inter = int(np.count_nonzero(p & r))
            dice = 2.0 * inter / (n_pred + n_ref)
            iou = inter / (n_pred + n_ref - inter)
            hd95, assd = _surface_distances(p, r, sp)
            rule = ""
        elif not n_pred and not n_ref:
            dice, iou, hd95, assd, rule = 1.0, 1.0, 0.0, 0.0, "both_empty"
        else:
            rule = "missed" if n_ref else "false_positive"
            dice, iou, hd95, assd = 0.0, 0.0, diagonal, diagonal
        rows.append(
            {
                "structure": name,
                "dice": dice,
                "iou": iou,
                "hd95": hd95,
                "assd": assd,
                "reference_voxels": n_ref,
                "predicted_voxels": n_pred,
                "empty_rule": rule,
            }
        )
    return rows


_CHUNK = 1 << 20  # voxels per bincount call: bounds temporary memory, and is faster


def _chunk_labels(chunk: np.ndarray, num_classes: int, what: str) -> np.ndarray:
    """A chunk of labels as int64, checked to be integers in ``[0, num_classes)``."""
    if chunk.dtype.kind not in "biu" and not np.all(chunk == np.round(chunk)):
        raise ValueError(f"{what} holds non-integer labels")
    if chunk.min() < 0 or chunk.max() >= num_classes:
        raise ValueError(
            f"{what} labels must lie in [0, {num_classes}), got [{chunk.min()}, {chunk.max()}]"
        )
    return chunk.astype(np.int64)


def confusion_matrix(prediction: np.ndarray, reference: np.ndarray, num_classes: int) -> np.ndarray:
    """``num_classes`` x ``num_classes`` voxel counts, rows = reference, columns = prediction."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    pred = np.asarray(prediction)
    ref = np.asarray(reference)
    if pred.shape != ref.shape:
        raise ValueError(f"prediction shape {pred.shape} != reference shape {ref.shape}")
    pred, ref = pred.reshape(-1), ref.reshape(-1)
    if not pred.size:
        raise ValueError("empty label maps")
    counts = np.zeros(num_classes * num_classes, dtype=np.int64)
    for start in range(0, pred.size, _CHUNK):
        p = _chunk_labels(pred[start : start + _CHUNK], num_classes, "prediction")
        r = _chunk_labels(ref[start : start + _CHUNK], num_classes, "reference")
        counts += np.bincount(r * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def overall_metrics(
    prediction: np.ndarray, reference: np.ndarray, num_classes: int
) -> dict[str, float]:
    """Multi-class voxel ``accuracy`` and Cohen's ``kappa`` over all voxels.

    Built from the ``num_classes`` x ``num_classes`` confusion matrix (``np.bincount``), with
    chance agreement from its marginals. When chance agreement is 1 (both maps a single, same
    class), kappa is undefined (0/0) and reported as 1.0, since agreement is then perfect.
    """
    confusion = confusion_matrix(prediction, reference, num_classes)
    n = float(confusion.sum())
    observed = float(np.trace(confusion)) / n
    chance = float(
        np.dot(confusion.sum(axis=1).astype(np.float64), confusion.sum(axis=0).astype(np.float64))
    ) / (n * n)
    kappa = 1.0 if chance >= 1.0 else (observed - chance) / (1.0 - chance)
    return {"accuracy": observed, "kappa": kappa}


def class_dice(prediction: np.ndarray, reference: np.ndarray, num_classes: int) -> list[float]:
    """Dice of each foreground class 1..K-1 (both empty: 1; one empty: 0)."""
    scores = []
    for c in range(1, num_classes):
        p, r = prediction == c, reference == c
        denom = int(p.sum()) + int(r.sum())
        scores.append(1.0 if denom == 0 else 2.0 * int((p & r).sum()) / denom)
    return scores


def mean_dice(prediction: np.ndarray, reference: np.ndarray, num_classes: int) -> float:
    """Mean Dice over the foreground classes (both empty: 1; one empty: 0)."""
    return float(np.mean(class_dice(prediction, reference, num_classes)))
