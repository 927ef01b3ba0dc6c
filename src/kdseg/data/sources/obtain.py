"""Obtaining a source's files (``data/sources/<source>/``) and converting them to nnU-Net v2.

Open sources come from their downloaded archives (one download job per file, see
:mod:`download`); registration-only sources from the archive or folder the user put at the
configured path. Both steps build their output in a temporary folder that takes its final name
only when complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kdseg.data.sources.archive_checks import Limits
from kdseg.data.sources.download import file_digest, md5sum, pinned
from kdseg.data.sources.extract import copy_folder, is_archive, safe_extract
from kdseg.data.sources.raw_writer import RawDatasetWriter
from kdseg.data.sources.registry import source_named
from kdseg.errors import KdsegError
from kdseg.runtime.atomic import atomic_dir, write_json
from kdseg.runtime.locks import reading

log = logging.getLogger("kdseg")
ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".zip")


def archive_stem(path: Path) -> str:
    """The folder an archive is extracted into: its name without archive suffixes."""
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        name = name.removesuffix(suffix)
    return name or path.name


def looks_like_archive(path: Path) -> bool:
    """An archive by content, or by name (so a truncated one is refused, not copied)."""
    return path.name.endswith(ARCHIVE_SUFFIXES) or is_archive(path)


def _place(file: Path, dest: Path) -> None:
    """A downloaded non-archive file at ``dest`` (a hard link where possible, else a copy)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(file, dest)
    except OSError:
        shutil.copyfile(file, dest)


def _regular(entry: Path) -> None:
    """Refuse a fifo, device or socket in a user's folder (reading a fifo would block)."""
    mode = entry.lstat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
        raise KdsegError(
            f"{entry}: not a regular file or folder (a fifo, device or socket); kdseg reads "
            "only files and folders from a source"
        )


def verify(file: Path, spec: Mapping[str, Any], source: str) -> str:
    """Check a downloaded (or hand-placed) file against its known digest before anything is
    derived from it; returns the digest checked ('' where none is known)."""
    known = pinned(spec.get("md5"), spec.get("sha256"))
    if known is None:
        log.info("%s: no published checksum to verify (%s)", file, source)
        return ""
    algorithm, expected = known
    got = file_digest(file, algorithm)
    if got != expected:
        raise KdsegError(
            f"{file}: {algorithm} {got} does not match the published {expected} (a file placed "
            f"by hand, or changed since it was downloaded): delete it to download it again, or "
            f"set 'sources.{source}.{algorithm}.{file.name}' for another version; nothing was "
            "extracted"
        )
    log.info("%s: %s verified", file, algorithm)
    return expected


def obtain_source(
    source: str,
    out_dir: str,
    downloads: Sequence[str] = (),
    manual_path: str = "",
    extract: Mapping[str, Any] | None = None,
    marker: str | None = None,
    digests: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Fill ``out_dir`` with the source's files: each downloaded archive, verified against its
    known digest (``digests``: {file name: {md5, sha256}}, the config's overrides included;
    default the published ones), extracted into a folder of its name (other files placed where
    the source says); else what the user put at ``manual_path`` (a registration-only source,
    or the user's own copy of an open one): an archive, or a folder whose archives are
    extracted and whose other entries are copied. ``extract``: the config's limits on what an
    archive may expand to (``max_bytes``, ``max_ratio``). ``SOURCE.json`` records files and
    digests; ``marker`` (the workflow's output, see :func:`write_marker`) is written last."""
    src = source_named(source)
    out = Path(out_dir)
    limits = Limits(**(extract or {}))
    record: dict[str, Any] = {"source": src.name, "website": src.website, "files": {}}
    published = {d.filename: {"md5": d.md5, "sha256": d.sha256} for d in src.downloads}
    with atomic_dir(out) as tmp:
        if src.is_open and not manual_path:
            by_name = {d.filename: d for d in src.downloads}
            for i, name in enumerate(downloads, 1):
                file, spec = Path(name), by_name[Path(name).name]
                digest = verify(file, (digests or published).get(file.name, {}), src.name)
                if spec.place:
                    _place(file, tmp / spec.place)
                else:
                    safe_extract(file, tmp / archive_stem(file), limits)
                record["files"][file.name] = digest
                if i % 20 == 0 or i == len(downloads):
                    log.info("%s: %d/%d files in place", src.name, i, len(downloads))
        else:
            where = Path(manual_path)
            entries = sorted(where.iterdir()) if where.is_dir() else [where] * where.exists()
            entries = [e for e in entries if not e.name.startswith(".")]
            if not entries and src.is_open:
                raise KdsegError(
                    f"{where}: not found or empty ('sources.{src.name}.path', your own copy of "
                    f"{src.title}; leave the key out to download it)"
                )
            if not entries:
                raise KdsegError(src.instructions(where))
            for entry in entries:
                _regular(entry)
                if entry.is_dir():
                    copy_folder(entry, tmp / entry.name)
                    record["files"][str(entry)] = "folder"
                elif where.is_file() or looks_like_archive(entry):
                    safe_extract(entry, tmp / archive_stem(entry), limits)
                    record["files"][str(entry)] = md5sum(entry)
                else:
                    shutil.copyfile(entry, tmp / entry.name)
                    record["files"][str(entry)] = md5sum(entry)
        (tmp / "SOURCE.json").write_text(json.dumps(record, indent=2) + "\n")
    write_marker(marker, out, record)


def write_marker(marker: str | None, folder: Path, record: Mapping[str, Any]) -> None:
    """The workflow's output for a shared data folder: a small JSON file beside it.

    The folders under ``data_dir`` are shared between studies, so they are not Snakemake
    outputs: Snakemake deletes a job's existing outputs before running it, without the locks
    that protect readers in other studies. The folder is replaced under its lock
    (:func:`kdseg.runtime.atomic.atomic_dir`); the marker says it is complete.
    """
    if marker:
        write_json(marker, {"folder": str(folder), **record})


def convert_source(
    source: str,
    source_dir: str,
    out_dir: str,
    options: Mapping[str, Any] | None = None,
    marker: str | None = None,
) -> dict:
    """Convert an obtained source into an nnU-Net v2 raw dataset at ``out_dir``, reading the
    source folder under its shared lock (another study may want to replace it)."""
    src = source_named(source)
    settings = {**src.options, **(options or {})}
    out = Path(out_dir)
    with reading(source_dir), atomic_dir(out) as tmp:
        writer = RawDatasetWriter(tmp, Path(source_dir))
        channels, labels = src.convert(Path(source_dir), writer, settings)
        data = writer.finish(
            out.name,
            channels,
            labels,
            {"source": src.name, "website": src.website, "options": settings},
        )
    log.info("%s: %d cases converted into %s", src.title, data["numTraining"], out)
    write_marker(marker, out, {"source": src.name, "cases": data["numTraining"]})
    return data
