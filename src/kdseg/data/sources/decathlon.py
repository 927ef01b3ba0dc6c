"""Medical Segmentation Decathlon tasks (Antonelli et al. 2022): Task05_Prostate, Task03_Liver.

Source layout (the public tars; URLs and md5 sums as listed by MONAI's ``DecathlonDataset``):
``TaskNN_Name/dataset.json`` (``modality``, ``labels``, ``training`` [{image, label}]),
``imagesTr/<case>.nii.gz`` (4D with channels last for multi-modal tasks such as prostate T2 +
ADC), ``labelsTr/<case>.nii.gz``; the tars also hold macOS ``._*`` files, which are skipped.
A 4D image is split into one file per channel with the same affine; labels keep their values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kdseg.data.sources.base import Download, Source
from kdseg.data.sources.raw_writer import (
    RawDatasetWriter,
    inside,
    remap_label,
    split_channels,
)
from kdseg.errors import KdsegError

MSD_URL = "https://msd-for-monai.s3-us-west-2.amazonaws.com"


def _task_json(root: Path) -> Path:
    found = [p for p in root.rglob("dataset.json") if not p.name.startswith("._")]
    if len(found) != 1:
        raise KdsegError(f"{root}: expected one decathlon dataset.json, found {len(found)}")
    return found[0]


def _entry(root: Path, path: Path, entry: Any, n: int, key: str) -> Path:
    """A file named by the task's ``dataset.json``: it must lie inside the source folder."""
    try:
        value = entry[key]
    except (KeyError, TypeError) as err:
        raise KdsegError(f"{path}: training[{n}] has no '{key}' ({err!r})") from None
    if not isinstance(value, str):
        raise KdsegError(f"{path}: training[{n}].{key} is not a path: {value!r}")
    return inside(root, path.parent / value, f"{path}: training[{n}].{key}")


def convert(
    root: Path, writer: RawDatasetWriter, options: Mapping[str, Any]
) -> tuple[list[str], dict[str, int]]:
    """Every entry of the task's ``training`` list."""
    path = _task_json(root)
    task = json.loads(path.read_text())
    try:
        channels = [task["modality"][str(i)] for i in range(len(task["modality"]))]
        labels = {name: int(value) for value, name in task["labels"].items()}
        entries = task["training"]
    except (KeyError, ValueError, TypeError) as err:
        raise KdsegError(f"{path}: not a decathlon dataset.json ({err!r})") from err
    allowed = set(labels.values())
    for n, entry in enumerate(entries):
        image, label = (_entry(root, path, entry, n, key) for key in ("image", "label"))
        case = image.name.removesuffix(".nii.gz")
        parts = split_channels(image)
        if len(parts) != len(channels):
            raise KdsegError(f"{image}: {len(parts)} channels, {path} names {len(channels)}")
        single = len(parts) == 1
        writer.add_case(case, [image] if single else parts, remap_label(label, None, allowed))
    return channels, {"background": 0, **{k: v for k, v in labels.items() if v != 0}}


def _task(number: int, name: str, md5: str, raw_id: int, title: str, layout: str) -> Source:
    archive = f"Task{number:02d}_{name}.tar"
    return Source(
        name=f"msd_{name.lower()}",
        title=title,
        website="http://medicaldecathlon.com",
        raw_name=f"Dataset{raw_id}_{name}",
        convert=convert,
        layout=layout,
        downloads=(Download(f"{MSD_URL}/{archive}", archive, md5),),
    )


PROSTATE = _task(
    5,
    "Prostate",
    "35138f08b1efaef89d7424d2bcc928db",
    105,
    "MSD Task05_Prostate",
    "Task05_Prostate/imagesTr/prostate_NN.nii.gz (4D: T2, ADC)",
)
LIVER = _task(
    3,
    "Liver",
    "a90ec6c4aa7f6a3d087205e23d4e6397",
    106,
    "MSD Task03_Liver",
    "Task03_Liver/imagesTr/liver_NN.nii.gz",
)
