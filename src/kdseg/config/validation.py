"""Validation of a study's config: the schema (with its defaults filled in), then what a schema
cannot express. Every problem is one ConfigError naming the key. The checks against the data
(public sources, splits of known cases) are :mod:`kdseg.data.study_data`'s, which the workflow
runs after these. Nothing here imports torch: the workflow validates its config on every call
(a dry-run, ``--lint``, a typo), so checks that need a built optimiser or network are left to
the job that builds them."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import jsonschema

from kdseg.config.geometry import network_geometry
from kdseg.config.messages import config_error_message
from kdseg.config.methods import METHODS, method_of
from kdseg.config.settings import architecture_settings, runs_on, training_settings
from kdseg.config.specs import (
    check_network_arguments,
    check_optimizer,
    check_schedule,
    network_dims,
)
from kdseg.config.study_file import read_study_file, schema_document
from kdseg.errors import ConfigError


def check_config(config: dict[str, Any]) -> None:
    """Checks a schema cannot express; raises ConfigError naming the key. The checks against
    the data (sources, splits) are :func:`kdseg.data.study_data.check_data`'s."""
    for name, ds in config["datasets"].items():
        key = f"datasets.{name}"
        if ds["source"] == "raw":
            if "path" not in ds:
                raise ConfigError(f"config key '{key}.path': required for source 'raw'")
            root = Path(ds["path"])
            if not root.exists():
                raise ConfigError(f"config key '{key}.path': {root} does not exist")
            if not (root / "dataset.json").is_file():
                raise ConfigError(
                    f"config key '{key}.path': {root} is not an nnU-Net v2 raw dataset "
                    "(no dataset.json)"
                )
        elif "path" in ds:
            raise ConfigError(
                f"config key '{key}.path': only used with source 'raw', not {ds['source']!r}"
            )
        for arch in ds.get("architectures", {}):
            if arch not in config["architectures"]:
                raise ConfigError(
                    f"config key '{key}.architectures.{arch}': not a name in 'architectures'"
                )
    _check_folders(config)
    for name, ds in config["datasets"].items():
        _check_intensity_ranges(ds, f"datasets.{name}.preprocess.ct")
        _check_group_pattern(ds, f"datasets.{name}.splits.group_pattern")
    _check_ensembles(config)
    _check_students(config)
    _check_dataset_lists(config)
    _check_budgets(config)  # after the baselines' architectures are known to exist
    for name in config["datasets"]:
        training = training_settings(config, name)
        _check_merged(training, "training", f"datasets.{name}.training")
        _check_training(training, config["datasets"][name], name)
        for arch in config["architectures"]:
            settings = architecture_settings(config, name, arch)
            _check_merged(settings, "architecture", f"datasets.{name}.architectures.{arch}")
            if settings.get("training"):
                arch_training = training_settings(config, name, arch)
                _check_merged(arch_training, "training", f"architectures.{arch}.training")
                _check_training(arch_training, config["datasets"][name], name)
            _check_patch(settings, f"architectures.{arch}", name)
            _check_network(settings, f"architectures.{arch}", name)


def _check_folders(config: dict[str, Any]) -> None:
    """Output folders must name a folder (an empty or ``/`` one would write under ``/``)."""
    for key in ("results_dir", "data_dir"):
        if not config[key].strip("/ "):
            raise ConfigError(
                f"config key '{key}': {config[key]!r} is not a folder to write in "
                "(give a relative or absolute path below /)"
            )
        if "{" in config[key] or "}" in config[key]:
            raise ConfigError(
                f"config key '{key}': {config[key]!r} holds a brace, which the workflow would "
                "read as a wildcard; choose a folder name without { and }"
            )


def _check_intensity_ranges(dataset: dict[str, Any], key: str) -> None:
    """A CT window or percentile pair with nothing between its ends clips every voxel to one
    value: every image would be a constant."""
    ct = dataset.get("preprocess", {}).get("ct", {})
    for field in ("window", "percentiles"):
        pair = ct.get(field)
        if pair is not None and not pair[0] < pair[1]:
            raise ConfigError(
                f"config key '{key}.{field}': {pair}: the lower end must be below the upper "
                "(otherwise every image becomes a constant)"
            )


def _check_group_pattern(dataset: dict[str, Any], key: str) -> None:
    """The patient pattern is a regular expression with a group (its first is the patient)."""
    pattern = dataset.get("splits", {}).get("group_pattern")
    if pattern is None:
        return
    try:
        groups = re.compile(pattern).groups
    except re.error as err:
        raise ConfigError(
            f"config key '{key}': {pattern!r} is not a regular expression ({err})"
        ) from None
    if groups == 0:
        raise ConfigError(
            f"config key '{key}': {pattern!r} has no group; its first group (...) names the "
            "patient of a case"
        )


