"""Multi-site prostate MRI (Liu et al., MS-Net 2020 / SAML 2020): 116 T2 scans from 6 sites.

Source layout (``Processed_data_nii.zip`` from the SAML project page, a Google Drive link):
``Processed_data_nii/<site>/CaseNN.nii.gz`` with ``CaseNN_segmentation.nii.gz`` (some sites
spell it ``_Segmentation``), sites BIDMC, BMC, HK, I2CVB, RUNMC, UCL. Some sites label zones
(value 2); the default ``label_map`` (source value -> value) merges them into prostate (1).
Cases are named ``<site>_CaseNN`` with case metadata ``site`` (splits can stratify by it or hold
sites out) and ``patient``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kdseg.data.sources.base import Source
from kdseg.data.sources.raw_writer import RawDatasetWriter, remap_label

LABELS = {"background": 0, "prostate": 1}
LABEL_MAP = {0: 0, 1: 1, 2: 1}
MASK_ENDING = "_segmentation.nii.gz"  # compared case-insensitively


def convert(
    root: Path, writer: RawDatasetWriter, options: Mapping[str, Any]
) -> tuple[list[str], dict[str, int]]:
    """Every ``CaseNN`` with a segmentation, site = its folder name."""
    mapping = {int(k): int(v) for k, v in options.get("label_map", LABEL_MAP).items()}
    sites = set(options.get("sites") or [])
    masks = [p for p in root.rglob("Case*") if p.name.lower().endswith(MASK_ENDING)]
    for mask in sorted(masks):
        site = mask.parent.name
        if sites and site not in sites:
            continue
        case = mask.name[: -len(MASK_ENDING)]
        writer.add_case(
            f"{site}_{case}",
            [mask.parent / f"{case}.nii.gz"],
            remap_label(mask, mapping, set()),
            {"site": site, "patient": f"{site}_{case}"},
        )
    return ["T2"], LABELS


SOURCE = Source(
    name="multisite_prostate",
    title="Multi-site prostate MRI (SAML)",
    website="https://liuquande.github.io/SAML/",
    raw_name="Dataset104_ProstateMultiSite",
    convert=convert,
    layout="Processed_data_nii/<site>/CaseNN.nii.gz + CaseNN_segmentation.nii.gz",
    manual="'Processed_data_nii.zip' (the project page's 'processed data' link)",
    why_manual="it is shared through a Google Drive page, not a direct link",
    options={"label_map": LABEL_MAP, "sites": []},
)
