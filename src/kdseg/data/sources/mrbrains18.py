"""MRBrainS18 (Kuijf et al.): brain MRI of 7 training subjects, T1, T1-IR and FLAIR, 10 labels.

Source layout (training data from mrbrains18.isi.uu.nl or its DataverseNL re-release):
``training/<id>/pre/reg_T1.nii.gz``, ``pre/reg_IR.nii.gz``, ``pre/FLAIR.nii.gz`` (registered to
the FLAIR, bias-corrected) and ``training/<id>/segm.nii.gz``. Source labels: 0 background,
1 cortical gray matter, 2 basal ganglia, 3 white matter, 4 white matter lesions, 5 extracerebral
CSF, 6 ventricles, 7 cerebellum, 8 brain stem, 9 infarction, 10 other.

The paper's brain set has 6 structures; which ones is not in the text we have. The default map
(ours, configurable as ``label_map``: source value -> structure name, or ``background``) keeps 6:
cortical gray matter, basal ganglia, white matter (with its lesions), extracerebral CSF,
ventricles, and cerebellum with brain stem; infarction and "other" become background.
Cases are named ``subject<id>``; channels 0 T1, 1 T1-IR, 2 FLAIR.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kdseg.data.sources.base import Source
from kdseg.data.sources.raw_writer import RawDatasetWriter, remap_label
from kdseg.errors import KdsegError

CHANNELS = {"T1": "pre/reg_T1.nii.gz", "T1-IR": "pre/reg_IR.nii.gz", "FLAIR": "pre/FLAIR.nii.gz"}
LABEL_MAP = {
    0: "background",
    1: "cortical_gray_matter",
    2: "basal_ganglia",
    3: "white_matter",
    4: "white_matter",
    5: "csf",
    6: "ventricles",
    7: "cerebellum_brainstem",
    8: "cerebellum_brainstem",
    9: "background",
    10: "background",
}


def structures(label_map: Mapping[Any, str]) -> tuple[dict[int, int], dict[str, int]]:
    """Source value -> dataset value, and the dataset's labels (numbered in order of first
    appearance in the map, background 0)."""
    labels = {"background": 0}
    mapping = {}
    for value, name in sorted(((int(k), str(v)) for k, v in label_map.items())):
        labels.setdefault(name, len(labels))
        mapping[value] = labels[name]
    if 0 not in mapping:
        raise KdsegError("label_map: source value 0 (background) must be mapped")
    return mapping, labels


def convert(
    root: Path, writer: RawDatasetWriter, options: Mapping[str, Any]
) -> tuple[list[str], dict[str, int]]:
    """Every subject folder with ``segm.nii.gz``."""
    mapping, labels = structures(options.get("label_map", LABEL_MAP))
    for segm in sorted(root.rglob("segm.nii.gz")):
        subject = segm.parent
        writer.add_case(
            f"subject{subject.name}",
            [subject / rel for rel in CHANNELS.values()],
            remap_label(segm, mapping, set()),
            {"patient": subject.name},
        )
    return list(CHANNELS), labels


SOURCE = Source(
    name="mrbrains18",
    title="MRBrainS18",
    website="https://mrbrains18.isi.uu.nl (or DataverseNL doi:10.34894/E0U32Q)",
    raw_name="Dataset102_MRBrainS18",
    convert=convert,
    layout="training/<id>/pre/{reg_T1,reg_IR,FLAIR}.nii.gz + training/<id>/segm.nii.gz",
    manual="the training data (e.g. 'training.zip')",
    options={"label_map": LABEL_MAP},
)
