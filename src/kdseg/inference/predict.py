"""Apply a model file to the cases of a split: probabilities, NIfTI labels, timing, memory.

Per case: class probabilities at preprocessed resolution (float16 ``<case>_probabilities.npy``,
kept for ensembles) and the label map on the case's original geometry (``<case>.nii.gz``
with the original affine). ``inference.json`` records the parameter count, the inference
time per case (model forward passes only, measured after one warm-up case on the device used)
and the peak memory (CUDA: peak allocated; CPU: the process's peak resident set).
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kdseg.data.nifti import write_volume
from kdseg.data.preprocess import load_manifest, open_case
from kdseg.data.restore import labels_in_original_geometry
from kdseg.models.model_file import load_model
from kdseg.models.windows import predict_probabilities
from kdseg.nets import count_parameters
from kdseg.runtime.atomic import atomic_dir
from kdseg.runtime.device import choose_device
from kdseg.runtime.provenance import provenance
from kdseg.runtime.steps import WARM_UP

log = logging.getLogger("kdseg")

ProbabilityFn = Callable[[np.ndarray], "np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]"]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def predict_split(
    probabilities_of: ProbabilityFn,
    preprocessed: str | Path,
    out_dir: str | Path,
    device: torch.device,
    split: str = "test",
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``probabilities_of(image)`` on every case of ``split``; write into ``out_dir``.

    ``probabilities_of`` returns the class probabilities, or (probabilities, extra maps): each
    extra map (e.g. an ensemble's member standard deviation) is saved as ``<case>_<name>.npy``.
    """
    manifest = load_manifest(preprocessed)
    entries = [c for c in manifest["cases"] if c["split"] == split]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    timings: dict[str, float] = {}
    log.info("predicting %d %s cases into %s", len(entries), split, out_dir)
    with atomic_dir(out_dir) as tmp:
        if entries:  # warm-up: first-call allocations, kernel selection, lazy imports
            start = time.perf_counter()
            probabilities_of(open_case(preprocessed, entries[0]["case"])[0])
            log.info(WARM_UP.format(seconds=time.perf_counter() - start))
        for i, entry in enumerate(entries, 1):
            image, _ = open_case(preprocessed, entry["case"])
            _sync(device)
            start = time.perf_counter()
            probs = probabilities_of(image)
            _sync(device)
            timings[entry["case"]] = time.perf_counter() - start
            probs, extra = probs if isinstance(probs, tuple) else (probs, {})
            np.save(tmp / f"{entry['case']}_probabilities.npy", probs.astype(np.float16))
            for key, value in extra.items():
                np.save(tmp / f"{entry['case']}_{key}.npy", value.astype(np.float16))
            labels = labels_in_original_geometry(
                probs, entry["cropped_shape"], entry["crop_box"], entry["original"]["shape"]
            )
            write_volume(
                tmp / f"{entry['case']}.nii.gz", labels, np.asarray(entry["original"]["affine"])
            )
            seconds = timings[entry["case"]]
            log.info("predicted %d/%d: %s (%.2fs)", i, len(entries), entry["case"], seconds)
        summary = {
            **(info or {}),
            "split": split,
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "seconds_per_case": timings,
            "mean_seconds_per_case": float(np.mean(list(timings.values()))) if timings else None,
            "peak_memory_mb": (
                torch.cuda.max_memory_allocated(device) / 2**20
                if device.type == "cuda"
                else peak_rss_mb()
            ),
            "peak_memory_kind": "cuda_allocated" if device.type == "cuda" else "process_rss",
            "provenance": provenance(),
        }
        (tmp / "inference.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def predict_with_model(
    model_file: str | Path,
    preprocessed: str | Path,
    out_dir: str | Path,
    split: str = "test",
    device: str = "auto",
    amp: bool = True,
    threads: int = 1,
    inference: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Predict a split with one trained model file (``inference``: config section that
    changes the inference settings stored in the model file)."""
    torch.set_num_threads(threads)
    dev = choose_device(device)
    model, meta, spec = load_model(model_file, dev, inference)
    use_amp = amp and dev.type == "cuda"

    def probabilities_of(image: np.ndarray) -> np.ndarray:
        return predict_probabilities(model, image, spec, device=dev, amp=use_amp)

    info = {
        "model": meta.get("name", str(model_file)),
        "parameters": count_parameters(model),
        "inference": spec.to_json(),
    }
    return predict_split(probabilities_of, preprocessed, out_dir, dev, split, info)
