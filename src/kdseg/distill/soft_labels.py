"""An ensemble's soft labels for the training and validation cases, stored as 8-bit.

Probabilities are quantised to ``uint8`` (``round(255 p)``): a quarter of float32's size, read
back memory-mapped during distillation and scaled by 1/255. ``soft_labels.json`` records what
the compression costs: per case the largest absolute error and the Dice (against the reference
labels) of the arg-max of the float32 and of the 8-bit probabilities.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kdseg.atomic import atomic_dir
from kdseg.data.preprocess import load_manifest, open_case
from kdseg.ensemble import Ensemble
from kdseg.provenance import provenance
from kdseg.train.segmentation import choose_device, mean_dice

log = logging.getLogger("kdseg")

SCALE = 1.0 / 255.0


def quantise(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities in [0, 1] as uint8 (``round(255 p)``)."""
    return np.rint(np.clip(probabilities, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_soft_labels(
    model_files: Sequence[str | Path],
    preprocessed: str | Path,
    out_dir: str | Path,
    splits: Sequence[str] = ("train", "validation"),
    device: str = "auto",
    amp: bool = True,
    threads: int = 1,
    inference: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Ensemble probabilities of every case of ``splits`` as ``<case>.npy`` (uint8)."""
    torch.set_num_threads(threads)
    ensemble = Ensemble(model_files, choose_device(device), amp, inference)
    manifest = load_manifest(preprocessed)
    num_classes = len(manifest["dataset"]["labels"])
    cases = [c["case"] for c in manifest["cases"] if c["split"] in splits]
    rows = []
    stored_bytes = float32_bytes = 0
    with atomic_dir(out_dir) as tmp:
        for i, case in enumerate(cases, 1):
            image, label = open_case(preprocessed, case)
            probs, _ = ensemble(image)
            q = quantise(probs)
            np.save(tmp / f"{case}.npy", q)
            stored_bytes += (tmp / f"{case}.npy").stat().st_size
            float32_bytes += 4 * q.size
            restored = q.astype(np.float32) * SCALE
            rows.append(
                {
                    "case": case,
                    "max_abs_error": float(np.abs(restored - probs).max()),
                    "dice_float32": mean_dice(probs.argmax(0), np.asarray(label), num_classes),
                    "dice_uint8": mean_dice(restored.argmax(0), np.asarray(label), num_classes),
                    "label_agreement": float((restored.argmax(0) == probs.argmax(0)).mean()),
                }
            )
            log.info("soft labels %d/%d: %s", i, len(cases), case)
        dice_change = [r["dice_uint8"] - r["dice_float32"] for r in rows]
        summary = {
            "members": [str(p) for p in model_files],
            "dtype": "uint8",
            "scale": SCALE,
            "bytes_uint8": stored_bytes,
            "bytes_float32_equivalent": float32_bytes,
            "mean_dice_change": float(np.mean(dice_change)) if rows else 0.0,
            "max_abs_dice_change": float(np.max(np.abs(dice_change))) if rows else 0.0,
            "cases": rows,
            "provenance": provenance(),
        }
        (tmp / "soft_labels.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("soft labels: Dice change from 8-bit storage %.2e (mean)", summary["mean_dice_change"])
    return summary


def open_soft_labels(folder: str | Path, cases: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """Memory-mapped uint8 soft labels per case, as extra sampler targets (key ``soft``)."""
    folder = Path(folder)
    return {c: {"soft": np.load(folder / f"{c}.npy", mmap_mode="r")} for c in cases}
