"""An ensemble's test predictions from its members' stored ones: no network runs again.

Every member's ``predict`` job keeps its class probabilities on the preprocessed grid (float16
``<case>_probabilities.npy``) and its measured inference time per case (``inference.json``).
The ensemble's probabilities are the members' mean (computed in float32), its labels their
arg-max on the case's original grid, its uncertainty map (``<case>_std.npy``) the members'
standard deviation of the predicted class's probability. Its time per case is the sum of the
members' times (a deployed ensemble runs its members one after the other), its peak memory the
largest member's (one member at a time). Numpy only: the job does not import torch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kdseg.data.nifti import write_volume
from kdseg.data.preprocess import load_manifest
from kdseg.data.restore import labels_in_original_geometry
from kdseg.errors import KdsegError
from kdseg.runtime.atomic import atomic_dir
from kdseg.runtime.provenance import provenance

log = logging.getLogger("kdseg")


def _member_summary(member_dir: Path, cases: Sequence[str], split: str) -> dict[str, Any]:
    """A member's inference.json, checked to cover ``cases`` of ``split``."""
    path = member_dir / "inference.json"
    if not path.is_file():
        raise KdsegError(f"{path}: missing (the member's predictions are incomplete)")
    summary = json.loads(path.read_text())
    if summary.get("split", split) != split:
        raise KdsegError(f"{path}: predictions of split {summary['split']!r}, not {split!r}")
    missing = sorted(set(cases) - set(summary.get("seconds_per_case", {})))
    if missing:
        raise KdsegError(f"{path}: no timing for case(s) {', '.join(missing[:3])}")
    return summary


def _member_probabilities(member_dir: Path, case: str) -> np.ndarray:
    path = member_dir / f"{case}_probabilities.npy"
    if not path.is_file():
        raise KdsegError(f"{path}: missing (the member's predictions are incomplete)")
    return np.load(path).astype(np.float32)


def mean_and_std(members: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(mean probabilities (K, ...), std of the members' probability of the mean's arg-max),
    from running sums: one member in memory at a time."""
    total = total_sq = None
    n = 0
    for p in members:
        if total is not None and p.shape != total.shape:
            raise KdsegError(
                f"ensemble members' probabilities differ in shape: {total.shape} and {p.shape}"
            )
        total = p if total is None else total + p
        total_sq = p * p if total_sq is None else total_sq + p * p
        n += 1
    if total is None or total_sq is None:
        raise KdsegError("ensemble: no member probabilities")
    mean = total / n
    var = np.maximum(total_sq / n - mean * mean, 0.0)
    label = mean.argmax(0)
    return mean, np.sqrt(np.take_along_axis(var, label[None], 0)[0])


def combine_member_predictions(
    member_dirs: Sequence[str | Path],
    preprocessed: str | Path,
    out_dir: str | Path,
    name: str = "ensemble",
    split: str = "test",
) -> dict[str, Any]:
    """Write an ensemble's predictions of ``split`` into ``out_dir`` from its members'."""
    if not member_dirs:
        raise KdsegError(f"{name}: no member predictions")
    dirs = [Path(d) for d in member_dirs]
    entries = [c for c in load_manifest(preprocessed)["cases"] if c["split"] == split]
    cases = [e["case"] for e in entries]
    summaries = [_member_summary(d, cases, split) for d in dirs]
    devices = sorted({s.get("device", "?") for s in summaries})
    seconds = {c: float(sum(s["seconds_per_case"][c] for s in summaries)) for c in cases}
    with atomic_dir(out_dir) as tmp:
        for i, entry in enumerate(entries, 1):
            case = entry["case"]
            mean, std = mean_and_std(_member_probabilities(d, case) for d in dirs)
            np.save(tmp / f"{case}_probabilities.npy", mean.astype(np.float16))
            np.save(tmp / f"{case}_std.npy", std.astype(np.float16))
            labels = labels_in_original_geometry(
                mean, entry["cropped_shape"], entry["crop_box"], entry["original"]["shape"]
            )
            write_volume(tmp / f"{case}.nii.gz", labels, np.asarray(entry["original"]["affine"]))
            log.info("%s: case %d/%d %s (mean of %d members)", name, i, len(entries), case,
                     len(dirs))  # fmt: skip
        summary = {
            "model": name,
            "parameters": sum(int(s.get("parameters", 0)) for s in summaries),
            "members": len(dirs),
            "member_predictions": [str(d) for d in dirs],
            "inference": [s.get("inference") for s in summaries],
            "split": split,
            "device": devices[0] if len(devices) == 1 else ", ".join(devices),
            "device_name": summaries[0].get("device_name"),
            "seconds_per_case": seconds,
            "seconds_rule": "sum of the members' measured seconds per case (run in turn)",
            "mean_seconds_per_case": float(np.mean(list(seconds.values()))) if seconds else None,
            "peak_memory_mb": max(float(s.get("peak_memory_mb") or 0.0) for s in summaries),
            "peak_memory_kind": summaries[0].get("peak_memory_kind"),
            "provenance": provenance(),
        }
        (tmp / "inference.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
