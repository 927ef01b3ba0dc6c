"""Reuse a trained network instead of training the same network twice.

A baseline with the architecture, loss, seed, data and training settings of a teacher is that
teacher (``kdseg.config.teacher_equal_to_baseline``): its model file is hard-linked (copied
where links are not possible) and its history and curves copied, each written atomically.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from kdseg.runtime.atomic import atomic_path

log = logging.getLogger("kdseg")


def reuse_trained_model(
    model: str | Path,
    model_out: str | Path,
    history_out: str | Path,
    curves_out: str | Path,
) -> None:
    """Give ``model`` (and the ``training.csv``/``training.png`` beside it) a second name."""
    source = Path(model).parent
    for src, out in (
        (Path(model), model_out),
        (source / "training.csv", history_out),
        (source / "training.png", curves_out),
    ):
        with atomic_path(out) as tmp:
            try:
                os.link(src, tmp)
            except OSError:  # another file system, or no hard links there
                shutil.copyfile(src, tmp)
    log.info("%s: the same network as %s (same settings, data and seed), reused", model_out, model)