MAX_ITERATIONS = 10_000_000  # as the schema's maximum of training.iterations


def _check_budgets(config: dict[str, Any]) -> None:
    """A baseline of budget b trains b times its iterations: at most MAX_ITERATIONS."""
    budget = max(config["baselines"]["budgets"])
    for name in config["datasets"]:
        for arch in config["baselines"]["architectures"]:
            iterations = training_settings(config, name, arch)["iterations"]
            if budget * iterations > MAX_ITERATIONS:
                raise ConfigError(
                    f"config key 'baselines.budgets': budget {budget} x {iterations} iterations "
                    f"({arch} on {name}) is {budget * iterations} iterations, more than "
                    f"{MAX_ITERATIONS}"
                )


def _check_training(training: dict[str, Any], dataset: dict[str, Any], name: str) -> None:
    """Settings that only fail once a job builds them: optimiser, schedule, best weights."""
    key = f"datasets.{name}.training" if dataset.get("training") else "training"
    try:
        check_optimizer(training["optimizer"])
    except ConfigError as err:
        raise ConfigError(f"config key '{key}.optimizer': {err}") from None
    try:
        check_schedule(training["schedule"])
    except ConfigError as err:
        raise ConfigError(f"config key '{key}.schedule': {err}") from None
    validation = dataset.get("splits", {}).get("validation", 0.15)
    if training["weights"] == "best" and (training["validate_every"] == 0 or validation == 0):
        raise ConfigError(
            f"config key '{key}.weights': 'best' needs validation (validate_every > 0 and "
            "splits.validation > 0); use 'final'"
        )


def _check_network(arch: dict[str, Any], key: str, dataset: str) -> None:
    """The network exists and takes these keyword arguments, and those that shape it (sizes,
    layout, blocks) have values it accepts (the others are checked by the job that builds it)."""
    try:
        check_network_arguments(arch["network"], arch.get("kwargs", {}))
        network_geometry(arch["network"], arch.get("kwargs", {}))  # sizes, layout, blocks
    except ConfigError as err:
        raise ConfigError(f"config key '{key}' (dataset {dataset}): {err}") from None


_DEVICE = re.compile(r"(cpu|cuda|mps)(?::(\d+))?")


def _cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (imports torch: only asked for a local CUDA setting)."""
    import torch

    return torch.cuda.is_available()


def check_device(config: dict[str, Any], local: bool) -> None:
    """A CUDA device needs a GPU: on this machine when jobs run here (``local``), else GPUs
    requested for the jobs (``resources.<kind>.gpu``)."""
    for name in config["datasets"]:
        setting = training_settings(config, name)["device"]
        key = (
            f"datasets.{name}.training.device"
            if "device" in config["datasets"][name].get("training", {})
            else "training.device"
        )
        if setting == "auto":
            continue
        match = _DEVICE.fullmatch(setting)
        if match is None:
            raise ConfigError(
                f"config key '{key}': {setting!r} is not a torch device (auto, cpu, cuda, "
                "cuda:<index>, mps)"
            )
        if match[1] != "cuda":
            continue
        if local and not _cuda_available():
            raise ConfigError(
                f"config key '{key}': {setting!r} but this machine has no usable CUDA GPU "
                "(use 'auto' or 'cpu')"
            )
        if not local:
            for kind, section in config["resources"].items():
                if section.get("gpu", 0) < 1:
                    raise ConfigError(
                        f"config key '{key}': {setting!r} but resources.{kind}.gpu is "
                        f"{section.get('gpu', 0)}: those jobs would get no GPU"
                    )


def validate_config(config: dict[str, Any]) -> None:
    """Fill in the schema's defaults, validate against the schema and run
    :func:`check_config`; any problem raises a one-line ConfigError."""
    _check_finite(config)
    _check_method_keys(config)
    try:
        _fill_and_validate(config)
    except jsonschema.ValidationError as err:
        message = config_error_message(err).removeprefix("invalid config: ")
        raise ConfigError(message) from None
    for name, entry in config["students"].items():
        method_of(entry).prepare(config, name)
    check_config(config)


def _fill_and_validate(config: dict[str, Any]) -> None:
    """Validate against the schema, filling in each property's ``default`` (as Snakemake's
    ``validate(..., set_default=True)``)."""
    schema = schema_document()
    validator_class = jsonschema.validators.validator_for(schema)
    fill = validator_class.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from fill(validator, properties, instance, schema)

    def whole_pattern(validator, pattern, instance, schema):
        # JSON Schema's ``pattern`` searches, and Python's ``$`` matches before a final
        # newline: a name must match whole ("tiny\\n" is no study name)
        if validator.is_type(instance, "string") and re.fullmatch(pattern, instance) is None:
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")

    extended = jsonschema.validators.extend(
        validator_class, {"properties": properties_with_defaults, "pattern": whole_pattern}
    )
    error = next(extended(schema).iter_errors(config), None)  # the first, as Snakemake's
    if error is not None:
        raise error


def _check_finite(value: Any, path: tuple[Any, ...] = ()) -> None:
    """No NaN or infinity anywhere (they pass every bound of the schema: NaN compares false)."""
    if isinstance(value, float) and not math.isfinite(value):
        key = ".".join(str(p) for p in path) or "<top level>"
        raise ConfigError(f"config key '{key}': {value} is not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, (*path, i))


def _check_method_keys(config: Any) -> None:
    """Keys of a ``students`` entry that its method does not read are errors (checked before
    the schema fills in defaults, which cover the keys of every method)."""
    students = config.get("students") if isinstance(config, dict) else None
    if not isinstance(students, dict):
        return  # the schema reports it
    default = _schema_defs()["student"]["properties"]["method"]["default"]
    for name, entry in students.items():
        method = entry.get("method", default) if isinstance(entry, dict) else None
        if method in METHODS:
            METHODS[method].check_keys(name, entry)


def load_config(path: str | Path) -> dict[str, Any]:
    """A study file read and validated as the workflow sees it (for tools outside Snakemake,
    such as the benchmarks), without the checks against its data
    (:func:`kdseg.data.study_data.validate_study`)."""
    config = read_study_file(path)
    try:
        validate_config(config)
    except ConfigError as err:
        raise ConfigError(f"{path}: invalid config: {err}") from None
    return config


def _schema_defs() -> dict[str, Any]:
    return schema_document()["$defs"]


def _check_merged(settings: dict[str, Any], definition: str, key: str) -> None:
    """A section after a dataset's changes are merged in must still match the schema."""
    schema = {"$ref": f"#/$defs/{definition}", "$defs": _schema_defs()}
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(settings)
    )
    if error is not None:
        where = ".".join([key, *(str(p) for p in error.absolute_path)])
        raise ConfigError(f"config key '{where}': {error.message}")


