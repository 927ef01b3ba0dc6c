"""KiTS19 (Heller et al. 2021): 210 labelled kidney CT scans.

Sources: the segmentations are in the challenge's git repository (downloaded as its GitHub
archive, ``kits19-master/data/case_NNNNN/segmentation.nii.gz``); the scans are downloaded one by
one from the URL of the repository's ``starter_code/get_imaging.py``
(``master_NNNNN.nii.gz``) and placed at ``case_NNNNN/imaging.nii.gz``. No checksums are
published. Labels: 0 background, 1 kidney, 2 tumour. Cases are named ``case_NNNNN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kdseg.data.sources.base import Download, Source
from kdseg.data.sources.raw_writer import RawDatasetWriter, remap_label
from kdseg.errors import KdsegError

LABELS = {"background": 0, "kidney": 1, "tumor": 2}
CASES = 210
IMAGING_URL = "https://kits19.sfo2.digitaloceanspaces.com"
REPOSITORY_ZIP = "https://github.com/neheller/kits19/archive/refs/heads/master.zip"


def convert(
    root: Path, writer: RawDatasetWriter, options: Mapping[str, Any]
) -> tuple[list[str], dict[str, int]]:
    """Every case with a segmentation; its scan is ``case_NNNNN/imaging.nii.gz``."""
    scans = {p.parent.name: p for p in root.rglob("case_*/imaging.nii.gz")}
    for seg in sorted(root.rglob("case_*/segmentation.nii.gz"), key=lambda p: p.parent.name):
        case = seg.parent.name
        if case not in scans:
            raise KdsegError(f"{seg}: no imaging.nii.gz for {case} in {root}")
        writer.add_case(case, [scans[case]], remap_label(seg, None, set(LABELS.values())))
    return ["CT"], LABELS


SOURCE = Source(
    name="kits19",
    title="KiTS19",
    website="https://github.com/neheller/kits19",
    raw_name="Dataset107_KiTS19",
    convert=convert,
    layout="case_NNNNN/imaging.nii.gz + case_NNNNN/segmentation.nii.gz",
    downloads=(
        Download(REPOSITORY_ZIP, "kits19-master.zip"),
        *(
            Download(
                f"{IMAGING_URL}/master_{i:05d}.nii.gz",
                f"master_{i:05d}.nii.gz",
                place=f"case_{i:05d}/imaging.nii.gz",
            )
            for i in range(CASES)
        ),
    ),
)
