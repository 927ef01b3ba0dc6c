"""Provenance stamped into results: package versions, host, time, config, seed."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
from typing import Any

_PACKAGES = ("kdseg", "torch", "monai", "numpy", "scipy", "nibabel", "snakemake")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(config: dict[str, Any] | None = None, seed: int | None = None) -> dict[str, Any]:
    """A record of how a result was made."""
    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "host": platform.node(),
        "versions": package_versions(),
        "seed": seed,
        "config": config,
    }
