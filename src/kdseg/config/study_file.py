"""Reading a study file (refusing duplicate keys) and putting a config in canonical order."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from kdseg.config.methods import METHODS
from kdseg.errors import ConfigError


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys in sorted order (recursively; lists keep theirs).

    The workflow applies it to the whole config, so that the ``params`` Snakemake records
    (dicts compared by their ``repr``) do not depend on the order of keys in a study file.
    """
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: (type(kv[0]).__name__, str(kv[0])))
        return {k: canonical(v) for k, v in items}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise ConfigError(
                f"config key {key!r} given twice in one mapping (lines {seen[key]} and "
                f"{key_node.start_mark.line + 1} of {loader.name})"
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


MAX_VALUES = 100_000  # values of a study file once its aliases are expanded (a real one: ~1,000)


def _expanded_size(root: yaml.Node, path: Path) -> int:
    """How many values the document at ``root`` holds once every alias is expanded, counted on
    the composed nodes (each counted once, then reused), so nothing is expanded; a ConfigError
    past :data:`MAX_VALUES` or for an alias inside the value it names."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_nodes:
            raise ConfigError(f"{path}: an alias refers to a value that holds it")
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(key) + size(value) for key, value in node.value)
        if total > MAX_VALUES:
            raise ConfigError(
                f"{path}: its aliases expand it to more than {MAX_VALUES} values (a YAML "
                "'alias bomb'?); write the values out or use fewer nested aliases"
            )
        open_nodes.discard(id(node))
        sizes[id(node)] = total
        return total

    return size(root)


def _refuse_yte(config: Any, path: Path) -> None:
    """Snakemake runs a study file's expressions as Python (yte) when it sets ``__use_yte__``."""
    if isinstance(config, dict) and "__use_yte__" in config:
        raise ConfigError(
            f"{path}: '__use_yte__' asks Snakemake to run the file's expressions as Python "
            "code; kdseg does not run study files that are code (remove the key and write the "
            "values out)"
        )


def read_study_file(path: str | Path) -> Any:
    """A study file's YAML (or JSON), refusing duplicate keys, aliases that expand it beyond
    :data:`MAX_VALUES` values and ``__use_yte__``, each with a one-line ConfigError."""
    path = Path(path)
    try:
        with open(path) as fh:
            loader = _StrictLoader(fh)
            loader.name = str(path)
            try:
                node = loader.get_single_node()
                if node is None:
                    return None
                _expanded_size(node, path)
                config = loader.construct_document(node)
            finally:
                loader.dispose()
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a study file") from None
    _refuse_yte(config, path)
    return config


def typed_override(value: Any) -> Any:
    """A ``--config`` value with the scalars inside mappings and lists typed as YAML types them.

    Snakemake reads ``--config key=<YAML>`` with YAML's base loader, which leaves every nested
    scalar a string (``training={"iterations": 10}`` gives ``"10"``); top-level values it
    already types. Strings that YAML reads as a number, boolean or null become one."""
    if isinstance(value, dict):
        return {k: typed_override(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed_override(v) for v in value]
    if isinstance(value, str):
        try:
            typed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return typed if isinstance(typed, (int, float, bool)) or typed is None else value
    return value


def apply_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Apply ``--config`` values (typed by :func:`typed_override`) over ``config``, key by key
    into nested mappings, as Snakemake merges them. A mapping the study file does not set
    (every key it holds is the override's) is merged into the schema's default there:
    ``training={"optimizer": {"lr": 0.02}}`` on a study without ``optimizer`` gives Adam at
    0.02, as on a study that writes the default out."""
    _apply(config, overrides, ())


def _apply(config: dict[str, Any], overrides: dict[str, Any], path: tuple[str, ...]) -> None:
    for key, value in overrides.items():
        value = typed_override(value)
        current = config.get(key)
        if isinstance(value, dict) and (current is None or isinstance(current, dict)):
            default = schema_default((*path, key))
            if isinstance(default, dict) and set(current or {}) <= set(value):
                current = config[key] = copy.deepcopy(default)
            if isinstance(current, dict):
                _apply(current, value, (*path, key))
                continue
        config[key] = value


SCHEMA = Path(__file__).with_name("config.schema.yaml")


@functools.cache
def schema_document() -> dict[str, Any]:
    """The config schema (``kdseg/config/config.schema.yaml``, shipped with the package); the
    enum of ``students.<entry>.method`` is the registered methods (:data:`METHODS`)."""
    document = yaml.safe_load(SCHEMA.read_text())
    document["$defs"]["student"]["properties"]["method"]["enum"] = list(METHODS)
    return document


def schema_default(path: tuple[str, ...]) -> Any:
    """The schema's ``default`` of the key at ``path`` (None where it gives none)."""
    schema = schema_document()

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        return node

    node = resolve(schema)
    for key in path:
        if key in node.get("properties", {}):
            node = resolve(node["properties"][key])
        elif isinstance(node.get("additionalProperties"), dict):
            node = resolve(node["additionalProperties"])
        else:
            return None
    return node.get("default")


def default_study_name(config: dict[str, Any], study_files: list[str]) -> None:
    """A study file without ``study:`` names the study after itself (``my-study.yaml`` ->
    ``my-study``), so that two such files never write into one folder."""
    if "study" not in config and study_files:
        config["study"] = Path(study_files[-1]).stem
