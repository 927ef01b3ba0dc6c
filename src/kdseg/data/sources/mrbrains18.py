"""MRBrainS18 (Kuijf et al. 2019): brain MRI of 30 subjects (7 training, 23 test; both with
reference labels), T1, T1-IR and FLAIR, 10 labels.

Downloaded from DataverseNL (doi:10.34894/E0U32Q; ``training.zip`` and ``test.zip``, pinned by
the SHA-256 sums torch-em's loader publishes). Layout: ``<subset>/<id>/pre/reg_T1.nii.gz``,
``pre/reg_IR.nii.gz``, ``pre/FLAIR.nii.gz`` (registered to the FLAIR, bias-corrected) and
``<subset>/<id>/segm.nii.gz``, subset ``training`` or ``test``. Source labels: 0 background,
1 cortical gray matter, 2 basal ganglia, 3 white matter, 4 white matter lesions, 5 extracerebral
CSF, 6 ventricles, 7 cerebellum, 8 brain stem, 9 infarction, 10 other.

Options: ``subsets`` (default ``[training]``; ``test.zip`` is downloaded only for a study that
converts ``test``, and a subject of a subset not asked for is skipped, never merged);
``channels`` (default all three; ``[T1]`` as the authors' one input image); ``label_map``.
The paper's brain set has 6 structures; which ones is not in the text we have. The default map
(ours, configurable as ``label_map``: source value -> structure name, or ``background``) keeps 6:
cortical gray matter, basal ganglia, white matter (with its lesions), extracerebral CSF,
ventricles, and cerebellum with brain stem; infarction and "other" become background.
Cases are named ``subject<id>``, with case metadata ``patient`` and ``subset``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kdseg.data.sources.base import Download, Source
from kdseg.data.sources.raw_writer import RawDatasetWriter, remap_label
from kdseg.errors import KdsegError

log = logging.getLogger("kdseg")

CHANNELS = {"T1": "pre/reg_T1.nii.gz", "T1-IR": "pre/reg_IR.nii.gz", "FLAIR": "pre/FLAIR.nii.gz"}
SUBSETS = ("training", "test")
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
# torch-em, torch_em/data/datasets/medical/mrbrains18.py (URLS, CHECKSUMS)
DATAVERSE = "https://dataverse.nl/api/access/datafile"
SHA256 = {
    "training": "c29b133c0d0e7486563d3a92f09e3ae67986880130bb8a91096fc1fdf0c93e95",
    "test": "1576500224bd98ef66fa0277af13bd304ed491974a0de96006f6779e5363d3dd",
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


def _chosen(options: Mapping[str, Any], key: str, known: Any) -> list[str]:
    """The values of a list option, each one of ``known`` (one line naming the option)."""
    values = [str(v) for v in options.get(key, known)]
    unknown = [v for v in values if v not in known]
    if unknown or not values:
        raise KdsegError(
            f"convert.{key}: {unknown or values} is not a non-empty list of {', '.join(known)}"
        )
    return values


def convert(
    root: Path, writer: RawDatasetWriter, options: Mapping[str, Any]
) -> tuple[list[str], dict[str, int]]:
    """Every subject folder with ``segm.nii.gz`` in one of ``options.subsets``."""
    mapping, labels = structures(options.get("label_map", LABEL_MAP))
    channels = _chosen(options, "channels", list(CHANNELS))
    subsets = _chosen(options, "subsets", list(SUBSETS))
    skipped: dict[str, int] = {}
    for segm in sorted(root.rglob("segm.nii.gz")):
        subject = segm.parent
        subset = subject.parent.name
        if subset not in SUBSETS:
            raise KdsegError(
                f"{segm}: subject folder '{subject.name}' is not in a 'training' or 'test' "
                "folder (MRBrainS18's releases), so its subset is unknown"
            )
        if subset not in subsets:
            skipped[subset] = skipped.get(subset, 0) + 1
            continue
        writer.add_case(
            f"subject{subject.name}",
            [subject / CHANNELS[name] for name in channels],
            remap_label(segm, mapping, set()),
            {"patient": subject.name, "subset": subset},
        )
    for subset, count in skipped.items():
        log.info(
            "MRBrainS18: %d subjects of subset '%s' not converted (convert.subsets)", count, subset
        )
    return channels, labels


SOURCE = Source(
    name="mrbrains18",
    title="MRBrainS18",
    website="https://doi.org/10.34894/E0U32Q (DataverseNL; the challenge: https://mrbrains18.isi.uu.nl)",
    raw_name="Dataset102_MRBrainS18",
    convert=convert,
    layout="{training,test}/<id>/pre/{reg_T1,reg_IR,FLAIR}.nii.gz + <id>/segm.nii.gz",
    downloads=tuple(
        Download(f"{DATAVERSE}/{number}", f"{subset}.zip", sha256=SHA256[subset], subset=subset)
        for subset, number in (("training", 402709), ("test", 402708))
    ),
    manual="your own copy (the folder or archives holding 'training/' and 'test/')",
    options={"label_map": LABEL_MAP, "subsets": ["training"], "channels": list(CHANNELS)},
    choices={"subsets": SUBSETS, "channels": tuple(CHANNELS)},
)
