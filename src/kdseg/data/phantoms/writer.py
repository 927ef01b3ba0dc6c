"""Write a phantom dataset in the nnU-Net v2 raw layout."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from kdseg.data.nifti import affine_from_spacing, write_volume
from kdseg.data.phantoms.registry import PHANTOMS
from kdseg.runtime.atomic import atomic_dir

log = logging.getLogger("kdseg")


def write_phantom_dataset(
    out_dir: str | Path,
    kind: str,
    cases: int,
    seed: int,
    shape: list[int] | None = None,
    spacing: list[float] | None = None,
    noise: float = 1.0,
    name: str | None = None,
) -> list[str]:
    """Generate ``cases`` phantom patients of ``kind`` into ``out_dir``; returns the case ids.

    The folder appears only when complete. The same arguments give byte-identical files.
    """
    spec = PHANTOMS[kind]
    shp = tuple(int(s) for s in (shape or spec.default_shape))
    spc = tuple(float(s) for s in (spacing or spec.default_spacing))
    ids = spec.case_ids(cases)
    origin = tuple(-0.5 * n * s for n, s in zip(shp, spc, strict=True))
    affine = affine_from_spacing(spc, origin)
    start = time.perf_counter()
    with atomic_dir(out_dir) as tmp:
        for i, case in enumerate(ids):
            index, frame = (
                (i // len(spec.frames), spec.frames[i % len(spec.frames)])
                if spec.frames
                else (i, None)
            )
            channels, label = spec.generate(seed, index, shp, spc, noise, frame)
            for c, image in enumerate(channels):
                data = (
                    np.round(image).astype(np.int16)
                    if spec.channels[c] == "CT"
                    else image.astype(np.float32)
                )
                write_volume(tmp / "imagesTr" / f"{case}_{c:04d}.nii.gz", data, affine)
            write_volume(tmp / "labelsTr" / f"{case}.nii.gz", label.astype(np.uint8), affine)
            elapsed = time.perf_counter() - start
            eta = elapsed / (i + 1) * (len(ids) - i - 1)
            log.info(
                "phantom %s: case %d/%d %s (%.1fs elapsed, ETA %.1fs)",
                kind,
                i + 1,
                len(ids),
                case,
                elapsed,
                eta,
            )
        dataset_json = {
            "name": name or f"phantom_{kind}",
            "description": f"kdseg synthetic phantom mimicking {spec.mimics}",
            "channel_names": {str(k): v for k, v in spec.channels.items()},
            "labels": spec.labels,
            "numTraining": len(ids),
            "file_ending": ".nii.gz",
            "kdseg_phantom": {
                "kind": kind,
                "cases": cases,
                "seed": seed,
                "shape": list(shp),
                "spacing": list(spc),
                "noise": noise,
            },
        }
        (tmp / "dataset.json").write_text(json.dumps(dataset_json, indent=2) + "\n")
    return ids
