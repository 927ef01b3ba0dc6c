"""What kdseg knows about one public data source: where it comes from and how to convert it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kdseg.data.sources.raw_writer import RawDatasetWriter

# convert(source folder, writer, options) -> (channel names, labels {name: value})
Converter = Callable[[Path, RawDatasetWriter, Mapping[str, Any]], tuple[list[str], dict[str, int]]]


@dataclass(frozen=True)
class Download:
    """One published file: its URL, the name it is saved under, and its md5 or sha256 when
    published. ``place``: for a file that is not an archive, where it goes inside the source
    folder; ``subset``: the converter subset it holds (downloaded only for a study that
    converts that subset; None: always)."""

    url: str
    filename: str
    md5: str | None = None
    place: str | None = None
    sha256: str | None = None
    subset: str | None = None


@dataclass(frozen=True)
class Source:
    """A public dataset: open (``downloads``) or behind a registration (``manual``: the file
    a user downloads by hand from ``website``). An open source with a ``manual`` text also
    takes a user's own copy (``sources.<name>.path``, e.g. the challenge's release)."""

    name: str
    title: str
    website: str
    raw_name: str
    convert: Converter
    layout: str
    downloads: tuple[Download, ...] = ()
    manual: str = ""
    why_manual: str = "it needs a registration"
    options: Mapping[str, Any] = field(default_factory=dict)
    # list options whose values must each be one of these (checked while the config is read)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return bool(self.downloads)

    def instructions(self, where: str | Path) -> str:
        """The one-line message for a registration-only source that is not where it should be."""
        return (
            f"{self.title} is not at {where}: {self.why_manual}, so kdseg cannot download "
            f"it. Get {self.manual} from {self.website} and put it at {where} (or set "
            f"'sources.{self.name}.path' to where you keep it; an extracted folder works too)."
        )
