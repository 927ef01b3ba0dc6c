"""Preprocessing of a validated raw dataset into memory-mappable arrays plus a manifest.

Per case: crop to the body box (original grid), normalise intensities per modality,
resample to the target spacing (images: cubic after smoothing, labels: nearest; target
``original``: every case keeps its own grid, as the authors' ACDC and brain images), save
``<case>_image.npy`` (channels, x, y, z; float32) and ``<case>_label.npy`` (uint8).
The manifest keeps what is needed to map a prediction back to the original geometry:
original shape and affine, crop box, cropped shape.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kdseg.data.crop import body_mask, bounding_box, crop
from kdseg.data.nifti import read_volume
from kdseg.data.normalize import CTStats, ct_stats, modality_of, normalize_ct, normalize_mr
from kdseg.data.raw_dataset import discover_cases, read_dataset_json
from kdseg.data.resample import SMOOTHING_RULES, authors_sigma, resample_to_shape, shape_for_spacing
from kdseg.errors import KdsegError
from kdseg.runtime.atomic import atomic_dir, save_npy
from kdseg.runtime.locks import reads
from kdseg.runtime.provenance import provenance

log = logging.getLogger("kdseg")


@dataclass(frozen=True)
class PreprocessSettings:
    """The ``preprocess`` section of a dataset's config."""

    target_spacing: list[float] | str = "median"
    normalization: str = "auto"
    ct_clip: str = "percentiles"
    ct_window: tuple[float, float] = (-1000.0, 1000.0)
    ct_percentiles: tuple[float, float] = (0.5, 99.5)
    ct_body_threshold: float = -500.0
    mr_body_fraction: float = 0.1
    crop_margin: int = 2
    image_order: int = 3
    smoothing: str = "ours"

    def __post_init__(self) -> None:
        if self.smoothing not in SMOOTHING_RULES:
            raise KdsegError(
                f"preprocess.smoothing: unknown value {self.smoothing!r} "
                f"(use {' or '.join(SMOOTHING_RULES)})"
            )

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> PreprocessSettings:
        ct = section.get("ct", {})
        return cls(
            target_spacing=section.get("target_spacing", "median"),
            normalization=section.get("normalization", "auto"),
            ct_clip=ct.get("clip", "percentiles"),
            ct_window=tuple(ct.get("window", (-1000.0, 1000.0))),
            ct_percentiles=tuple(ct.get("percentiles", (0.5, 99.5))),
            ct_body_threshold=float(ct.get("body_threshold", -500.0)),
            mr_body_fraction=float(section.get("mr_body_fraction", 0.1)),
            crop_margin=int(section.get("crop_margin", 2)),
            image_order=int(section.get("image_order", 3)),
            smoothing=section.get("smoothing", "ours"),
        )


def resolve_spacing(setting: list[float] | str, spacings: list[list[float]]) -> list[float]:
    """The target spacing: as configured, or the per-axis median of the dataset's spacings
    (``median``; ``original``, where no case is resampled, records the median too)."""
    if setting in ("median", "original"):
        return [float(v) for v in np.median(np.asarray(spacings, dtype=float), axis=0)]
    if isinstance(setting, str):
        raise KdsegError(
            f"preprocess.target_spacing: unknown value {setting!r} "
            "(use 'median', 'original' or [x, y, z])"
        )
    return [float(v) for v in setting]


def _ct_statistics(
    cases: list, train: set[str], channel: int, settings: PreprocessSettings, seed: int = 0
) -> CTStats:
    """Foreground intensities of the training cases (subsampled) -> clip window and mean/sd."""
    rng = np.random.default_rng(seed)
    samples = []
    for files in cases:
        if files.case not in train:
            continue
        image = read_volume(files.images[channel]).array
        fg = image[read_volume(files.label).array > 0]
        take = min(len(fg), 20000)
        samples.append(rng.choice(fg, size=take, replace=False) if take < len(fg) else fg)
    return ct_stats(
        np.concatenate(samples), settings.ct_clip, settings.ct_window, settings.ct_percentiles
    )


def body_box(
    first_channel: np.ndarray, label: np.ndarray, first_modality: str, settings: PreprocessSettings
) -> tuple[list[list[int]], np.ndarray]:
    """The crop box of a case and its body mask (the labelled voxels included): the body of
    the first channel (CT: a fixed HU threshold; else a fraction of its 99th percentile)."""
    if first_modality == "ct":
        threshold = settings.ct_body_threshold
    else:
        threshold = settings.mr_body_fraction * float(np.percentile(first_channel, 99))
    mask = body_mask(first_channel, threshold) | (label > 0)
    return bounding_box(mask, settings.crop_margin), mask


