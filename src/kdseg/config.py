"""Study configuration: readable schema errors, semantic checks, per-dataset accessors.

The Snakefile validates the config with ``snakemake.utils.validate`` against
``config/schema/config.schema.yaml`` (which fills in defaults); this module turns a schema
violation into a one-line message naming the key, and checks what a schema cannot express.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema

from kdseg.data.phantoms import phantom_case_ids
from kdseg.data.raw_dataset import discover_cases, list_raw_files, read_dataset_json
from kdseg.errors import ConfigError, KdsegError


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def describe_validation_error(error: jsonschema.ValidationError) -> str:
    """One line: ``config key 'a.b.c': <what is wrong>``."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        # the alternative that got deepest into the value, a type mismatch last
        best = min(error.context, key=lambda e: (-len(e.path), e.validator == "type"))
        return describe_validation_error(best)
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = (
            sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        )
        if allowed:
            where = f"'{key}'" if error.absolute_path else "the top level"
            return (
                f"config key '{_join(key, extra[0]) if extra else key}': unknown key in {where} "
                f"(allowed: {', '.join(allowed)})"
            )
    if error.validator == "required":
        return f"config key '{key}': {error.message}"
    if error.validator == "propertyNames":
        return f"config key '{key}': invalid name {error.instance!r} ({error.message})"
    return f"config key '{key}': {error.message}"


def _join(parent: str, child: str) -> str:
    return child if parent == "<top level>" else f"{parent}.{child}"


def config_error_message(err: BaseException) -> str:
    """The message of a Snakemake/jsonschema validation failure, reduced to one line."""
    seen: BaseException | None = err
    while seen is not None:  # Snakemake raises its WorkflowError inside `except ValidationError`
        if isinstance(seen, jsonschema.ValidationError):
            return "invalid config: " + describe_validation_error(seen)
        seen = seen.__cause__ or seen.__context__
    return f"invalid config: {str(err).splitlines()[0]}"


def check_config(config: dict[str, Any]) -> None:
    """Checks a schema cannot express; raises ConfigError naming the key."""
    for name, ds in config["datasets"].items():
        key = f"datasets.{name}"
        if ds["source"] == "raw":
            if "path" not in ds:
                raise ConfigError(f"config key '{key}.path': required for source 'raw'")
            root = Path(ds["path"])
            if not (root / "dataset.json").is_file():
                raise ConfigError(
                    f"config key '{key}.path': {root} is not an nnU-Net v2 raw dataset "
                    "(no dataset.json)"
                )
        elif "path" in ds:
            raise ConfigError(
                f"config key '{key}.path': only used with source 'raw', not {ds['source']!r}"
            )


def raw_root(config: dict[str, Any], dataset: str) -> str:
    """Where the raw (nnU-Net v2 layout) dataset lives."""
    ds = config["datasets"][dataset]
    if ds["source"] == "raw":
        return str(ds["path"])
    return f"{study_dir(config)}/{dataset}/raw"


def study_dir(config: dict[str, Any]) -> str:
    """``<results_dir>/<study>``."""
    return f"{config['results_dir']}/{config['study']}"


def case_ids(config: dict[str, Any], dataset: str) -> list[str]:
    """Case ids of a dataset, known before any job runs."""
    ds = config["datasets"][dataset]
    if ds["source"] == "phantom":
        return phantom_case_ids(ds["phantom"]["kind"], ds["phantom"]["cases"])
    root = Path(ds["path"])
    try:
        return [c.case for c in discover_cases(root, read_dataset_json(root))]
    except KdsegError as err:
        raise ConfigError(f"config key 'datasets.{dataset}.path': {err}") from err


def raw_inputs(config: dict[str, Any], dataset: str) -> list[str]:
    """Input files of the validation rule: the phantom folder, or every file of a raw folder."""
    ds = config["datasets"][dataset]
    if ds["source"] == "phantom":
        return [raw_root(config, dataset)]
    return list_raw_files(ds["path"])
