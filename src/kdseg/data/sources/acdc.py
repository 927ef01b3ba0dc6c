"""ACDC (Bernard et al. 2018): cine-MRI of 150 patients; end-diastole and end-systole labelled.

Downloaded from the Creatis human-heart database's collection API (``ACDC.zip``, no account
needed, pinned by the SHA-256 torch-em's loader publishes). Layout:
``ACDC/database/{training,testing}/patientNNN/patientNNN_frameFF.nii.gz``,
``..._frameFF_gt.nii.gz`` and ``Info.cfg`` (``ED: 1``, ``ES: 12``, ``Group: DCM``, ...). The
original 2017 challenge copy (``training/``, ``testing/`` without ``database/``; its test
patients have no labels) works as the user's copy: a test patient without any label is skipped
(logged), so the default subsets read every published copy. Labels: 0 background, 1 right
ventricle cavity, 2 myocardium, 3 left ventricle cavity.

Options: ``subsets`` (``training``/``testing``), ``frames`` (``[ED, ES]``, ours, or ``[ED]``,
the authors': their loader reads the ED frame only, utils.py:342). Each frame gives a case
``patientNNN_<frame>`` with case metadata ``patient`` (splits keep a patient's frames together),
``phase``, ``group`` (pathology) and ``subset``.
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

LABELS = {"background": 0, "right_ventricle": 1, "myocardium": 2, "left_ventricle": 3}
FRAMES = ("ED", "ES")
SUBSETS = ("training", "testing")
# torch-em, torch_em/data/datasets/medical/acdc.py (URL, CHECKSUM)
URL = (
    "https://humanheart-project.creatis.insa-lyon.fr/database/api/v1/collection/"
    "637218c173e9f0047faa00fb/download"
)
SHA256 = "2787e08b0d3525cbac710fc3bdf69ee7c5fd7446472e49db8bc78548802f6b5e"


def read_info(path: Path) -> dict[str, str]:
    """``Info.cfg`` as a dict (``key: value`` lines)."""
    info = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            info[key.strip()] = value.strip()
    for key in FRAMES:
        if not info.get(key, "").isdigit():
            raise KdsegError(f"{path}: '{key}: <frame number>' is missing")
    return info


def _listed(options: Mapping[str, Any], key: str, known: tuple[str, ...]) -> list[str]:
    values = [str(v) for v in options.get(key, known)]
    if not values or any(v not in known for v in values):
        raise KdsegError(f"convert.{key}: {values} is not a non-empty list of {', '.join(known)}")
    return values


def convert(
    root: Path, writer: RawDatasetWriter, options: Mapping[str, Any]
) -> tuple[list[str], dict[str, int]]:
    """``options.frames`` of every patient folder with ``Info.cfg`` (``options.subsets``: which
    of training/testing to take)."""
    subsets = set(_listed(options, "subsets", SUBSETS))
    frames = _listed(options, "frames", FRAMES)
    unlabelled = []
    for cfg in sorted(root.rglob("patient*/Info.cfg"), key=lambda p: p.parent.name):
        folder, patient = cfg.parent, cfg.parent.name
        subset = folder.parent.name
        if subset in SUBSETS and subset not in subsets:
            continue
        info = read_info(cfg)
        labels = {
            phase: folder / f"{patient}_frame{int(info[phase]):02d}_gt.nii.gz" for phase in FRAMES
        }
        if subset == "testing" and not any(p.is_file() for p in labels.values()):
            unlabelled.append(patient)  # the 2017 copy's test patients
            continue
        for phase in frames:
            if not labels[phase].is_file():
                raise KdsegError(f"{labels[phase]}: missing ({phase} frame {info[phase]} of {cfg})")
            writer.add_case(
                f"{patient}_{phase}",
                [folder / labels[phase].name.replace("_gt.nii.gz", ".nii.gz")],
                remap_label(labels[phase], None, set(LABELS.values())),
                {
                    "patient": patient,
                    "phase": phase,
                    "group": info.get("Group", ""),
                    "subset": subset,
                },
            )
    if unlabelled:
        log.info(
            "ACDC: %d test patients without labels skipped (%s ... %s; the 2017 copy)",
            len(unlabelled), unlabelled[0], unlabelled[-1],
        )  # fmt: skip
    return ["cineMRI"], LABELS


SOURCE = Source(
    name="acdc",
    title="ACDC",
    website="https://humanheart-project.creatis.insa-lyon.fr/database/#collection/637218c173e9f0047faa00fb",
    raw_name="Dataset103_ACDC",
    convert=convert,
    layout="[database/]{training,testing}/patientNNN/patientNNN_frameFF[_gt].nii.gz + Info.cfg",
    downloads=(Download(URL, "ACDC.zip", sha256=SHA256),),
    manual="your own copy (e.g. the 2017 challenge release)",
    options={"subsets": list(SUBSETS), "frames": list(FRAMES)},
    choices={"subsets": SUBSETS, "frames": FRAMES},
)