def _check_patch(arch: dict[str, Any], key: str, dataset: str) -> None:
    dims = network_dims(arch["network"])
    if "patch" not in arch:  # planned per dataset from its fingerprint
        return
    if dims is not None and len(arch["patch"]) != dims:
        raise ConfigError(
            f"config key '{key}.patch' (dataset {dataset}): {arch['network']} is a {dims}D "
            f"network and needs {dims} patch sizes, got {arch['patch']}"
        )
    if "patch" in arch.get("inference", {}) and len(arch["patch"]) != 3:
        raise ConfigError(
            f"config key '{key}.inference.patch' (dataset {dataset}): only 3D networks use a "
            "sliding window; 2D networks are applied to whole slices"
        )


def _check_students(config: dict[str, Any]) -> None:
    for name, student in config["students"].items():
        method_of(student).check(config, name)
        if student["architecture"] not in config["architectures"]:
            raise ConfigError(
                f"config key 'students.{name}.architecture': {student['architecture']!r} is not "
                "defined in 'architectures'"
            )
    for arch in config["baselines"]["architectures"]:
        if arch not in config["architectures"]:
            raise ConfigError(
                f"config key 'baselines.architectures': {arch!r} is not defined in 'architectures'"
            )
    if config["baselines"]["loss"] not in config["losses"]:
        raise ConfigError(f"config key 'baselines.loss': {config['baselines']['loss']!r} unknown")


def _check_dataset_lists(config: dict[str, Any]) -> None:
    """Named datasets exist, and a student's ensembles are trained on each of its datasets."""
    for section in ("ensembles", "students"):
        for name, entry in config[section].items():
            for ds in entry.get("datasets", []):
                if ds not in config["datasets"]:
                    raise ConfigError(
                        f"config key '{section}.{name}.datasets': {ds!r} is not in 'datasets'"
                    )
    for name, student in config["students"].items():
        for ds in config["datasets"]:
            if not runs_on(student, ds):
                continue
            for ens in student.get("ensembles", []):
                if not runs_on(config["ensembles"][ens], ds):
                    raise ConfigError(
                        f"config key 'students.{name}.datasets': its ensemble {ens!r} is not "
                        f"trained on {ds} (add {ds} to 'ensembles.{ens}.datasets' or restrict "
                        "the student)"
                    )


def _check_ensembles(config: dict[str, Any]) -> None:
    for name, ens in config["ensembles"].items():
        for field, pool in (
            ("architectures", config["architectures"]),
            ("losses", config["losses"]),
        ):
            for item in ens[field]:
                if item not in pool:
                    raise ConfigError(
                        f"config key 'ensembles.{name}.{field}': {item!r} is not defined in "
                        f"'{field}' (defined: {', '.join(pool) or 'none'})"
                    )
