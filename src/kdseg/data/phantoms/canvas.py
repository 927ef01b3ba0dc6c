"""Drawing primitives for phantoms: signed distances in mm, partial-volume painting, noise."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree


@dataclass
class Canvas:
    """A volume being painted, in world millimetres, with optional supersampling along z.

    Supersampling along the slice axis models the partial-volume effect of thick slices:
    the final voxel is the mean of its sub-slices and its label the majority of theirs.
    """

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    rng: np.random.Generator
    background: float = 0.0
    z_supersample: int = 1
    image: np.ndarray = field(init=False)
    label: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        nx, ny, nz = self.shape
        sx, sy, sz = self.spacing
        ss = self.z_supersample
        self.x = ((np.arange(nx) + 0.5) * sx).reshape(-1, 1, 1).astype(np.float32)
        self.y = ((np.arange(ny) + 0.5) * sy).reshape(1, -1, 1).astype(np.float32)
        self.z = ((np.arange(nz * ss) + 0.5) * sz / ss).reshape(1, 1, -1).astype(np.float32)
        self.fine_shape = (nx, ny, nz * ss)
        self.image = np.full(self.fine_shape, self.background, dtype=np.float32)
        self.label = np.zeros(self.fine_shape, dtype=np.uint8)
        self.extent = np.array([nx * sx, ny * sy, nz * sz], dtype=np.float32)
        # partial-volume ramp width: the in-plane voxel size
        self.pv_width = float(min(sx, sy))

    # -- geometry ---------------------------------------------------------------------------
    def at(self, fx: float, fy: float, fz: float) -> np.ndarray:
        """A point given as fractions of the field of view, in mm."""
        return np.array([fx, fy, fz], dtype=np.float32) * self.extent

    def ellipsoid(self, center: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """Approximate signed distance (mm, negative inside) to an axis-aligned ellipsoid."""
        k = np.sqrt(
            ((self.x - center[0]) / radii[0]) ** 2
            + ((self.y - center[1]) / radii[1]) ** 2
            + ((self.z - center[2]) / radii[2]) ** 2
        )
        return (k - 1.0) * float(np.mean(radii))

    def elliptic_cylinder(self, center: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """Signed distance (mm) to an elliptic cylinder along z; broadcasts over z."""
        k = np.sqrt(((self.x - center[0]) / radii[0]) ** 2 + ((self.y - center[1]) / radii[1]) ** 2)
        sd = (k - 1.0) * float(np.mean(radii[:2]))
        return np.broadcast_to(sd, self.fine_shape)

    def tube(self, centerline: np.ndarray, radius: float | np.ndarray) -> np.ndarray:
        """Signed distance (mm) to a tube around a polyline (N x 3 points, mm)."""
        pts = _densify(centerline, step=0.5 * self.pv_width)
        radii = np.broadcast_to(np.asarray(radius, dtype=np.float32), (len(centerline),))
        radii = np.interp(np.linspace(0, 1, len(pts)), np.linspace(0, 1, len(radii)), radii)
        grid = np.stack(np.broadcast_arrays(self.x, self.y, self.z), axis=-1).reshape(-1, 3)
        dist, idx = cKDTree(pts).query(grid, workers=1)
        return (dist - radii[idx]).reshape(self.fine_shape).astype(np.float32)

    def smooth_field(self, amplitude_mm: float, grid: int = 6) -> np.ndarray:
        """A smooth random field (mm) used to deform shapes; unit std times ``amplitude_mm``."""
        coarse = self.rng.standard_normal((grid, grid, grid)).astype(np.float32)
        factors = [n / grid for n in self.fine_shape]
        fine = ndimage.zoom(coarse, factors, order=3, mode="reflect", grid_mode=True)
        fine = fine[: self.fine_shape[0], : self.fine_shape[1], : self.fine_shape[2]]
        return (fine / (fine.std() + 1e-6) * amplitude_mm).astype(np.float32)

    # -- painting ---------------------------------------------------------------------------
    def occupancy(self, signed_distance: np.ndarray, blur: float = 1.0) -> np.ndarray:
        """Fraction of each voxel inside the shape: a linear ramp over the voxel size."""
        return np.clip(0.5 - signed_distance / (self.pv_width * blur), 0.0, 1.0)

    def paint(
        self,
        signed_distance: np.ndarray,
        intensity: float,
        label: int | None = None,
        blur: float = 1.0,
        within: np.ndarray | None = None,
    ) -> np.ndarray:
        """Paint a shape over what is there; ``label`` (if given) where it covers half a voxel."""
        occ = self.occupancy(signed_distance, blur)
        if within is not None:
            occ = occ * within
        self.image = self.image * (1.0 - occ) + intensity * occ
        if label is not None:
            self.label[occ >= 0.5] = label
        return occ

    # -- finishing --------------------------------------------------------------------------
    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Average sub-slices (image) and take their majority label; returns (image, label)."""
        ss = self.z_supersample
        if ss == 1:
            return self.image, self.label
        nx, ny, nzf = self.fine_shape
        image = self.image.reshape(nx, ny, nzf // ss, ss).mean(axis=-1)
        sub = self.label.reshape(nx, ny, nzf // ss, ss)
        n_labels = int(self.label.max()) + 1
        counts = np.stack([(sub == v).sum(axis=-1) for v in range(n_labels)], axis=0)
        return image.astype(np.float32), counts.argmax(axis=0).astype(np.uint8)


def _densify(points: np.ndarray, step: float) -> np.ndarray:
    """Resample a polyline so that consecutive points are at most ``step`` mm apart."""
    points = np.asarray(points, dtype=np.float32)
    out = [points[:1]]
    for a, b in itertools.pairwise(points):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        t = np.linspace(0, 1, n + 1)[1:, None]
        out.append(a + t * (b - a))
    return np.concatenate(out, axis=0)


def jitter(rng: np.random.Generator, value: float, rel: float) -> float:
    """``value`` times a random factor in [1 - rel, 1 + rel]."""
    return float(value * (1.0 + rng.uniform(-rel, rel)))


def gaussian_noise(rng: np.random.Generator, image: np.ndarray, sd: float) -> np.ndarray:
    """Add white Gaussian noise."""
    return (image + rng.normal(0.0, sd, image.shape)).astype(np.float32)


def rician_noise(rng: np.random.Generator, image: np.ndarray, sd: float) -> np.ndarray:
    """Magnitude-MR noise: |image + n1 + i n2| with Gaussian n1, n2."""
    real = image + rng.normal(0.0, sd, image.shape)
    imag = rng.normal(0.0, sd, image.shape)
    return np.sqrt(real**2 + imag**2).astype(np.float32)
