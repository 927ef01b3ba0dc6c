"""ACDC (Bernard et al. 2018): cine-MRI of 150 patients; end-diastole and end-systole labelled.

Source layout (from the Creatis human-heart database; older copies lack ``database/``):
``database/{training,testing}/patientNNN/patientNNN_frameFF.nii.gz``, ``..._frameFF_gt.nii.gz``
and ``Info.cfg`` (``ED: 1``, ``ES: 12``, ``Group: DCM``, ...). Labels: 0 background, 1 right
ventricle cavity, 2 myocardium, 3 left ventricle cavity. Each labelled patient gives two cases,
``patientNNN_ED`` and ``patientNNN_ES``, with case metadata ``patient`` (splits keep a patient's
frames together), ``phase``, ``group`` (pathology) and ``subset`` (training/testing).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kdseg.data.sources.base import Source
from kdseg.data.sources.raw_writer import RawDatasetWriter, remap_label
from kdseg.errors import KdsegError

LABELS = {"background": 0, "right_ventricle": 1, "myocardium": 2, "left_ventricle": 3}


def read_info(path: Path) -> dict[str, str]:
    """``Info.cfg`` as a dict (``key: value`` lines)."""
    info = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            info[key.strip()] = value.strip()
    for key in ("ED", "ES"):
        if not info.get(key, "").isdigit():
            raise KdsegError(f"{path}: '{key}: <frame number>' is missing")
    return info


def convert(
    root: Path, writer: RawDatasetWriter, options: Mapping[str, Any]
) -> tuple[list[str], dict[str, int]]:
    """ED and ES of every patient folder with ``Info.cfg`` (``options.subsets``: which of
    training/testing to take)."""
    subsets = set(options.get("subsets", ["training", "testing"]))
    for cfg in sorted(root.rglob("patient*/Info.cfg"), key=lambda p: p.parent.name):
        folder, patient = cfg.parent, cfg.parent.name
        subset = folder.parent.name
        if subset in {"training", "testing"} and subset not in subsets:
            continue
        info = read_info(cfg)
        for phase in ("ED", "ES"):
            frame = f"{patient}_frame{int(info[phase]):02d}"
            label = folder / f"{frame}_gt.nii.gz"
            if not label.is_file():
                raise KdsegError(f"{label}: missing ({phase} frame {info[phase]} of {cfg})")
            writer.add_case(
                f"{patient}_{phase}",
                [folder / f"{frame}.nii.gz"],
                remap_label(label, None, set(LABELS.values())),
                {
                    "patient": patient,
                    "phase": phase,
                    "group": info.get("Group", ""),
                    "subset": subset,
                },
            )
    return ["cineMRI"], LABELS


SOURCE = Source(
    name="acdc",
    title="ACDC",
    website="https://humanheart-project.creatis.insa-lyon.fr/database/#collection/637218c173e9f0047faa00fb",
    raw_name="Dataset103_ACDC",
    convert=convert,
    layout="database/training/patientNNN/patientNNN_frameFF[_gt].nii.gz + Info.cfg",
    manual="the ACDC dataset archive (e.g. 'ACDC.zip'; a free account is needed)",
    options={"subsets": ["training", "testing"]},
)
