"""A study's data as its config names them: where each dataset's raw folder lives, and the
checks of a config against its data (public sources, raw cases, splits) that
:func:`kdseg.config.validate_config` leaves out, so that ``kdseg.config`` imports nothing of
``kdseg.data``. Torch-free: the workflow runs :func:`validate_study` on every call."""

from __future__ import annotations

from typing import Any

from kdseg.config.paths import study_dir
from kdseg.config.settings import runs_on
from kdseg.config.validation import validate_config
from kdseg.data.raw_dataset import discover_cases, list_raw_files, read_dataset_json
from kdseg.data.sources.study import check_sources, is_converted, marker_of, raw_dir
from kdseg.errors import ConfigError, KdsegError


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


def validate_study(config: dict[str, Any]) -> None:
    """:func:`kdseg.config.validate_config`, then :func:`check_data`; any problem raises a
    one-line ConfigError naming the key."""
    validate_config(config)
    check_data(config)


def check_data(config: dict[str, Any]) -> None:
    """The config against its data: public sources' settings, and each dataset's split made
    from its patients where they are known before any job."""
    check_sources(config)
    for name in config["datasets"]:
        _check_splits(config, name)


def _dataset_cases(config: dict[str, Any], name: str) -> tuple[list[str], dict[str, Any]] | None:
    """Case ids and case metadata of a dataset, where they are known before any job (the same
    reading of the raw folder as the validation job's; a folder it cannot read is left to
    that job's errors)."""
    ds = config["datasets"][name]
    if ds["source"] == "phantom":
        from kdseg.data.phantoms.registry import phantom_case_ids

        section = ds.get("phantom", {})
        return phantom_case_ids(section.get("kind", "thorax"), section.get("cases", 0)), {}
    root = raw_root(config, name)
    try:
        info = read_dataset_json(root)
        return [c.case for c in discover_cases(root, info)], info.case_metadata
    except KdsegError:
        return None


def _check_splits(config: dict[str, Any], name: str) -> None:
    """The split can be made from the dataset's patients (where they are known already)."""
    from kdseg.data.splits import make_splits

    ds = config["datasets"][name]
    known = _dataset_cases(config, name)
    if known is None or not known[0]:
        return
    s = ds.get("splits", {})
    try:
        if s.get("folds"):
            from kdseg.data.splits import fold_splits

            for fold in range(1, int(s["folds"]) + 1):
                fold_splits(known[0], s.get("seed", 0), int(s["folds"]), fold,
                            s.get("validation", 0.15), s.get("group_pattern"), known[1],
                            s.get("stratify_by"))  # fmt: skip
            return
        split = make_splits(
            known[0],
            s.get("seed", 0),
            s.get("test", 0.25),
            s.get("validation", 0.15),
            s.get("group_pattern"),
            known[1],
            s.get("stratify_by"),
            s.get("held_out"),
        )
    except ConfigError as err:
        raise ConfigError(f"config key 'datasets.{name}.splits': {err}") from None
    patients = len(split["patients"]["train"])
    for ens_name, ens in config["ensembles"].items():
        if runs_on(ens, name) and ens.get("subsets", 1) > patients:
            raise ConfigError(
                f"config key 'ensembles.{ens_name}.subsets': {ens['subsets']} subsets of the "
                f"training patients of {name}, which has {patients}; at most {patients}"
            )
