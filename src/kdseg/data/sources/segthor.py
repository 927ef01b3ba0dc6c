"""SegTHOR (Lambert et al. 2020): 40 labelled thoracic CT scans, 4 organs at risk.

Downloaded from its CC-BY 4.0 copy on Zenodo (record 16663661, ``SegTHOR.zip``, pinned by the
SHA-256 torch-em's loader publishes): ``SegTHOR/Patient_NN/Patient_NN.nii.gz`` (CT) and
``GT.nii.gz`` (0 background, 1 esophagus, 2 heart, 3 trachea, 4 aorta). The challenge's own
``train.zip`` (CodaLab, registration) holds ``train/Patient_NN/...`` and works as the user's
copy (``sources.segthor.path``). Cases are named ``Patient_NN``; files are copied unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kdseg.data.sources.base import Download, Source
from kdseg.data.sources.raw_writer import RawDatasetWriter, remap_label

# torch-em, torch_em/data/datasets/medical/segthor.py (URL, CHECKSUM)
URL = "https://zenodo.org/records/16663661/files/SegTHOR.zip"
SHA256 = "5dba9bcc681c895b7d7b59cf5a26cae570bc8bba02c74f9cb128f3292410fb15"
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
    website="https://doi.org/10.5281/zenodo.16663661 (the challenge: "
    "https://competitions.codalab.org/competitions/21145)",
    raw_name="Dataset101_SegTHOR",
    convert=convert,
    layout="SegTHOR/Patient_NN/Patient_NN.nii.gz + GT.nii.gz (the challenge's: train/...)",
    downloads=(Download(URL, "SegTHOR.zip", sha256=SHA256),),
    manual="your own copy, e.g. the challenge's 'train.zip'",
)
