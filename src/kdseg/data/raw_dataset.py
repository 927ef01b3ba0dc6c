"""The nnU-Net v2 raw layout: ``dataset.json``, ``imagesTr/<case>_<ch>.nii.gz``, ``labelsTr``.

Every data source of kdseg (phantoms, public datasets, a user's own data) is read through this.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kdseg.errors import KdsegError

_CHANNEL_RE = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


@dataclass(frozen=True)
class DatasetInfo:
    """What ``dataset.json`` says: channels, labels and file ending."""

    name: str
    channel_names: dict[int, str]
    labels: dict[str, int]
    file_ending: str
    num_training: int
    case_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def num_channels(self) -> int:
        return len(self.channel_names)

    @property
    def foreground_labels(self) -> dict[str, int]:
        """Label name -> value without the background."""
        return {k: v for k, v in self.labels.items() if v != 0}

    def to_json(self) -> dict:
        data = {
            "name": self.name,
            "channel_names": {str(k): v for k, v in self.channel_names.items()},
            "labels": self.labels,
            "numTraining": self.num_training,
            "file_ending": self.file_ending,
        }
        if self.case_metadata:
            data["case_metadata"] = self.case_metadata
        return data


def read_dataset_json(root: str | Path) -> DatasetInfo:
    """Parse and check ``<root>/dataset.json``; errors name the file and the key."""
    path = Path(root) / "dataset.json"
    if not path.is_file():
        raise KdsegError(f"{path}: missing (every raw dataset needs an nnU-Net v2 dataset.json)")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise KdsegError(f"{path}: not valid JSON ({err})") from err
    for key in ("channel_names", "labels", "file_ending"):
        if key not in data:
            raise KdsegError(f"{path}: key '{key}' is missing")
    channels = data["channel_names"]
    if not isinstance(channels, dict) or not channels:
        raise KdsegError(f"{path}: 'channel_names' must be a non-empty mapping like {{'0': 'CT'}}")
    try:
        channel_names = {int(k): str(v) for k, v in channels.items()}
    except ValueError as err:
        raise KdsegError(f"{path}: 'channel_names' keys must be channel numbers ({err})") from err
    if sorted(channel_names) != list(range(len(channel_names))):
        raise KdsegError(f"{path}: 'channel_names' keys must be 0..{len(channel_names) - 1}")
    labels = data["labels"]
    if not isinstance(labels, dict) or any(
        not isinstance(v, int) or isinstance(v, bool) for v in labels.values()
    ):
        raise KdsegError(
            f"{path}: 'labels' must map names to integers (region-based labels are not supported)"
        )
    if 0 not in labels.values():
        raise KdsegError(f"{path}: 'labels' must contain the background value 0")
    if len(set(labels.values())) != len(labels):
        raise KdsegError(f"{path}: 'labels' has repeated values")
    metadata = data.get("case_metadata", {})
    if not isinstance(metadata, dict) or any(not isinstance(v, dict) for v in metadata.values()):
        raise KdsegError(f"{path}: 'case_metadata' must map case ids to mappings")
    return DatasetInfo(
        case_metadata=metadata,
        name=str(data.get("name", Path(root).name)),
        channel_names=channel_names,
        labels={str(k): int(v) for k, v in labels.items()},
        file_ending=str(data["file_ending"]),
        num_training=int(data.get("numTraining", 0)),
    )


@dataclass(frozen=True)
class CaseFiles:
    """The files of one case as found on disk (possibly incomplete)."""

    case: str
    images: dict[int, Path]
    label: Path | None


def expected_case_files(root: str | Path, info: DatasetInfo, case: str) -> CaseFiles:
    """The files a case must have in the nnU-Net v2 layout (whether or not they exist):
    ``imagesTr/<case>_<CCCC><ending>`` per channel and ``labelsTr/<case><ending>``."""
    root, ending = Path(root), info.file_ending
    images = {c: root / "imagesTr" / f"{case}_{c:04d}{ending}" for c in range(info.num_channels)}
    return CaseFiles(case, images, root / "labelsTr" / f"{case}{ending}")


def _visible(folder: Path, pattern: str = "*") -> list[Path]:
    """Entries of ``folder`` matching ``pattern``, sorted, without hidden ones (temporaries
    and lock files of :mod:`kdseg.runtime.atomic` and :mod:`kdseg.runtime.locks` start with
    a dot)."""
    return sorted(p for p in folder.glob(pattern) if not p.name.startswith("."))


def _regular(paths: list[Path]) -> list[Path]:
    """``paths``; a fifo, device or socket among them (reading a fifo blocks) is a one-line
    error naming it."""
    for path in paths:
        if path.exists() and not path.is_file() and not path.is_dir():
            raise KdsegError(
                f"{path}: not a regular file (a fifo, device or socket); kdseg reads only files"
            )
    return paths


def discover_cases(root: str | Path, info: DatasetInfo) -> list[CaseFiles]:
    """All cases with any (not hidden) file in ``imagesTr`` or ``labelsTr``, sorted by case."""
    root = Path(root)
    ending = info.file_ending
    images: dict[str, dict[int, Path]] = {}
    for path in _regular(_visible(root / "imagesTr", f"*{ending}")):
        stem = path.name[: -len(ending)]
        match = _CHANNEL_RE.match(stem)
        if match is None:
            raise KdsegError(f"{path}: image name must end in _<4-digit channel>{ending}")
        images.setdefault(match["case"], {})[int(match["channel"])] = path
    labels = {
        p.name[: -len(ending)]: p for p in _regular(_visible(root / "labelsTr", f"*{ending}"))
    }
    cases = sorted(set(images) | set(labels))
    return [CaseFiles(c, images.get(c, {}), labels.get(c)) for c in cases]


def list_raw_files(root: str | Path) -> list[str]:
    """Every file of a raw dataset that a rule should depend on (missing ones are not listed)."""
    root = Path(root)
    files = [root / "dataset.json"]
    for sub in ("imagesTr", "labelsTr"):
        files += [p for p in _visible(root / sub) if p.is_file()]
    return [str(p) for p in files if p.exists()]
