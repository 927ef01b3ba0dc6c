"""Evaluate a model's predictions against the reference labels on the original geometry.

One row per (test case, structure): Dice, IoU, HD95, ASSD (mm, from the reference's voxel
spacing), voxel counts, the empty-mask rule applied (see :mod:`kdseg.evaluation.metrics`), and the
case's multi-class accuracy and Cohen's kappa.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from kdseg.data.nifti import read_volume
from kdseg.data.raw_dataset import discover_cases, read_dataset_json
from kdseg.errors import KdsegError
from kdseg.evaluation.metrics import overall_metrics, segmentation_metrics
from kdseg.runtime.atomic import atomic_path

log = logging.getLogger("kdseg")


def write_rows(rows: list[dict[str, Any]], out_csv: str | Path) -> None:
    """The rows as CSV (atomically), as ``pandas.DataFrame(rows).to_csv(index=False)`` writes
    them when every column holds one type and no missing value: the csv module, so that an
    evaluate job need not import pandas (~0.25 s of its start-up)."""
    columns = list(rows[0])
    if any(list(row) != columns for row in rows):
        raise KdsegError(f"{out_csv}: metric rows with different columns")
    with atomic_path(out_csv) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([str(v) for v in row.values()] for row in rows)


def evaluate_predictions(
    predictions: str | Path, raw_root: str | Path, out_csv: str | Path, model: str
) -> list[dict[str, Any]]:
    """Metrics of every ``<case>.nii.gz`` in ``predictions`` against the raw labels (the
    rows written to ``out_csv``)."""
    predictions = Path(predictions)
    info = read_dataset_json(raw_root)
    references = {c.case: c.label for c in discover_cases(raw_root, info)}
    files = sorted(predictions.glob("*.nii.gz"))
    if not files:
        raise KdsegError(f"{predictions}: no predictions (*.nii.gz) to evaluate")
    log.info("evaluating %d predictions of %s", len(files), model)
    rows = []
    for i, path in enumerate(files, 1):
        case = path.name[: -len(".nii.gz")]
        if references.get(case) is None:
            raise KdsegError(f"{path}: no reference label for case {case!r} in {raw_root}")
        ref = read_volume(references[case], dtype=np.int16)
        pred = read_volume(path, dtype=np.int16)
        if pred.array.shape != ref.array.shape:
            raise KdsegError(
                f"{path}: shape {pred.array.shape} differs from the reference "
                f"{ref.array.shape} ({references[case]})"
            )
        if not np.allclose(pred.affine, ref.affine, atol=1e-4):
            raise KdsegError(f"{path}: affine differs from the reference {references[case]}")
        overall = overall_metrics(pred.array, ref.array, len(info.labels))
        for row in segmentation_metrics(pred.array, ref.array, ref.spacing, info.foreground_labels):
            rows.append({"model": model, "case": case, **row, **overall})
        log.info("evaluated %d/%d: %s", i, len(files), case)
    write_rows(rows, out_csv)
    return rows


def model_summary(metrics_csv: str | Path, inference_json: str | Path) -> dict:
    """One model's means over test cases (per structure and overall) plus its footprint."""
    import pandas as pd  # here: an evaluate job never needs it

    table = pd.read_csv(metrics_csv)
    timing = json.loads(Path(inference_json).read_text())
    summary = {"model": str(table["model"].iloc[0]), "cases": int(table["case"].nunique())}
    for structure, part in table.groupby("structure", sort=False):
        summary[f"dice_{structure}"] = float(part["dice"].mean())
    per_case = table.groupby("case")[["dice", "hd95", "assd"]].mean()
    for metric in ("dice", "hd95", "assd"):
        summary[f"mean_{metric}"] = float(per_case[metric].mean())
        summary[f"sd_{metric}"] = float(per_case[metric].std(ddof=1)) if len(per_case) > 1 else 0.0
    summary["missed"] = int((table["empty_rule"] == "missed").sum())
    summary["parameters"] = timing.get("parameters")
    summary["seconds_per_case"] = timing.get("mean_seconds_per_case")
    summary["peak_memory_mb"] = timing.get("peak_memory_mb")
    summary["device"] = timing.get("device")
    return summary
