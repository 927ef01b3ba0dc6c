"""Cardiac cine-MRI phantom (ACDC-like): RV cavity, myocardium, LV cavity; thick slices.

Each patient gives two cases, end-diastole (ED) and end-systole (ES): at ES the cavities are
smaller and the myocardium thicker. Slices are thick (anisotropic spacing) and painted with
supersampling along z, so basal and apical slices show real partial-volume mixing. The
myocardium has low contrast against the surrounding tissue.
"""

from __future__ import annotations

import numpy as np

from kdseg.data.phantoms.canvas import Canvas, jitter, rician_noise

LABELS = {"background": 0, "rv_cavity": 1, "myocardium": 2, "lv_cavity": 3}
CHANNELS = {0: "cineMRI"}
DEFAULT_SHAPE = (64, 64, 12)
DEFAULT_SPACING = (1.8, 1.8, 8.0)
FRAMES = ("ED", "ES")


def cardiac_case(
    rng: np.random.Generator,
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    spacing: tuple[float, float, float] = DEFAULT_SPACING,
    noise: float = 1.0,
    frame: str = "ED",
    anatomy: np.random.Generator | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """One frame of a patient. ``anatomy`` (seeded per patient) fixes the heart across frames."""
    anat = anatomy if anatomy is not None else rng
    cv = Canvas(shape, spacing, rng, background=0.0, z_supersample=4)
    ext = cv.extent
    center = cv.at(0.5 + anat.uniform(-0.06, 0.06), 0.5 + anat.uniform(-0.06, 0.06), 0.0)
    base_z = ext[2] * anat.uniform(0.8, 0.95)  # the basal plane; apex near the bottom
    lv_r = jitter(anat, 22.0, 0.15)
    wall = jitter(anat, 7.0, 0.15)
    contraction = jitter(anat, 0.7, 0.08) if frame == "ES" else 1.0
    lv_r_f = lv_r * contraction
    wall_f = wall / np.sqrt(contraction)  # roughly constant myocardial volume

    cv.paint(
        cv.elliptic_cylinder(cv.at(0.5, 0.5, 0), ext * [0.47, 0.44, 1]),
        jitter(rng, 0.35, 0.1),
        blur=1.5,
    )
    for side in (-1, 1):
        lung = cv.elliptic_cylinder(cv.at(0.5 + side * 0.3, 0.35, 0), ext * [0.15, 0.25, 1])
        cv.paint(lung, 0.05, blur=1.5)
    fat = cv.ellipsoid(
        center + np.array([0, -lv_r * 0.9, base_z * 0.6]),
        np.array([lv_r * 2.2, lv_r * 1.0, base_z * 0.5]),
    )
    cv.paint(fat + cv.smooth_field(2.0), jitter(rng, 0.75, 0.1), blur=1.5)

    # taper towards the apex: radius scale along z (1 at base, 0 beyond the apex)
    rel = np.clip((cv.z - 0.0) / base_z, 0.0, None)
    taper = np.sqrt(np.clip(rel * 1.25 - 0.1, 0.0, 1.0))
    beyond_base = cv.z - base_z  # positive above the base: nothing there

    def radial(r: float, cx: float, cy: float, ry_scale: float = 1.0) -> np.ndarray:
        d = np.sqrt(((cv.x - cx) / 1.0) ** 2 + ((cv.y - cy) / ry_scale) ** 2)
        return np.maximum(d - r * taper, beyond_base)

    cx, cy = float(center[0]), float(center[1])
    epi = radial(lv_r_f + wall_f, cx, cy) + cv.smooth_field(0.8)
    rv_shift = (lv_r + wall) * jitter(anat, 0.95, 0.1)
    rv_outer = radial(
        jitter(anat, 1.25, 0.1) * lv_r * np.sqrt(contraction), cx - rv_shift, cy + 3, 1.2
    )
    rv = np.maximum(rv_outer + cv.smooth_field(1.0), -epi + 1.5)  # crescent: outside the LV wall
    myo = jitter(rng, 0.22, 0.15)
    blood = jitter(rng, 0.9, 0.06)
    cv.paint(rv, blood * jitter(rng, 0.95, 0.05), label=LABELS["rv_cavity"], blur=1.3)
    cv.paint(epi, myo, label=LABELS["myocardium"], blur=1.5)
    cv.paint(
        radial(lv_r_f, cx, cy) + cv.smooth_field(0.8), blood, label=LABELS["lv_cavity"], blur=1.3
    )
    # papillary muscles: dark spots in the LV cavity that belong to the cavity label
    for angle in anat.uniform(0, 2 * np.pi, 2):
        px, py = cx + 0.55 * lv_r_f * np.cos(angle), cy + 0.55 * lv_r_f * np.sin(angle)
        spot = np.maximum(np.sqrt((cv.x - px) ** 2 + (cv.y - py) ** 2) - 2.5, beyond_base)
        cv.image = cv.image - 0.4 * cv.occupancy(spot, 1.5) * (cv.label == LABELS["lv_cavity"])

    image, label = cv.finish()
    image = image * jitter(rng, 600.0, 0.4)
    image = rician_noise(rng, image, jitter(rng, 25.0, 0.3) * noise)
    return [image], label
