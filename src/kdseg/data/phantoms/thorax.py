"""Thorax CT phantom (SegTHOR-like): esophagus, heart, trachea, aorta, in Hounsfield units.

Axes: x left-right, y anterior-posterior, z inferior-superior. The heart is a large blob,
the aorta a curved tube (ascending, arch, descending), the trachea an air tube that
bifurcates, and the esophagus a thin tube of low contrast between trachea and aorta.
"""

from __future__ import annotations

import numpy as np

from kdseg.data.phantoms.canvas import Canvas, gaussian_noise, jitter

LABELS = {"background": 0, "esophagus": 1, "heart": 2, "trachea": 3, "aorta": 4}
CHANNELS = {0: "CT"}
DEFAULT_SHAPE = (64, 64, 48)
DEFAULT_SPACING = (3.0, 3.0, 3.0)


def thorax_case(
    rng: np.random.Generator,
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    spacing: tuple[float, float, float] = DEFAULT_SPACING,
    noise: float = 1.0,
) -> tuple[list[np.ndarray], np.ndarray]:
    """One thorax case: ([CT image], label map)."""
    cv = Canvas(shape, spacing, rng, background=-1000.0)
    shift = rng.uniform(-0.04, 0.04, 3).astype(np.float32) * cv.extent
    shift[2] = 0.0
    tissue = jitter(rng, 20.0, 0.5)
    _body_and_lungs(cv, rng, shift, tissue)
    heart_c, heart_r = _heart(cv, rng, shift, tissue)
    _aorta(cv, rng, shift, tissue, heart_c, heart_r)
    tx, ty = _trachea(cv, rng, shift, tissue)
    _esophagus(cv, rng, shift, tissue, tx, ty)
    image, label = cv.finish()
    image = gaussian_noise(rng, image, jitter(rng, 22.0, 0.3) * noise)
    return [np.clip(image, -1024, 3071)], label


def _body_and_lungs(cv: Canvas, rng: np.random.Generator, shift: np.ndarray, tissue: float) -> None:
    """Soft tissue of the trunk, then two air-filled lungs in it."""
    ext = cv.extent
    body = cv.elliptic_cylinder(
        cv.at(0.5, 0.5, 0) + shift, ext * [jitter(rng, 0.44, 0.06), jitter(rng, 0.34, 0.06), 1]
    )
    cv.paint(body + cv.smooth_field(2.0), tissue, blur=1.5)
    for side in (-1, 1):
        lung = cv.ellipsoid(
            cv.at(0.5 + side * jitter(rng, 0.2, 0.1), 0.52, 0.62) + shift,
            ext * [jitter(rng, 0.15, 0.1), jitter(rng, 0.22, 0.1), jitter(rng, 0.6, 0.1)],
        )
        cv.paint(lung + cv.smooth_field(3.0), jitter(rng, -830.0, 0.03), blur=1.5)


def _heart(
    cv: Canvas, rng: np.random.Generator, shift: np.ndarray, tissue: float
) -> tuple[np.ndarray, np.ndarray]:
    """A large, deformed blob low in the thorax, slightly left and anterior: (centre, radii)."""
    ext = cv.extent
    heart_c = (
        cv.at(
            0.5 + rng.uniform(0.0, 0.08), 0.42 + rng.uniform(-0.04, 0.04), jitter(rng, 0.28, 0.15)
        )
        + shift
    )
    heart_r = ext * [jitter(rng, 0.17, 0.15), jitter(rng, 0.14, 0.15), jitter(rng, 0.22, 0.15)]
    heart_sd = cv.ellipsoid(heart_c, heart_r) + cv.smooth_field(0.08 * float(heart_r.mean()))
    cv.paint(
        heart_sd, tissue + jitter(rng, 35.0, 0.3), label=LABELS["heart"], blur=jitter(rng, 1.5, 0.3)
    )
    return heart_c, heart_r


def _aorta(
    cv: Canvas,
    rng: np.random.Generator,
    shift: np.ndarray,
    tissue: float,
    heart_c: np.ndarray,
    heart_r: np.ndarray,
) -> None:
    """Ascending from the heart (centre ``heart_c``, radii ``heart_r``), arch backwards and
    left, descending to the bottom."""
    ext = cv.extent
    top = jitter(rng, 0.82, 0.05)
    asc_x, desc_x = 0.5 + rng.uniform(0.0, 0.05), 0.5 - rng.uniform(0.05, 0.1)
    desc_y = jitter(rng, 0.64, 0.04)
    aorta_line = (
        np.array(
            [
                cv.at(asc_x, 0.42, (heart_c[2] + 0.75 * heart_r[2]) / ext[2]),
                cv.at(asc_x, 0.44, top - 0.06),
                cv.at((asc_x + desc_x) / 2, (0.44 + desc_y) / 2, top),
                cv.at(desc_x, desc_y, top - 0.06),
                cv.at(desc_x, desc_y + rng.uniform(-0.02, 0.02), 0.0),
            ]
        )
        + shift
    )
    aorta_r = jitter(rng, 0.045, 0.15) * ext[0]
    cv.paint(cv.tube(aorta_line, aorta_r), tissue + jitter(rng, 55.0, 0.3), label=LABELS["aorta"])


def _trachea(
    cv: Canvas, rng: np.random.Generator, shift: np.ndarray, tissue: float
) -> tuple[float, float]:
    """An air tube from the top, bifurcating into two bronchi: its (x, y) as fractions."""
    carina = jitter(rng, 0.6, 0.06)
    tx, ty = 0.5 + rng.uniform(-0.02, 0.02), jitter(rng, 0.5, 0.04)
    trachea_r = jitter(rng, 0.035, 0.15) * cv.extent[0]
    trachea = cv.tube(np.array([cv.at(tx, ty, 1.0), cv.at(tx, ty, carina)]) + shift, trachea_r)
    for side in (-1, 1):
        bronchus = (
            np.array([cv.at(tx, ty, carina), cv.at(tx + side * 0.12, ty + 0.03, carina - 0.15)])
            + shift
        )
        trachea = np.minimum(trachea, cv.tube(bronchus, 0.7 * trachea_r))
    cv.paint(trachea - 1.5, tissue + 25.0, blur=1.0)  # wall
    cv.paint(trachea, jitter(rng, -950.0, 0.03), label=LABELS["trachea"])
    return tx, ty


def _esophagus(
    cv: Canvas, rng: np.random.Generator, shift: np.ndarray, tissue: float, tx: float, ty: float
) -> None:
    """A thin tube of low contrast, behind the trachea (at ``tx``, ``ty``) and beside the aorta."""
    ex, ey = tx - rng.uniform(0.02, 0.05), ty + jitter(rng, 0.09, 0.2)
    eso_line = (
        np.array(
            [
                cv.at(ex, ey, 1.0),
                cv.at(ex + rng.uniform(-0.03, 0.03), ey + 0.02, 0.5),
                cv.at(ex + 0.04, ey - 0.06, 0.0),
            ]
        )
        + shift
    )
    eso_r = jitter(rng, 0.022, 0.2) * cv.extent[0]
    cv.paint(
        cv.tube(eso_line, eso_r),
        tissue + jitter(rng, 18.0, 0.4),
        label=LABELS["esophagus"],
        blur=jitter(rng, 1.6, 0.25),
    )
