"""The fingerprint of a validated raw dataset (as nnU-Net v2's): spacings, shapes after
cropping to the body box (exactly as preprocessing crops), foreground intensities per
channel and the size of every class.

Axes are the array axes (x, y, z) as :func:`kdseg.data.nifti.read_volume` reads them.
Intensities are raw (before normalisation), sampled from up to ``SAMPLES_PER_CASE`` random
foreground voxels per case with a fixed seed, so the fingerprint is deterministic.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kdseg.data.crop import bounding_box, crop
from kdseg.data.nifti import read_volume
from kdseg.data.normalize import modality_of
from kdseg.data.preprocess import PreprocessSettings, body_box
from kdseg.data.raw_dataset import CaseFiles, expected_case_files, read_dataset_json
from kdseg.errors import KdsegError
from kdseg.runtime.atomic import write_json
from kdseg.runtime.locks import reads
from kdseg.runtime.provenance import provenance

log = logging.getLogger("kdseg")

SAMPLES_PER_CASE = 10_000  # foreground voxels per case for the intensity statistics
SEED = 1234  # nnU-Net's seed for the same sampling


@dataclass(frozen=True)
class ClassSize:
    """One class in one case: its voxel count and bounding-box size (voxels per axis)."""

    voxels: int
    extent: list[int]


@dataclass(frozen=True)
class CaseFingerprint:
    """What the fingerprint needs from one case."""

    spacing: list[float]
    shape: list[int]
    shape_after_crop: list[int]
    samples: list[np.ndarray]  # per channel: sampled foreground intensities
    classes: dict[int, ClassSize]  # foreground label value -> size, present classes only


def foreground_samples(
    channels: list[np.ndarray], label: np.ndarray, seed: int = SEED
) -> list[np.ndarray]:
    """Intensities of each channel at the same up to ``SAMPLES_PER_CASE`` random foreground
    voxels (all of them when there are fewer)."""
    where = np.flatnonzero(label > 0)
    if len(where) > SAMPLES_PER_CASE:
        where = np.random.default_rng(seed).choice(where, SAMPLES_PER_CASE, replace=False)
    return [image.ravel()[where] for image in channels]


def class_sizes(label: np.ndarray, values: list[int]) -> dict[int, ClassSize]:
    """Voxel count and bounding-box size of each of ``values`` present in ``label``."""
    sizes = {}
    for value in values:
        mask = label == value
        if mask.any():
            extent = [stop - start for start, stop in bounding_box(mask)]
            sizes[value] = ClassSize(int(mask.sum()), extent)
    return sizes


def case_fingerprint(
    files: CaseFiles, modalities: list[str], values: list[int], settings: PreprocessSettings
) -> CaseFingerprint:
    """Read one case, crop it to its body box as preprocessing does, and measure it."""
    label_vol = read_volume(files.label)
    channels = [read_volume(files.images[c]).array for c in range(len(modalities))]
    label = label_vol.array.astype(np.uint8)
    box, _ = body_box(channels[0], label, modalities[0], settings)
    label_c = crop(label, box)
    return CaseFingerprint(
        spacing=list(label_vol.spacing),
        shape=list(label.shape),
        shape_after_crop=list(label_c.shape),
        samples=foreground_samples([crop(image, box) for image in channels], label_c),
        classes=class_sizes(label_c, values),
    )


def _floats(values: Any) -> list[float]:
    return [float(v) for v in values]


def median_and_percentiles(rows: list[list[float]]) -> tuple[list[float], dict[str, list[float]]]:
    """Per-axis median and 10th/90th percentiles of per-case vectors."""
    array = np.asarray(rows, dtype=float)
    low, high = np.percentile(array, [10, 90], axis=0)
    return _floats(np.median(array, axis=0)), {"10": _floats(low), "90": _floats(high)}


def intensity_statistics(samples: np.ndarray) -> dict[str, float | int]:
    """nnU-Net's foreground intensity properties of one channel."""
    values = samples.astype(np.float64)
    low, median, high = np.percentile(values, [0.5, 50, 99.5])
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "percentile_00_5": float(low),
        "median": float(median),
        "percentile_99_5": float(high),
        "sampled_voxels": int(values.size),
    }


def channel_intensities(names: list[str], cases: list[CaseFingerprint]) -> dict[str, Any]:
    """Channel number -> its name and the statistics of its samples over all cases."""
    return {
        str(c): {
            "name": name,
            **intensity_statistics(np.concatenate([k.samples[c] for k in cases])),
        }
        for c, name in enumerate(names)
    }


