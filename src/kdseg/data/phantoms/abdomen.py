"""Abdomen CT phantom: a large organ, a small lesion inside it and a thin vessel, in HU.

Unlike the other kinds, its three structures differ in size by orders of magnitude: a
liver-like organ (a deformed ellipsoid, tens of mm), a lesion of 4-15 mm inside it (modest
contrast, sometimes at the organ border) and a curved vessel of 2-4 mm diameter crossing
the slices. Voxels are 0.8 x 0.8 x 3 mm, painted with supersampling along z (partial
volume of thick slices). Axes: x left-right, y anterior-posterior, z inferior-superior.
"""

from __future__ import annotations

import numpy as np

from kdseg.data.phantoms.canvas import Canvas, gaussian_noise, jitter

LABELS = {"background": 0, "organ": 1, "lesion": 2, "vessel": 3}
CHANNELS = {0: "CT"}
DEFAULT_SHAPE = (160, 160, 40)
DEFAULT_SPACING = (0.8, 0.8, 3.0)


def abdomen_case(
    rng: np.random.Generator,
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    spacing: tuple[float, float, float] = DEFAULT_SPACING,
    noise: float = 1.0,
) -> tuple[list[np.ndarray], np.ndarray]:
    """One abdomen case: ([CT image], label map)."""
    cv = Canvas(shape, spacing, rng, background=-1000.0, z_supersample=2)
    shift = rng.uniform(-0.03, 0.03, 3).astype(np.float32) * cv.extent
    shift[2] = 0.0
    tissue = jitter(rng, 40.0, 0.25)
    _body(cv, rng, shift, tissue)
    organ_sd, organ_hu = _organ(cv, rng, shift, tissue)
    vessel_sd = _vessel(cv, rng, shift, tissue)
    _lesion(cv, rng, organ_sd, vessel_sd, organ_hu)
    # a slight smooth inhomogeneity (HU) inside the body
    drift = cv.smooth_field(jitter(rng, 6.0, 0.3), grid=4)
    cv.image = np.where(cv.image > -500, cv.image + drift, cv.image)
    image, label = cv.finish()
    image = gaussian_noise(rng, image, jitter(rng, 15.0, 0.3) * noise)
    return [np.clip(image, -1024, 3071)], label


def _body(cv: Canvas, rng: np.random.Generator, shift: np.ndarray, tissue: float) -> None:
    """Trunk outline in fat, muscle and soft tissue inside, a vertebra behind (unlabelled)."""
    ext = cv.extent
    center = cv.at(0.5, 0.5, 0) + shift
    radii = ext * [jitter(rng, 0.46, 0.03), jitter(rng, 0.4, 0.05), 1]
    outline = cv.elliptic_cylinder(center, radii) + cv.smooth_field(1.5)
    cv.paint(outline, jitter(rng, -100.0, 0.15), blur=1.5)  # subcutaneous fat
    fat = jitter(rng, 6.0, 0.4)
    cv.paint(outline + fat, jitter(rng, 50.0, 0.2), blur=1.5)  # abdominal wall muscle
    cv.paint(outline + fat + jitter(rng, 5.0, 0.3), tissue, blur=1.5)
    spine_c = cv.at(0.5 + rng.uniform(-0.02, 0.02), jitter(rng, 0.78, 0.03), 0) + shift
    spine = cv.elliptic_cylinder(spine_c, np.array([jitter(rng, 12.0, 0.15)] * 2 + [1.0]))
    cv.paint(spine, jitter(rng, 400.0, 0.2), blur=1.2)


def _organ(
    cv: Canvas, rng: np.random.Generator, shift: np.ndarray, tissue: float
) -> tuple[np.ndarray, float]:
    """A large deformed ellipsoid on the left of the image: (signed distance, its HU)."""
    ext = cv.extent
    center = (
        cv.at(
            0.39 + rng.uniform(-0.03, 0.03),
            0.42 + rng.uniform(-0.03, 0.03),
            0.5 + rng.uniform(-0.05, 0.05),
        )
        + shift
    )
    radii = ext * [jitter(rng, 0.23, 0.12), jitter(rng, 0.2, 0.12), jitter(rng, 0.3, 0.1)]
    sd = cv.ellipsoid(center, radii) + cv.smooth_field(0.07 * float(radii.mean()))
    hu = tissue + jitter(rng, 60.0, 0.3)
    cv.paint(sd, hu, label=LABELS["organ"], blur=jitter(rng, 1.3, 0.2))
    return sd, hu


def _vessel(cv: Canvas, rng: np.random.Generator, shift: np.ndarray, tissue: float) -> np.ndarray:
    """A contrast-filled tube of 2-4 mm diameter, curving through most slices beside the
    organ: its signed distance."""
    x0, y0 = 0.72 + rng.uniform(-0.03, 0.03), 0.58 + rng.uniform(-0.04, 0.04)
    zs = np.linspace(rng.uniform(-0.05, 0.15), rng.uniform(0.85, 1.05), 5)
    dx, dy = rng.uniform(-0.05, 0.05, 5), rng.uniform(-0.05, 0.05, 5)
    line = np.array([cv.at(x0 + a, y0 + b, z) for a, b, z in zip(dx, dy, zs, strict=True)])
    radius = rng.uniform(1.0, 2.0)
    sd = cv.tube(line + shift, radius)
    cv.paint(sd, tissue + jitter(rng, 150.0, 0.25), label=LABELS["vessel"], blur=0.8)
    return sd


def _lesion(
    cv: Canvas,
    rng: np.random.Generator,
    organ_sd: np.ndarray,
    vessel_sd: np.ndarray,
    organ_hu: float,
) -> None:
    """A hypodense sphere of 4-15 mm inside the organ, away from the vessel, at most 1/60 of
    the organ's volume; in a third of the cases as near the organ border as it fits."""
    organ_mm3 = float((cv.label == LABELS["organ"]).sum()) * float(
        np.prod(cv.extent / cv.fine_shape)
    )
    radius = min(float(rng.uniform(2.0, 7.5)), (organ_mm3 / 60 / (4 / 3 * np.pi)) ** (1 / 3))
    inside = np.argwhere((organ_sd < 0) & (vessel_sd > 0))
    picks = inside[rng.choice(len(inside), size=min(400, len(inside)), replace=False)]
    depth = -organ_sd[tuple(picks.T)]
    clear = vessel_sd[tuple(picks.T)]
    fits = (depth >= radius + 3.5) & (clear >= radius + 2.0)
    while not fits.any():  # a small organ: a smaller lesion
        radius *= 0.8
        fits = (depth >= radius + 3.5) & (clear >= radius + 2.0)
    candidates = picks[fits]
    if rng.uniform() < 1 / 3:
        pick = candidates[np.argmin(depth[fits])]
    else:
        pick = candidates[rng.integers(len(candidates))]
    center = np.array([cv.x.ravel()[pick[0]], cv.y.ravel()[pick[1]], cv.z.ravel()[pick[2]]])
    within = cv.occupancy(organ_sd)
    contrast = jitter(rng, 25.0, 0.4)
    cv.paint(
        cv.ellipsoid(center, np.full(3, radius, dtype=np.float32)),
        organ_hu - contrast,
        label=LABELS["lesion"],
        blur=jitter(rng, 1.3, 0.2),
        within=within,
    )
