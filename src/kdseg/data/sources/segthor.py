"""SegTHOR (Lambert et al. 2020): 40 labelled thoracic CT scans, 4 organs at risk.

Source layout (``train.zip`` from the CodaLab challenge): ``train/Patient_NN/Patient_NN.nii.gz``
(CT) and ``train/Patient_NN/GT.nii.gz`` (0 background, 1 esophagus, 2 heart, 3 trachea, 4 aorta).
Cases are named ``Patient_NN``; files are copied unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kdseg.data.sources.base import Source
from kdseg.data.sources.raw_writer import RawDatasetWriter, remap_label

LABELS = {"background": 0, "esophagus": 1, "heart": 2, "trachea": 3, "aorta": 4}


def convert(
    root: Path, writer: RawDatasetWriter, options: Mapping[str, Any]
) -> tuple[list[str], dict[str, int]]:
    """Every ``Patient_NN`` folder that has both the scan and ``GT.nii.gz``."""
    for label in sorted(root.rglob("Patient_*/GT.nii.gz")):
        case = label.parent.name
        image = label.parent / f"{case}.nii.gz"
        writer.add_case(case, [image], remap_label(label, None, set(LABELS.values())))
    return ["CT"], LABELS


SOURCE = Source(
    name="segthor",
    title="SegTHOR",
    website="https://competitions.codalab.org/competitions/21145",
    raw_name="Dataset101_SegTHOR",
    convert=convert,
    layout="train/Patient_NN/Patient_NN.nii.gz + GT.nii.gz",
    manual="the training data 'train.zip' (register for the challenge first)",
)
