"""Reading and writing NIfTI through nibabel, with clear errors and atomic writes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from kdseg.errors import KdsegError
from kdseg.runtime.atomic import atomic_path


@dataclass(frozen=True)
class Volume:
    """A voxel array with its affine (voxel -> world, mm)."""

    array: np.ndarray
    affine: np.ndarray

    @property
    def spacing(self) -> tuple[float, ...]:
        """Voxel size in mm along each array axis."""
        return tuple(float(s) for s in np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0)))


def read_volume(path: str | os.PathLike, dtype: type = np.float32) -> Volume:
    """Load a NIfTI file fully; any failure becomes a one-line KdsegError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise KdsegError(f"{path}: file not found")
    try:
        img = nib.load(str(path))
        array = np.asarray(img.dataobj, dtype=dtype)
        affine = np.asarray(img.affine, dtype=np.float64)
    except Exception as err:  # nibabel raises many types for corrupt/truncated files
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise KdsegError(f"{path}: unreadable NIfTI ({type(err).__name__}: {msg})") from err
    return Volume(array=array, affine=affine)


def write_volume(path: str | os.PathLike, array: np.ndarray, affine: np.ndarray) -> None:
    """Write a NIfTI file atomically; integer arrays keep an integer on-disk type."""
    img = nib.Nifti1Image(np.asarray(array), np.asarray(affine, dtype=np.float64))
    img.header.set_xyzt_units("mm", "sec")
    if np.issubdtype(np.asarray(array).dtype, np.integer):
        img.header.set_slope_inter(1, 0)
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))


def affine_from_spacing(
    spacing: tuple[float, ...], origin: tuple[float, ...] = (0, 0, 0)
) -> np.ndarray:
    """A diagonal affine with the given voxel size and origin."""
    affine = np.eye(4)
    affine[0, 0], affine[1, 1], affine[2, 2] = spacing
    affine[:3, 3] = origin
    return affine
