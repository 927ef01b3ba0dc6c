"""Validation of a raw dataset before anything is derived from it.

Checks every case for: missing image or label file, wrong number of channels, unreadable or
truncated file, image/label shape or affine mismatch, label values not in ``dataset.json``,
NaN or inf intensities, and a case with no foreground at all. All problems are collected and
reported together, one line each: ``case <id>: <file>: <problem>``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kdseg.data.nifti import Volume, read_volume
from kdseg.data.raw_dataset import (
    CaseFiles,
    DatasetInfo,
    discover_cases,
    expected_case_files,
    read_dataset_json,
)
from kdseg.errors import KdsegError, RawDataError
from kdseg.runtime.atomic import write_json
from kdseg.runtime.locks import reads

log = logging.getLogger("kdseg")

AFFINE_TOLERANCE = 1e-3  # mm, on every affine entry (NIfTI stores float32)


def _read(case: str, path: Path, problems: list[str], dtype: type) -> Volume | None:
    try:
        return read_volume(path, dtype=dtype)
    except KdsegError as err:
        problems.append(f"case {case}: {err}")
        return None


def check_case(files: CaseFiles, info: DatasetInfo) -> tuple[list[str], dict[str, Any]]:
    """Problems found in one case (empty when fine) and a summary of it."""
    problems: list[str] = []
    case = files.case
    root = _root_of(files)
    should = expected_case_files(root, info, case)
    if files.label is None:
        problems.append(f"case {case}: {should.label}: label file missing")
    expected = set(range(info.num_channels))
    for ch in sorted(expected - set(files.images)):
        problems.append(f"case {case}: {should.images[ch]}: image file missing")
    for ch in sorted(set(files.images) - expected):
        problems.append(
            f"case {case}: {files.images[ch]}: channel {ch} not in dataset.json "
            f"(which declares {info.num_channels} channel(s))"
        )
    label = _read(case, files.label, problems, np.float32) if files.label else None
    images = {
        ch: _read(case, p, problems, np.float32)
        for ch, p in sorted(files.images.items())
        if ch in expected
    }
    summary: dict[str, Any] = {"case": case}

    allowed = set(info.labels.values())
    if label is not None:
        lab = label.array
        if lab.ndim != 3:
            problems.append(f"case {case}: {files.label}: label must be 3D, has shape {lab.shape}")
        elif not np.isfinite(lab).all() or not np.array_equal(lab, np.round(lab)):
            problems.append(f"case {case}: {files.label}: label values must be integers")
        else:
            values = set(np.unique(lab).astype(int).tolist())
            unknown = sorted(values - allowed)
            if unknown:
                problems.append(
                    f"case {case}: {files.label}: label value(s) {unknown} "
                    f"not in dataset.json labels {sorted(allowed)}"
                )
            if values <= {0}:
                problems.append(
                    f"case {case}: {files.label}: no foreground (every voxel is background)"
                )
            summary.update(
                shape=list(lab.shape),
                spacing=list(label.spacing),
                affine=label.affine.tolist(),
                voxels_per_label={int(v): int((lab == v).sum()) for v in sorted(values)},
            )
    for ch, image in images.items():
        if image is None:
            continue
        path = files.images[ch]
        arr = image.array
        if arr.ndim != 3:
            problems.append(
                f"case {case}: {path}: image must be 3D with one file per channel, "
                f"has shape {arr.shape}"
            )
            continue
        if not np.isfinite(arr).all():
            problems.append(f"case {case}: {path}: {_non_finite(arr)} intensities")
        if label is not None and label.array.ndim == 3:
            if arr.shape != label.array.shape:
                problems.append(
                    f"case {case}: image {path} has shape {arr.shape}, label {files.label} "
                    f"has shape {label.array.shape}: they must match"
                )
            elif not np.allclose(image.affine, label.affine, atol=AFFINE_TOLERANCE, rtol=0):
                diff = float(np.abs(image.affine - label.affine).max())
                problems.append(
                    f"case {case}: the affines of image {path} and label {files.label} differ "
                    f"by up to {diff:.4g} mm"
                )
    return problems, summary


@reads("root")
def validate_raw_dataset(
    root: str | Path,
    report: str | Path | None = None,
    name: str = "",
    allow_absent_labels: Sequence[str] = (),
) -> dict[str, Any]:
    """Validate every case of the raw dataset at ``root`` (under its shared read lock: it may
    live in a ``data_dir`` shared with other studies); raise RawDataError listing all problems.

    A label of ``dataset.json`` that no case contains is a problem (under the both-empty rule
    it would score Dice 1 in every case) unless it is named in ``allow_absent_labels``. On
    success writes (when ``report`` is given) a JSON summary: dataset info and per-case
    shape, spacing, affine and label voxel counts.
    """
    root = Path(root)
    info = read_dataset_json(root)
    cases = discover_cases(root, info)
    if not cases:
        raise RawDataError([_no_cases(root, info.file_ending)], name)
    problems: list[str] = []
    summaries = []
    for i, files in enumerate(cases, 1):
        found, summary = check_case(files, info)
        problems += found
        summaries.append(summary)
        if i % 10 == 0 or i == len(cases):
            log.info("validated %d/%d cases of %s", i, len(cases), name or root)
    if not problems:
        problems += absent_labels(info, summaries, allow_absent_labels, root / "dataset.json")
    if problems:
        raise RawDataError(problems, name or str(root))
    result = {"dataset": info.to_json(), "root": str(root), "cases": summaries}
    if report is not None:
        write_json(report, result)
    log.info("%s: %d cases valid", name or root, len(cases))
    return result


def _root_of(files: CaseFiles) -> Path:
    """The dataset folder of a case (its files are in ``imagesTr/`` and ``labelsTr/``)."""
    any_file = files.label or next(iter(files.images.values()))
    return any_file.parent.parent


def _non_finite(arr: np.ndarray) -> str:
    """'3 NaN', '2 infinite' or both, for an array that is not all finite."""
    nan, inf = int(np.isnan(arr).sum()), int(np.isinf(arr).sum())
    return " and ".join(f"{n} {what}" for n, what in ((nan, "NaN"), (inf, "infinite")) if n)


def _no_cases(root: Path, ending: str) -> str:
    """Why no case was found: the folder, or the file ending that matches nothing."""
    found = sorted(
        {"".join(p.suffixes) or p.name for sub in ("imagesTr", "labelsTr")
         for p in (root / sub).glob("*") if p.is_file() and not p.name.startswith(".")}
    )  # fmt: skip
    if not found:
        return f"{root}: no cases found in imagesTr/ or labelsTr/"
    return (
        f"{root}: no file in imagesTr/ or labelsTr/ ends in {ending!r} (dataset.json "
        f"'file_ending'); endings found: {', '.join(found)}"
    )


def absent_labels(
    info: DatasetInfo,
    summaries: Sequence[dict[str, Any]],
    allowed: Sequence[str],
    where: Path,
) -> list[str]:
    """Labels of dataset.json (background aside) that no case contains and that the study does
    not allow to be absent."""
    present = {int(v) for s in summaries for v in s.get("voxels_per_label", {})}
    return [
        f"{where}: label {name!r} (value {value}) occurs in no case; it would score Dice 1 in "
        "every case (both empty). Remove it, or list it in the dataset's allow_absent_labels"
        for name, value in info.labels.items()
        if value != 0 and value not in present and name not in allowed
    ]
