"""The public data sources kdseg can download (or find) and convert, by name."""

from __future__ import annotations

from kdseg.data.sources import acdc, decathlon, kits19, mrbrains18, multisite_prostate, segthor
from kdseg.data.sources.base import Source
from kdseg.errors import ConfigError

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        segthor.SOURCE,
        mrbrains18.SOURCE,
        acdc.SOURCE,
        decathlon.PROSTATE,
        decathlon.LIVER,
        multisite_prostate.SOURCE,
        kits19.SOURCE,
    )
}


def source_named(name: str) -> Source:
    """The source called ``name``; an unknown name is a one-line error listing the known."""
    if name not in SOURCES:
        raise ConfigError(f"unknown data source '{name}' (known: {', '.join(SOURCES)})")
    return SOURCES[name]
