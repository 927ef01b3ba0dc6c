"""Where a study's public data live, read from its config.

``<data_dir>/downloads/<source>/``: the published files (downloaded by the workflow, or put
there by the user for registration-only sources); ``<data_dir>/sources/<source>/``: those files
extracted; ``<data_dir>/nnUNet_raw/<raw_name>/``: the converted dataset. ``data_dir`` is shared
between studies, so a source is downloaded and converted once.
"""

from __future__ import annotations

from typing import Any

from kdseg.data.sources.registry import SOURCES, source_named
from kdseg.errors import ConfigError


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
    """URL (the configured mirror's, if any) and md5 of one published file: what the file
    depends on (the ``download`` settings only say how to fetch it, so changing them never
    re-downloads a file)."""
    src = source_named(source)
    spec = {d.filename: d for d in src.downloads}.get(filename)
    if spec is None:
        raise ConfigError(f"{source}: no published file named {filename!r}")
    settings = config["sources"].get(source, {})
    mirror = settings.get("mirror")
    url = f"{mirror.rstrip('/')}/{filename}" if mirror else spec.url
    md5 = settings.get("md5", {}).get(filename, spec.md5)
    return {"url": url, "md5": md5}


def downloaded_files(config: dict[str, Any], source: str) -> list[str]:
    """The files the workflow downloads for an open source (none for the others)."""
    return [f"{download_dir(config, source)}/{d.filename}" for d in source_named(source).downloads]


def manual_path(config: dict[str, Any], source: str) -> str:
    """Where a registration-only source's archive (or extracted folder) is expected."""
    if source_named(source).is_open:
        return ""
    return config["sources"].get(source, {}).get("path") or download_dir(config, source)


def check_sources(config: dict[str, Any]) -> None:
    """Config errors a schema cannot express, each naming the key."""
    conversions(config)
    for name, settings in config["sources"].items():
        src = source_named(name)
        if src.is_open and "path" in settings:
            raise ConfigError(
                f"config key 'sources.{name}.path': {name} is downloaded by the workflow "
                "(use 'mirror' for another location)"
            )
        for key in ("mirror", "md5"):
            if not src.is_open and key in settings:
                raise ConfigError(
                    f"config key 'sources.{name}.{key}': {name} cannot be downloaded (use 'path')"
                )
        published = {d.filename for d in src.downloads}
        for filename in settings.get("md5", {}):
            if filename not in published:
                raise ConfigError(
                    f"config key 'sources.{name}.md5.{filename}': not a file of {name}"
                )
    for name, ds in config["datasets"].items():
        for key in ("raw_name", "convert"):
            if key in ds and not is_converted(ds):
                raise ConfigError(
                    f"config key 'datasets.{name}.{key}': only for public sources "
                    f"({', '.join(SOURCES)}), not {ds['source']!r}"
                )
