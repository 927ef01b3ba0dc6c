"""Writing an nnU-Net v2 raw dataset: ``imagesTr/<case>_<ch>.nii.gz``, ``labelsTr``, and
``dataset.json`` (with kdseg's case metadata and conversion provenance as extra keys).

Geometry is preserved exactly: a ``.nii.gz`` source file is copied byte for byte; anything else
(a channel of a 4D image, a remapped label map) is written with the source's affine and header.
Every file read must lie inside the source folder (:func:`inside`): a path taken from a file of
an archive (a ``dataset.json`` entry) cannot make the converter copy another file of the machine.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from kdseg import __version__
from kdseg.errors import KdsegError

ENDING = ".nii.gz"
ImageSource = Path | nib.Nifti1Image


def inside(root: Path, path: Path, named_in: str = "") -> Path:
    """``path``, refused in one line unless it resolves (links followed) inside ``root``;
    ``named_in``: the file (and entry) that named it, for the message."""
    real, base = os.path.realpath(path), os.path.realpath(root)
    if real != base and not real.startswith(base + os.sep):
        origin = f"{named_in} names {path}, which" if named_in else f"{path}"
        raise KdsegError(f"{origin} resolves to {real}, outside the source folder {root}; refused")
    return path


def load_nifti(path: Path) -> nib.Nifti1Image:
    """nibabel image of ``path``; an unreadable file is a one-line error naming it."""
    try:
        return nib.load(path)
    except Exception as err:  # nibabel raises several types for a bad file
        raise KdsegError(f"{path}: not a readable NIfTI image ({err})") from err


def split_channels(path: Path) -> list[nib.Nifti1Image]:
    """The channels of a 3D (one channel) or 4D (channels last) image, each with its affine."""
    img = load_nifti(path)
    if img.ndim == 3:
        return [img]
    if img.ndim != 4:
        raise KdsegError(f"{path}: expected a 3D or 4D image, got {img.ndim}D")
    data = np.asanyarray(img.dataobj)
    header = img.header.copy()
    return [nib.Nifti1Image(data[..., c], img.affine, header) for c in range(data.shape[3])]


def remap_label(path: Path, mapping: Mapping[int, int] | None, allowed: set[int]) -> ImageSource:
    """The label map of ``path`` with values mapped through ``mapping`` (source value ->
    dataset value); without a mapping the values must be in ``allowed`` and the file is kept
    as it is. A value that is not an integer or not in the map is an error naming the file."""
    img = load_nifti(path)
    data = np.asanyarray(img.dataobj)
    values = np.unique(data)
    if not np.all(np.equal(np.mod(values, 1), 0)):
        raise KdsegError(f"{path}: label map has non-integer values {values[:5].tolist()}")
    values = {int(v) for v in values}
    known = set(mapping) if mapping is not None else allowed
    unknown = sorted(values - known)
    if unknown:
        what = "label map" if mapping is not None else "labels"
        raise KdsegError(f"{path}: label values {unknown} are not in the {what} {sorted(known)}")
    if mapping is None or all(mapping[v] == v for v in values):
        return path
    lut = np.zeros(max(known) + 1, dtype=np.uint8)
    for src, dst in mapping.items():
        lut[src] = dst
    header = img.header.copy()
    header.set_data_dtype(np.uint8)
    out = nib.Nifti1Image(lut[data.astype(np.int64)], img.affine, header)
    out.header.set_slope_inter(1, 0)
    return out


class RawDatasetWriter:
    """Collects cases into ``root`` (a fresh folder) and writes ``dataset.json`` at the end."""

    def __init__(self, root: Path, source: Path | None = None) -> None:
        self.root = Path(root)
        self.source = source  # every file copied must lie inside it (when given)
        (self.root / "imagesTr").mkdir(parents=True, exist_ok=True)
        (self.root / "labelsTr").mkdir(parents=True, exist_ok=True)
        self.cases: list[str] = []
        self.metadata: dict[str, dict[str, Any]] = {}

    def _write(self, source: ImageSource, dest: Path) -> None:
        if isinstance(source, Path) and self.source is not None:
            inside(self.source, source)
        if isinstance(source, Path) and not source.is_file():
            raise KdsegError(f"{source}: missing (expected by the source's layout)")
        if isinstance(source, Path) and source.name.endswith(ENDING):
            shutil.copyfile(source, dest)
        else:
            img = source if isinstance(source, nib.Nifti1Image) else load_nifti(source)
            nib.save(img, dest)

    def add_case(
        self,
        case: str,
        images: Sequence[ImageSource],
        label: ImageSource,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Write one case's channels and label map."""
        if case in self.metadata:
            raise KdsegError(f"case '{case}' occurs twice in the source")
        for channel, image in enumerate(images):
            self._write(image, self.root / "imagesTr" / f"{case}_{channel:04d}{ENDING}")
        self._write(label, self.root / "labelsTr" / f"{case}{ENDING}")
        self.cases.append(case)
        self.metadata[case] = dict(metadata or {})

    def finish(
        self,
        name: str,
        channel_names: Sequence[str],
        labels: Mapping[str, int],
        source: Mapping[str, Any],
    ) -> dict:
        """Write ``dataset.json``; ``source`` (name, website, options) is kept as provenance."""
        if not self.cases:
            raise KdsegError(f"{name}: no case found in the source (is it the right archive?)")
        data = {
            "name": name,
            "channel_names": {str(i): c for i, c in enumerate(channel_names)},
            "labels": dict(labels),
            "numTraining": len(self.cases),
            "file_ending": ENDING,
            "case_metadata": {c: self.metadata[c] for c in sorted(self.cases)},
            "kdseg_conversion": {**source, "kdseg_version": __version__},
        }
        (self.root / "dataset.json").write_text(json.dumps(data, indent=2) + "\n")
        return data
