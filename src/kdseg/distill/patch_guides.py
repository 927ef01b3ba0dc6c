"""Where a student's training patches go: by the reference labels (the authors), by its
ensemble's arg-max, and/or around voxels where its ensemble is uncertain (ours).

A student of the paper sees class-balanced patches placed by the reference labels, like its
baseline. Two options of a ``kd`` student change that (issue 16: does what a student sees decide
what it learns of a small structure?):

``patch_source: ensemble``
    the class-balanced patches are placed by the ensemble's arg-max labels (the structures as
    the ensemble sees them) instead of the reference labels; the targets stay the same.
``uncertain_patches: f``
    a fraction ``f`` of the patches hold, in their output region, a voxel where the ensemble's
    mean probabilities have a normalised entropy of at least ``uncertain_entropy`` (0.5 by
    default; 1 = all classes equally likely). Only the mean is stored, so this is the
    ensemble's total uncertainty: where members disagree, or agree on being unsure.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from kdseg.distill.soft_labels import SoftLabelLayout
from kdseg.errors import ConfigError
from kdseg.train.sampler import PatchGuides

log = logging.getLogger("kdseg")

PATCH_SOURCES = ("labels", "ensemble")


def mean_probabilities(stored: np.ndarray, layout: SoftLabelLayout) -> np.ndarray:
    """The ensemble's mean class probabilities (K, X, Y, Z) of one case's stored soft labels."""
    target = layout.target(torch.from_numpy(np.array(stored)[None]), 1.0, "members")
    return target[0].numpy()


def normalised_entropy(probabilities: np.ndarray) -> np.ndarray:
    """Per voxel, the entropy of the class probabilities (K, ...) divided by log K (0..1)."""
    p = np.clip(probabilities.astype(np.float64), 1e-12, 1.0)
    return (-(p * np.log(p)).sum(0) / math.log(len(p))).astype(np.float32)


def guide_settings(settings: Mapping[str, Any]) -> tuple[str, float, float]:
    """(patch source, uncertain fraction, entropy threshold) of a student's settings, checked."""
    source = str(settings.get("patch_source", "labels"))
    fraction = float(settings.get("uncertain_patches", 0.0))
    threshold = float(settings.get("uncertain_entropy", 0.5))
    if source not in PATCH_SOURCES:
        raise ConfigError(f"patch_source {source!r}: unknown (known: {', '.join(PATCH_SOURCES)})")
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"uncertain_patches {fraction}: must be in [0, 1]")
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"uncertain_entropy {threshold}: must be in (0, 1]")
    return source, fraction, threshold


def patch_guides(
    soft: Mapping[str, Mapping[str, np.ndarray]],
    cases: Sequence[str],
    layout: SoftLabelLayout,
    settings: Mapping[str, Any],
) -> PatchGuides | None:
    """The :class:`PatchGuides` of a student from its ensemble's soft labels (``soft``: per
    case ``{"soft": stored array}``); None where the settings keep the labels' patches."""
    source, fraction, threshold = guide_settings(settings)
    if source == "labels" and fraction == 0:
        return None
    placement, focus, blind = {}, {}, []
    for case in cases:
        probabilities = mean_probabilities(soft[case]["soft"], layout)
        if source == "ensemble":
            ensemble_labels = probabilities.argmax(0).astype(np.uint8)
            if ensemble_labels.any():
                placement[case] = ensemble_labels
            else:  # nothing to place patches around: the reference labels place them
                blind.append(case)
        if fraction > 0:
            focus[case] = normalised_entropy(probabilities) >= threshold
    if blind:
        log.warning(
            "student patches: the ensemble segments nothing in %d case(s) (%s); their "
            "reference labels place the patches", len(blind), ", ".join(blind),
        )  # fmt: skip
    uncertain = sum(int(mask.sum()) for mask in focus.values())
    log.info(
        "student patches: class-balanced by the %s%s",
        "ensemble's arg-max" if source == "ensemble" else "reference labels",
        f"; {fraction:.0%} around {uncertain} voxels where the ensemble is uncertain "
        f"(normalised entropy >= {threshold:g})" if fraction > 0 else "",
    )  # fmt: skip
    return PatchGuides(placement, focus, fraction)
