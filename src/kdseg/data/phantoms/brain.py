"""Brain MRI phantom (T1-like): 6 nested structures under a bias field with Rician noise.

Labels: cortical grey matter, white matter, extracerebral CSF, ventricles, basal ganglia,
cerebellum. The grey-white boundary folds (smooth random field), the basal ganglia and the
cerebellum have low contrast against their neighbours.
"""

from __future__ import annotations

import numpy as np

from kdseg.data.phantoms.canvas import Canvas, jitter, rician_noise

LABELS = {
    "background": 0,
    "grey_matter": 1,
    "white_matter": 2,
    "csf": 3,
    "ventricles": 4,
    "basal_ganglia": 5,
    "cerebellum": 6,
}
CHANNELS = {0: "T1"}
DEFAULT_SHAPE = (56, 64, 48)
DEFAULT_SPACING = (3.0, 3.0, 3.0)


def brain_case(
    rng: np.random.Generator,
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    spacing: tuple[float, float, float] = DEFAULT_SPACING,
    noise: float = 1.0,
) -> tuple[list[np.ndarray], np.ndarray]:
    """One brain case: ([T1 image], label map)."""
    cv = Canvas(shape, spacing, rng, background=0.0)
    ext = cv.extent
    center = cv.at(0.5, 0.5, 0.55) + rng.uniform(-0.03, 0.03, 3).astype(np.float32) * ext
    head_r = ext * [jitter(rng, 0.42, 0.05), jitter(rng, 0.45, 0.05), jitter(rng, 0.42, 0.05)]
    head = cv.ellipsoid(center, head_r) + cv.smooth_field(1.5)
    scalp_t, skull_t = jitter(rng, 4.0, 0.2), jitter(rng, 5.0, 0.2)

    gm, wm, csf = jitter(rng, 0.55, 0.06), jitter(rng, 0.82, 0.05), jitter(rng, 0.16, 0.2)
    cv.paint(head, jitter(rng, 0.6, 0.1), blur=1.2)  # scalp
    cv.paint(head + scalp_t, jitter(rng, 0.08, 0.3), blur=1.2)  # skull
    cv.paint(head + scalp_t + skull_t, csf, label=LABELS["csf"])
    brain = head + scalp_t + skull_t + jitter(rng, 3.0, 0.3) + cv.smooth_field(2.0)
    cv.paint(brain, gm, label=LABELS["grey_matter"], blur=jitter(rng, 1.2, 0.2))
    cortex = jitter(rng, 6.0, 0.2) + cv.smooth_field(jitter(rng, 2.0, 0.3), grid=10)
    cv.paint(
        brain + np.maximum(cortex, 1.5),
        wm,
        label=LABELS["white_matter"],
        blur=jitter(rng, 1.6, 0.2),
    )

    for side in (-1, 1):
        vent = cv.ellipsoid(
            center + ext * [side * jitter(rng, 0.06, 0.2), rng.uniform(-0.03, 0.03), 0.02],
            ext * [jitter(rng, 0.045, 0.25), jitter(rng, 0.17, 0.15), jitter(rng, 0.09, 0.2)],
        )
        cv.paint(vent + cv.smooth_field(0.8), csf, label=LABELS["ventricles"])
        bg = cv.ellipsoid(
            center + ext * [side * jitter(rng, 0.15, 0.1), rng.uniform(-0.03, 0.03), -0.03],
            ext * [jitter(rng, 0.06, 0.2), jitter(rng, 0.09, 0.2), jitter(rng, 0.08, 0.2)],
        )
        cv.paint(
            bg + cv.smooth_field(1.0),
            jitter(rng, 0.7, 0.05),
            label=LABELS["basal_ganglia"],
            blur=2.0,
        )

    cereb_c = center + ext * [
        rng.uniform(-0.02, 0.02),
        jitter(rng, 0.2, 0.15),
        -jitter(rng, 0.3, 0.1),
    ]
    cereb = cv.ellipsoid(
        cereb_c, ext * [jitter(rng, 0.25, 0.1), jitter(rng, 0.15, 0.1), jitter(rng, 0.12, 0.15)]
    )
    cereb = np.maximum(cereb, brain)  # stays inside the skull
    occ = cv.paint(cereb, jitter(rng, 0.62, 0.05), label=LABELS["cerebellum"], blur=1.5)
    folia = 0.06 * np.sin(cv.z * 2.2 + cv.y * 0.4)  # striped texture inside the cerebellum
    cv.image = cv.image + occ * folia

    image, label = cv.finish()
    grid = [(c - e / 2) / e for c, e in zip((cv.x, cv.y, cv.z), ext, strict=True)]
    coeffs = rng.uniform(-0.25, 0.25, 6)
    bias = np.exp(
        coeffs[0] * grid[0]
        + coeffs[1] * grid[1]
        + coeffs[2] * grid[2]
        + coeffs[3] * grid[0] ** 2
        + coeffs[4] * grid[1] ** 2
        + coeffs[5] * grid[2] ** 2
    )
    image = image * bias * jitter(rng, 800.0, 0.3)
    image = rician_noise(rng, image, jitter(rng, 18.0, 0.3) * noise)
    return [image], label
