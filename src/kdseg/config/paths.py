"""Where a study's files live: the study folder and each dataset's raw data."""

from __future__ import annotations

from typing import Any

from kdseg.data.raw_dataset import list_raw_files
from kdseg.data.sources.study import is_converted, marker_of, raw_dir


def study_dir(config: dict[str, Any]) -> str:
    """``<results_dir>/<study>``."""
    return f"{config['results_dir']}/{config['study']}"


def raw_root(config: dict[str, Any], dataset: str) -> str:
    """Where the raw (nnU-Net v2 layout) dataset lives."""
    ds = config["datasets"][dataset]
    if ds["source"] == "raw":
        return str(ds["path"])
    if is_converted(ds):
        return raw_dir(config, ds)
    return f"{study_dir(config)}/{dataset}/raw"


def raw_inputs(config: dict[str, Any], dataset: str) -> list[str]:
    """Input files of the validation rule: the folder the workflow makes (phantom), the
    marker of a converted public source, or every file of a user's raw folder."""
    ds = config["datasets"][dataset]
    if is_converted(ds):
        return [marker_of(raw_root(config, dataset))]
    if ds["source"] != "raw":
        return [raw_root(config, dataset)]
    return list_raw_files(ds["path"])