def preprocess_case(
    files: Any,
    modalities: list[str],
    ct: dict[int, CTStats],
    target_spacing: list[float] | None,
    settings: PreprocessSettings,
    out_dir: Path,
    training: bool = False,
) -> dict[str, Any]:
    """Crop, normalise and resample one case (``target_spacing`` None: not resampled); write
    its arrays; return its manifest entry. A training case whose normalised channel is one
    constant stops preprocessing (KdsegError): the networks would learn from blank images."""
    label_vol = read_volume(files.label)
    channels = [read_volume(files.images[c]).array for c in range(len(modalities))]
    label = label_vol.array.astype(np.uint8)
    box, mask = body_box(channels[0], label, modalities[0], settings)
    mask_c, label_c = crop(mask, box), crop(label, box)
    norm_stats: list[dict[str, float]] = []
    normalized = []
    for c, (image, modality) in enumerate(zip(channels, modalities, strict=True)):
        image_c = crop(image, box)
        if modality == "ct":
            normalized.append(normalize_ct(image_c, ct[c]))
            norm_stats.append({"modality": "ct", **ct[c].to_json()})
        elif modality == "none":
            normalized.append(image_c.astype(np.float32))
            norm_stats.append({"modality": "none"})
        else:
            out, stats = normalize_mr(image_c, mask_c)
            normalized.append(out)
            norm_stats.append({"modality": "mr", **stats})
        if training and float(normalized[-1].min()) == float(normalized[-1].max()):
            raise KdsegError(
                f"case {files.case!r}: channel {c} ({modality}) is constant after normalisation "
                f"({normalized[-1].flat[0]:g} everywhere); check preprocess.ct.window / "
                "percentiles and the image"
            )
    spacing = list(label_vol.spacing)
    target = spacing if target_spacing is None else target_spacing
    shape = (
        label_c.shape
        if target_spacing is None
        else shape_for_spacing(label_c.shape, spacing, target)
    )
    sigma = authors_sigma(spacing, target) if settings.smoothing == "authors" else None
    image_r = np.stack(
        [resample_to_shape(ch, shape, settings.image_order, sigma=sigma) for ch in normalized]
    )
    label_r = resample_to_shape(label_c, shape, order=0)
    save_npy(out_dir / f"{files.case}_image.npy", image_r.astype(np.float32))
    save_npy(out_dir / f"{files.case}_label.npy", label_r.astype(np.uint8))
    return {
        "case": files.case,
        "image": f"{files.case}_image.npy",
        "label": f"{files.case}_label.npy",
        "shape": list(shape),
        "original": {
            "shape": list(label.shape),
            "spacing": spacing,
            "affine": label_vol.affine.tolist(),
        },
        "crop_box": box,
        "cropped_shape": list(label_c.shape),
        "normalization": norm_stats,
        "voxels_per_label": {int(v): int((label_r == v).sum()) for v in np.unique(label_r)},
        **({"spacing": spacing} if target_spacing is None else {}),
    }


@reads("raw_root")
def preprocess_dataset(
    raw_root: str | Path,
    validation_report: str | Path,
    splits: str | Path,
    out_dir: str | Path,
    settings: dict[str, Any],
    name: str = "",
    threads: int = 1,
) -> dict[str, Any]:
    """Preprocess every case of a validated dataset into ``out_dir`` (appears when complete),
    reading ``raw_root`` under its shared lock (it may be shared through ``data_dir``)."""
    cfg = PreprocessSettings.from_config(settings)
    raw_root = Path(raw_root)
    report = json.loads(Path(validation_report).read_text())
    split = json.loads(Path(splits).read_text())
    info = read_dataset_json(raw_root)
    cases = discover_cases(raw_root, info)
    target = resolve_spacing(cfg.target_spacing, [c["spacing"] for c in report["cases"]])
    modalities = [
        modality_of(info.channel_names[c], cfg.normalization) for c in range(info.num_channels)
    ]
    train = set(split["train"])
    ct = {c: _ct_statistics(cases, train, c, cfg) for c, m in enumerate(modalities) if m == "ct"}
    split_of = {case: part for part in ("train", "validation", "test") for case in split[part]}
    start = time.perf_counter()
    entries = []
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        own_grid = cfg.target_spacing == "original"  # every case keeps its spacing
        args = [(f, modalities, ct, None if own_grid else target, cfg, tmp, f.case in train)
                for f in cases]  # fmt: skip
        if threads > 1:
            with ProcessPoolExecutor(max_workers=threads) as pool:
                futures = [pool.submit(preprocess_case, *a) for a in args]
                for i, fut in enumerate(futures, 1):
                    entries.append(fut.result())
                    _progress(i, len(args), start, name)
        else:
            for i, a in enumerate(args, 1):
                entries.append(preprocess_case(*a))
                _progress(i, len(args), start, name)
        for entry in entries:
            entry["split"] = split_of.get(entry["case"], "unassigned")
            entry["patient"] = split.get("patient_of", {}).get(entry["case"], entry["case"])
        manifest = {
            "dataset": info.to_json(),
            "name": name or info.name,
            "modalities": modalities,
            "target_spacing": target,
            "settings": settings,
            "ct_stats": {str(c): s.to_json() for c, s in ct.items()},
            "cases": entries,
            "provenance": provenance(),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _progress(i: int, n: int, start: float, name: str) -> None:
    elapsed = time.perf_counter() - start
    log.info(
        "preprocessed %d/%d cases of %s (%.1fs, ETA %.1fs)",
        i,
        n,
        name,
        elapsed,
        elapsed / i * (n - i),
    )


def load_manifest(preprocessed_dir: str | Path) -> dict[str, Any]:
    """The manifest of a preprocessed dataset."""
    return json.loads((Path(preprocessed_dir) / "manifest.json").read_text())


def open_case(preprocessed_dir: str | Path, case: str) -> tuple[np.ndarray, np.ndarray]:
    """Memory-mapped (image, label) arrays of one preprocessed case."""
    root = Path(preprocessed_dir)
    return (
        np.load(root / f"{case}_image.npy", mmap_mode="r"),
        np.load(root / f"{case}_label.npy", mmap_mode="r"),
    )