def class_summary(name: str, value: int, cases: list[CaseFingerprint]) -> dict[str, Any]:
    """Share of all cropped voxels, presence, and median size of one class (medians over the
    cases that contain it; None when none does)."""
    total = sum(math.prod(c.shape_after_crop) for c in cases)
    present = [c for c in cases if value in c.classes]
    summary: dict[str, Any] = {
        "name": name,
        "voxel_fraction": sum(c.classes[value].voxels for c in present) / total,
        "cases_present": len(present),
        "median_volume_mm3": None,
        "median_extent_mm": None,
        "median_min_extent_voxels": None,
    }
    if present:
        volumes = [c.classes[value].voxels * math.prod(c.spacing) for c in present]
        extents = [np.multiply(c.classes[value].extent, c.spacing) for c in present]
        summary["median_volume_mm3"] = float(np.median(volumes))
        summary["median_extent_mm"] = _floats(np.median(extents, axis=0))
        summary["median_min_extent_voxels"] = float(
            np.median([min(c.classes[value].extent) for c in present])
        )
    return summary


def smallest_structure(classes: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The present class with the smallest median volume, and the diameter of a sphere of
    that volume."""
    present = {v: c for v, c in classes.items() if c["median_volume_mm3"] is not None}
    if not present:
        return None
    value = min(present, key=lambda v: present[v]["median_volume_mm3"])
    volume = present[value]["median_volume_mm3"]
    return {
        "label": int(value),
        "name": present[value]["name"],
        "median_volume_mm3": volume,
        "median_extent_mm": present[value]["median_extent_mm"],
        "equivalent_diameter_mm": (6 * volume / math.pi) ** (1 / 3),
    }


def _case_ids(validation_report: str | Path) -> list[str]:
    """The cases listed in a validation report."""
    path = Path(validation_report)
    try:
        return [c["case"] for c in json.loads(path.read_text())["cases"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise KdsegError(f"{path}: not a readable validation report ({err})") from err


@reads("raw_root")
def dataset_fingerprint(
    raw_root: str | Path,
    validation_report: str | Path,
    settings: dict[str, Any],
    name: str = "",
) -> dict[str, Any]:
    """The fingerprint of every case of the validation report (``settings``: the dataset's
    ``preprocess`` config section), read under ``raw_root``'s shared lock."""
    raw_root = Path(raw_root)
    cfg = PreprocessSettings.from_config(settings)
    info = read_dataset_json(raw_root)
    ids = _case_ids(validation_report)
    names = [info.channel_names[c] for c in range(info.num_channels)]
    modalities = [modality_of(n, cfg.normalization) for n in names]
    labels = {v: k for k, v in sorted(info.labels.items(), key=lambda kv: kv[1])}
    foreground = [v for v in labels if v != 0]
    cases = []
    for i, case in enumerate(ids, 1):
        log.info("fingerprint: case %d/%d (%s)", i, len(ids), case)
        files = expected_case_files(raw_root, info, case)
        cases.append(case_fingerprint(files, modalities, foreground, cfg))
    spacing, spacing_pct = median_and_percentiles([c.spacing for c in cases])
    shape, shape_pct = median_and_percentiles([c.shape_after_crop for c in cases])
    classes = {str(v): class_summary(labels[v], v, cases) for v in foreground}
    return {
        "name": name or info.name,
        "cases": len(cases),
        "case_ids": ids,
        "channels": names,
        "modalities": modalities,
        "labels": {str(v): n for v, n in labels.items()},
        "settings": settings,
        "spacings": [c.spacing for c in cases],
        "shapes": [c.shape for c in cases],
        "shapes_after_crop": [c.shape_after_crop for c in cases],
        "median_spacing": spacing,
        "spacing_percentiles": spacing_pct,
        "median_shape_after_crop": shape,
        "shape_after_crop_percentiles": shape_pct,
        "median_size_mm": _floats(np.multiply(shape, spacing)),
        "anisotropy": {
            "ratio": max(spacing) / min(spacing),
            "worst_axis": int(np.argmax(spacing)),
        },
        "intensity": channel_intensities(names, cases),
        "classes": classes,
        "smallest_structure": smallest_structure(classes),
    }


def write_fingerprint(
    raw_root: str | Path,
    validation_report: str | Path,
    out_path: str | Path,
    settings: dict[str, Any],
    name: str = "",
) -> dict[str, Any]:
    """Compute the fingerprint and write it (JSON, atomically) with its provenance."""
    fingerprint = dataset_fingerprint(raw_root, validation_report, settings, name)
    fingerprint["provenance"] = provenance(seed=SEED)
    write_json(out_path, fingerprint)
    return fingerprint
