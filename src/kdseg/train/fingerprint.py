"""What shapes a network's weights besides the loop settings, as recorded in its checkpoint."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kdseg.config.settings import RUNTIME_TRAINING
from kdseg.train.settings import LOOP_KEYS


def input_identity(path: str | Path) -> str:
    """A short content hash of an input file, or of an input folder's listing (names, sizes;
    hidden entries such as locks left out) and JSON records (a preprocessed dataset's
    manifest, soft labels' summary: stamped with the time they were written), for the
    fingerprint of a checkpoint."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        entries = sorted(e for e in path.iterdir() if not e.name.startswith("."))
        for entry in entries:
            digest.update(f"{entry.name}\0{entry.stat().st_size}\0".encode())
        files = [e for e in entries if e.suffix == ".json" and e.is_file()]
    else:
        files = [path]
    for file in files:
        with open(file, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def training_fingerprint(
    preprocessed: str | Path,
    architecture: Mapping[str, Any],
    training: Mapping[str, Any],
    training_cases: Sequence[str] | None = None,
    init: str | Path | None = None,
) -> dict[str, Any]:
    """What shapes a network's weights besides the loop settings (which the loop records)
    and the loss or method settings (the caller's): network and patch, sampling and
    augmentation, training cases, the data and the initial weights (by content)."""
    return {
        "architecture": dict(architecture),
        "training": {
            k: v for k, v in training.items() if k not in LOOP_KEYS | set(RUNTIME_TRAINING)
        },
        "training_cases": "all" if training_cases is None else sorted(training_cases),
        "data": input_identity(preprocessed),
        "init": None if init is None else input_identity(init),
    }
