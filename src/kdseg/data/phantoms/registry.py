"""The phantom kinds: their generator, labels, channels, default geometry and case names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kdseg.data.phantoms import abdomen, brain, cardiac, thorax


@dataclass(frozen=True)
class PhantomKind:
    """A phantom family mimicking one of the paper's datasets."""

    name: str
    mimics: str
    labels: dict[str, int]
    channels: dict[int, str]
    default_shape: tuple[int, int, int]
    default_spacing: tuple[float, float, float]
    frames: tuple[str, ...] = ()

    def case_ids(self, cases: int) -> list[str]:
        """Case ids; with frames, each patient gives one case per frame (patientNNN_ED, ...)."""
        if self.frames:
            return [f"patient{i:03d}_{f}" for i in range(cases) for f in self.frames]
        return [f"{self.name}_{i:03d}" for i in range(cases)]

    def generate(
        self,
        seed: int,
        index: int,
        shape: tuple[int, int, int],
        spacing: tuple[float, float, float],
        noise: float,
        frame: str | None = None,
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """One case from its own random stream: (seed, case index[, frame])."""
        if self.frames:
            anatomy = np.random.default_rng([seed, index, 0])
            rng = np.random.default_rng(
                [seed, index, 1 + self.frames.index(frame or self.frames[0])]
            )
            return cardiac.cardiac_case(
                rng, shape, spacing, noise, frame=frame or "ED", anatomy=anatomy
            )
        rng = np.random.default_rng([seed, index])
        return _GENERATORS[self.name](rng, shape, spacing, noise)


_GENERATORS: dict[str, Callable[..., tuple[list[np.ndarray], np.ndarray]]] = {
    "thorax": thorax.thorax_case,
    "brain": brain.brain_case,
    "abdomen": abdomen.abdomen_case,
}

PHANTOMS: dict[str, PhantomKind] = {
    "thorax": PhantomKind(
        "thorax",
        "SegTHOR chest CT",
        thorax.LABELS,
        thorax.CHANNELS,
        thorax.DEFAULT_SHAPE,
        thorax.DEFAULT_SPACING,
    ),
    "brain": PhantomKind(
        "brain",
        "brain MRI (6 structures)",
        brain.LABELS,
        brain.CHANNELS,
        brain.DEFAULT_SHAPE,
        brain.DEFAULT_SPACING,
    ),
    "cardiac": PhantomKind(
        "cardiac",
        "ACDC cardiac cine-MRI",
        cardiac.LABELS,
        cardiac.CHANNELS,
        cardiac.DEFAULT_SHAPE,
        cardiac.DEFAULT_SPACING,
        frames=cardiac.FRAMES,
    ),
    "abdomen": PhantomKind(
        "abdomen",
        "abdominal CT (organ, lesion, vessel; not a paper dataset)",
        abdomen.LABELS,
        abdomen.CHANNELS,
        abdomen.DEFAULT_SHAPE,
        abdomen.DEFAULT_SPACING,
    ),
}


def phantom_case_ids(kind: str, cases: int) -> list[str]:
    """Case ids of a phantom dataset of ``cases`` patients."""
    return PHANTOMS[kind].case_ids(cases)
