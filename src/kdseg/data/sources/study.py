"""Where a study's public data live, read from its config.

``<data_dir>/downloads/<source>/``: the published files (downloaded by the workflow, or put
there by the user for registration-only sources); ``<data_dir>/sources/<source>/``: those files
extracted; ``<data_dir>/nnUNet_raw/<raw_name>/``: the converted dataset. ``data_dir`` is shared
between studies, so a source is downloaded and converted once.
"""

from __future__ import annotations

from typing import Any

from kdseg.data.sources.download import check_scheme
from kdseg.data.sources.registry import SOURCES, source_named
from kdseg.errors import ConfigError, KdsegError


def is_converted(dataset: dict[str, Any]) -> bool:
    """Whether a dataset comes from a public source (not a phantom or a user's raw folder)."""
    return dataset["source"] in SOURCES


def raw_name(dataset: dict[str, Any]) -> str:
    """Folder name of a converted dataset under ``nnUNet_raw``."""
    return dataset.get("raw_name") or source_named(dataset["source"]).raw_name


def raw_dir(config: dict[str, Any], dataset: dict[str, Any]) -> str:
    return f"{config['data_dir']}/nnUNet_raw/{raw_name(dataset)}"


def source_dir(config: dict[str, Any], source: str) -> str:
    return f"{config['data_dir']}/sources/{source}"


def marker_of(folder: str) -> str:
    """The workflow's output for a shared data folder (see obtain.write_marker)."""
    return f"{folder}.done.json"


def download_dir(config: dict[str, Any], source: str) -> str:
    return f"{config['data_dir']}/downloads/{source}"


def conversions(config: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """raw_name -> (source, converter options) of every converted dataset."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, ds in config["datasets"].items():
        if not is_converted(ds):
            continue
        src = source_named(ds["source"])
        options = {**src.options, **ds.get("convert", {})}
        unknown = sorted(set(ds.get("convert", {})) - set(src.options))
        if unknown:
            raise ConfigError(
                f"config key 'datasets.{name}.convert.{unknown[0]}': source {src.name} has "
                f"no such option (it has: {', '.join(src.options) or 'none'})"
            )
        for option, allowed in src.choices.items():
            value = options[option]
            if not isinstance(value, list) or not value or any(v not in allowed for v in value):
                raise ConfigError(
                    f"config key 'datasets.{name}.convert.{option}': {value!r} is not a "
                    f"non-empty list of {', '.join(allowed)}"
                )
        key = raw_name(ds)
        if key in found and found[key] != (src.name, options):
            raise ConfigError(
                f"config key 'datasets.{name}.raw_name': {key} is already converted with other "
                "settings by another dataset; give this one its own raw_name"
            )
        found[key] = (src.name, options)
    return found


def used_sources(config: dict[str, Any]) -> list[str]:
    """Names of the sources the study's datasets come from."""
    return sorted({source for source, _ in conversions(config).values()})


def download_spec(config: dict[str, Any], source: str, filename: str) -> dict[str, Any]:
    """URL (the configured mirror's, if any) and md5 (and sha256, where known) of one published
    file: what the file depends on (the ``download`` settings only say how to fetch it, so
    changing them never re-downloads a file)."""
    src = source_named(source)
    spec = {d.filename: d for d in src.downloads}.get(filename)
    if spec is None:
        raise ConfigError(f"{source}: no published file named {filename!r}")
    settings = config["sources"].get(source, {})
    mirror = settings.get("mirror")
    url = f"{mirror.rstrip('/')}/{filename}" if mirror else spec.url
    md5 = settings.get("md5", {}).get(filename, spec.md5)
    sha256 = settings.get("sha256", {}).get(filename, spec.sha256)
    if filename in settings.get("md5", {}) and filename not in settings.get("sha256", {}):
        sha256 = None  # an md5 given for a mirror's other version replaces the published pin
    return {"url": url, "md5": md5, **({"sha256": sha256} if sha256 else {})}


def user_copy(config: dict[str, Any], source: str) -> str:
    """The user's own copy of an open source (``sources.<source>.path``), or ''."""
    return config["sources"].get(source, {}).get("path", "") if source_named(source).is_open else ""


def converted_subsets(config: dict[str, Any], source: str) -> set[str]:
    """The converter subsets the study's datasets take from ``source``."""
    found: set[str] = set()
    for name, options in conversions(config).values():
        if name == source:
            found |= set(options.get("subsets") or [])
    return found


def downloaded_files(config: dict[str, Any], source: str) -> list[str]:
    """The files the workflow downloads for an open source: none for the others or where the
    user gives their own copy; a file of one subset only when a dataset converts it."""
    if user_copy(config, source):
        return []
    subsets = converted_subsets(config, source)
    return [
        f"{download_dir(config, source)}/{d.filename}"
        for d in source_named(source).downloads
        if d.subset is None or d.subset in subsets
    ]


def manual_path(config: dict[str, Any], source: str) -> str:
    """Where a registration-only source's archive (or extracted folder) is expected, or where
    the user keeps their own copy of an open one."""
    if source_named(source).is_open:
        return user_copy(config, source)
    return config["sources"].get(source, {}).get("path") or download_dir(config, source)


def check_sources(config: dict[str, Any]) -> None:
    """Config errors a schema cannot express, each naming the key."""
    conversions(config)
    for name, settings in config["sources"].items():
        src = source_named(name)
        if src.is_open and not src.manual and "path" in settings:
            raise ConfigError(
                f"config key 'sources.{name}.path': {name} is downloaded by the workflow "
                "(use 'mirror' for another location)"
            )
        for key in ("mirror", "md5", "sha256"):
            if not src.is_open and key in settings:
                raise ConfigError(
                    f"config key 'sources.{name}.{key}': {name} cannot be downloaded (use 'path')"
                )
        if "mirror" in settings:
            try:
                check_scheme(settings["mirror"])
            except KdsegError as err:
                raise ConfigError(f"config key 'sources.{name}.mirror': {err}") from None
        published = {d.filename for d in src.downloads}
        for key in ("md5", "sha256"):
            for filename in settings.get(key, {}):
                if filename not in published:
                    raise ConfigError(
                        f"config key 'sources.{name}.{key}.{filename}': not a file of {name}"
                    )
    for name, ds in config["datasets"].items():
        for key in ("raw_name", "convert"):
            if key in ds and not is_converted(ds):
                raise ConfigError(
                    f"config key 'datasets.{name}.{key}': only for public sources "
                    f"({', '.join(SOURCES)}), not {ds['source']!r}"
                )
