"""Hostile archives and folders: links that lead outside, bombs, truncation (issue 14)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
import source_archives as sa

from kdseg.data.sources import archive_checks, extract
from kdseg.data.sources.archive_checks import Limits
from kdseg.data.sources.extract import copy_folder, safe_extract
from kdseg.data.sources.obtain import convert_source, obtain_source
from kdseg.errors import KdsegError


def nothing_extracted(out: Path) -> bool:
    return not out.exists() or list(out.iterdir()) == []


def refused(archive: Path, out: Path, match: str, limits: Limits | None = None) -> str:
    """Extract ``archive`` into ``out/x``: it must be refused, in one line naming the archive,
    and leave nothing in ``out``."""
    with pytest.raises(KdsegError, match=match) as err:
        safe_extract(archive, out / "x", limits)
    message = str(err.value)
    assert message.startswith(f"{archive}: ") and "\n" not in message
    assert nothing_extracted(out)
    return message


# Links inside the archive ---------------------------------------------------------------------


def test_a_link_chain_beyond_path_max_cannot_write_outside(tmp_path):
    """The outside probe's escape: every link lexically inside, the data filter fooled."""
    archive = sa.tar_escaping_through_links(tmp_path / "chain.tar", up=3, name="evil.txt")
    out = tmp_path / "w" / "out"  # extracted into w/out/.x.*.tmp: three folders up is tmp_path
    refused(archive, out, r"member 'a/b/c/\S+' passes through the link 'a'")
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            [("a", "symlink", "."), ("a/evil.txt", "file", "x")],
            r"member 'a/evil.txt' passes through the link 'a'",
        ),
        (
            [("d/t", "symlink", "s/../x"), ("d/s", "symlink", ".."), ("x", "dir", "")],
            r"member 'd/t' is a link to 's/../x', which passes through the link 'd/s'",
        ),
        (
            [
                ("data/ok.txt", "file", "ok"),
                ("s", "symlink", "data"),
                ("h", "hardlink", "s/ok.txt"),
            ],
            r"member 'h' is a hard link to 's/ok.txt', which passes through the link 's'",
        ),
        (
            [("s", "symlink", "data"), ("s", "file", "evil")],
            r"member 's' would replace the link 's'",
        ),
        (
            [("data/ok.txt", "file", "ok"), ("h", "hardlink", "data/later.txt")],
            r"member 'h' is a hard link to 'data/later.txt', not to a file before it",
        ),
    ],
    ids=["through", "link-through", "hardlink-through", "replaces", "dangling"],
)
def test_paths_through_links_of_the_archive_are_refused(tmp_path, members, message):
    archive = sa.tar_of(tmp_path / "bad.tar", members)
    refused(archive, tmp_path / "out", message)


def test_what_the_data_filter_refused_is_named_not_called_corrupt(tmp_path):
    """Before, the standard library's refusal surfaced as 'truncated or corrupt archive'."""
    members = [("d/s", "symlink", ".."), ("d/t", "symlink", "s/../outside")]
    archive = sa.tar_of(tmp_path / "bad.tar", members)
    message = refused(
        archive,
        tmp_path / "out",
        r"member 'd/t' is a link to 's/../outside', which passes through the link 'd/s'",
    )
    assert "corrupt" not in message


def test_the_member_after_a_link_is_refused_even_when_the_link_comes_later(tmp_path):
    archive = sa.tar_of(tmp_path / "bad.tar", [("a/evil.txt", "file", "x"), ("a", "symlink", ".")])
    refused(archive, tmp_path / "out", r"member 'a/evil.txt' passes through the link 'a'")


def test_the_file_system_is_asked_too_before_each_write(tmp_path, monkeypatch):
    """A second line: with the checks switched off, writing through a link still stops."""
    monkeypatch.setattr(extract, "check_members", lambda archive, entries: None)
    outside = tmp_path / "outside"
    outside.mkdir()
    members = [("a", "symlink", str(outside)), ("a/evil.txt", "file", "evil")]
    archive = sa.tar_of(tmp_path / "bad.tar", members)
    refused(archive, tmp_path / "out", rf"member 'a/evil.txt' would be written to {outside}")
    assert list(outside.iterdir()) == []


def test_zip_member_through_a_zip_symlink_is_refused(tmp_path):
    archive = sa.zip_of(
        tmp_path / "bad.zip", [("a", "symlink", "."), ("a/evil.txt", "file", "evil")]
    )
    refused(archive, tmp_path / "out", r"member 'a/evil.txt' passes through the link 'a'")


def test_links_inside_the_archive_still_work(tmp_path):
    members = [
        ("data/ok.txt", "file", "ok"),
        ("data/alias.txt", "symlink", "ok.txt"),
        ("data/chained.txt", "symlink", "alias.txt"),
        ("folder", "symlink", "data"),
        ("copy.txt", "hardlink", "data/ok.txt"),
    ]
    out = safe_extract(sa.tar_of(tmp_path / "ok.tar", members), tmp_path / "out")
    assert (out / "data" / "chained.txt").read_text() == "ok"
    assert (out / "folder" / "ok.txt").read_text() == "ok"
    assert (out / "copy.txt").read_text() == "ok"
    zipped = sa.zip_of(tmp_path / "ok.zip", [("ok.txt", "file", "ok"), ("l", "symlink", "ok.txt")])
    assert (safe_extract(zipped, tmp_path / "z") / "l").read_text() == "ok"


def test_a_users_folder_with_a_link_chain_leading_outside_is_refused(tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "shallow").symlink_to(".")
    (folder / "a").symlink_to("shallow/../secret.txt")  # lexically train/secret.txt
    with pytest.raises(KdsegError, match=r"train/a: a link to 'shallow/../secret.txt'") as err:
        copy_folder(folder, tmp_path / "out" / "train")
    assert "\n" not in str(err.value) and str(tmp_path / "secret.txt") in str(err.value)
    assert nothing_extracted(tmp_path / "out")


def test_a_users_folder_with_links_inside_is_copied(tmp_path):
    folder = tmp_path / "train"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "ok.txt").write_text("ok")
    (folder / "here").symlink_to(".")
    (folder / "alias.txt").symlink_to("here/data/ok.txt")
    out = copy_folder(folder, tmp_path / "out")
    assert (out / "alias.txt").read_text() == "ok"


# Bombs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_an_archive_expanding_past_the_ratio_is_refused_before_writing(tmp_path, kind):
    archive = sa.zeros_archive(tmp_path / f"bomb.{kind}", 4 << 20)
    assert archive.stat().st_size < 20_000
    message = refused(archive, tmp_path / "out", r"declare", Limits(max_ratio=50))
    assert "extract.max_ratio" in message and "4,194,304 bytes" in message


def test_an_archive_expanding_past_max_bytes_is_refused(tmp_path):
    archive = sa.zeros_archive(tmp_path / "bomb.zip", 3 << 20)
    limits = Limits(max_bytes=2 << 20, max_ratio=1e6)
    message = refused(archive, tmp_path / "out", r"declare", limits)
    assert "extract.max_bytes = 2,097,152" in message


def test_bytes_written_are_counted_whatever_the_headers_declare(tmp_path, monkeypatch):
    """Headers that understate the sizes: writing stops at the limit, nothing is kept."""
    monkeypatch.setattr(archive_checks.Budget, "declare", lambda self, n: None)
    archive = sa.zeros_archive(tmp_path / "bomb.tar.gz", 4 << 20)
    message = refused(archive, tmp_path / "out", r"written", Limits(max_bytes=1 << 20))
    assert "member 'zeros.bin'" in message and "extract.max_bytes" in message


def test_a_small_archive_is_not_held_to_the_ratio(tmp_path):
    archive = sa.zeros_archive(tmp_path / "small.zip", 100_000)  # 1000 times, but 100 kB
    assert (safe_extract(archive, tmp_path / "out") / "zeros.bin").stat().st_size == 100_000


def test_obtain_passes_the_extract_limits(tmp_path):
    archive = sa.zeros_archive(tmp_path / "train.zip", 4 << 20)
    with pytest.raises(KdsegError, match=r"extract.max_ratio = 50"):
        obtain_source(
            "segthor",
            str(tmp_path / "sources" / "segthor"),
            manual_path=str(archive),
            extract={"max_bytes": 1 << 40, "max_ratio": 50.0},
        )
    assert nothing_extracted(tmp_path / "sources")


# Truncation -----------------------------------------------------------------------------------


@pytest.fixture
def whole_tar(tmp_path) -> Path:
    return sa.tar_of(tmp_path / "whole.tar", [("a.txt", "file", "a" * 700), ("b.txt", "file", "b")])


@pytest.mark.parametrize("extra", [0, 100], ids=["at-the-boundary", "in-the-end-marker"])
def test_a_tar_cut_at_a_member_boundary_is_refused(tmp_path, whole_tar, extra):
    cut = sa.without_end_marker(whole_tar, tmp_path / "cut.tar", extra)
    refused(cut, tmp_path / "out", r"truncated or corrupt archive: it ends after member 'b.txt'")


def test_a_whole_gzip_stream_of_a_cut_tar_is_refused(tmp_path, whole_tar):
    cut = sa.without_end_marker(whole_tar, tmp_path / "cut.tar")
    gz = tmp_path / "cut.tar.gz"
    gz.write_bytes(gzip.compress(cut.read_bytes()))
    refused(gz, tmp_path / "out", r"truncated or corrupt archive: it ends after member 'b.txt'")


def test_a_tar_of_only_its_end_marker_is_empty_not_truncated(tmp_path):
    empty = sa.tar_of(tmp_path / "empty.tar", [])
    assert list(safe_extract(empty, tmp_path / "out").iterdir()) == []


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")
@pytest.mark.parametrize("flags", ["-cf", "-czf", "--format=posix -cf", "--format=gnu -cf"])
def test_archives_written_by_gnu_tar_are_whole(tmp_path, flags):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a.txt").write_text("a" * 3000)
    (tree / "b.txt").write_text("b")
    (tree / "link").symlink_to("sub/a.txt")
    archive = tmp_path / "gnu.tar"
    subprocess.run(["tar", *flags.split(), str(archive), "-C", str(tree), "."], check=True)
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "link").read_text() == "a" * 3000 and (out / "b.txt").read_text() == "b"


def test_a_zip_member_with_a_bad_crc_is_named(tmp_path):
    archive = tmp_path / "crc.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/ok.txt", "hello world")
    data = archive.read_bytes().replace(b"hello world", b"hello WORLD")
    archive.write_bytes(data)
    refused(archive, tmp_path / "out", r"member 'data/ok.txt'.*(CRC|corrupt)")


def test_tarfile_is_only_read(tmp_path):
    """kdseg writes every member itself: the standard library's extraction is never used."""
    archive = sa.tar_of(tmp_path / "ok.tar", [("ok.txt", "file", "ok")])

    def forbidden(*args, **kwargs):
        raise AssertionError("tarfile extraction used")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tarfile.TarFile, "extractall", forbidden)
        mp.setattr(tarfile.TarFile, "extract", forbidden)
        mp.setattr(zipfile.ZipFile, "extractall", forbidden)
        assert (safe_extract(archive, tmp_path / "out") / "ok.txt").read_text() == "ok"


# Paths named by a file of the archive (issue 31, item 1) ---------------------------------------


def mine(archive: Path) -> dict:
    """The digest of a test's own archive (it replaces the published one, as a mirror's md5)."""
    return {archive.name: {"md5": hashlib.md5(archive.read_bytes()).hexdigest()}}


def _decathlon_source(tmp_path: Path, edit) -> Path:
    """An obtained Task05 folder whose dataset.json is changed by ``edit`` (the task dict)."""
    tar = sa.decathlon(tmp_path, "Task05_Prostate")
    folder = tmp_path / "sources" / "msd_prostate"
    obtain_source("msd_prostate", str(folder), downloads=[str(tar)], digests=mine(tar))
    task_json = folder / "Task05_Prostate" / "Task05_Prostate" / "dataset.json"
    task = json.loads(task_json.read_text())
    edit(task)
    task_json.write_text(json.dumps(task))
    return folder


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "elsewhere" / "secret.nii.gz"
    sa.label(secret, 0, [0, 1])
    return secret


@pytest.mark.parametrize("relative", [False, True])
def test_a_dataset_json_entry_outside_the_folder_is_refused(tmp_path, relative):
    """Before: the absolute path's file was copied byte for byte into labelsTr."""
    secret = _secret(tmp_path)
    value = str(secret) if not relative else "../../../../elsewhere/secret.nii.gz"

    def edit(task):
        task["training"][0]["label"] = value

    folder = _decathlon_source(tmp_path, edit)
    out = tmp_path / "raw" / "Dataset105_Prostate"
    with pytest.raises(KdsegError, match=r"training\[0\]\.label names .* outside the source"):
        convert_source("msd_prostate", str(folder), str(out))
    assert not out.exists()


def test_a_dataset_json_entry_that_is_not_a_path_is_one_line(tmp_path):
    def edit(task):
        task["training"][1]["image"] = 7

    folder = _decathlon_source(tmp_path, edit)
    with pytest.raises(KdsegError, match=r"training\[1\]\.image is not a path: 7"):
        convert_source("msd_prostate", str(folder), str(tmp_path / "raw" / "x"))


def test_a_link_in_a_source_folder_to_a_file_outside_is_not_copied(tmp_path):
    """Every converter: a file the writer copies must resolve inside the source folder."""
    sa.segthor(tmp_path)
    folder = tmp_path / "sources" / "segthor"
    shutil.copytree(tmp_path / "segthor_tree", folder)
    gt = folder / "train" / "Patient_02" / "GT.nii.gz"
    gt.unlink()
    gt.symlink_to(_secret(tmp_path))
    out = tmp_path / "raw" / "Dataset101_SegTHOR"
    with pytest.raises(KdsegError, match=r"GT.nii.gz resolves to .*secret.nii.gz, outside the"):
        convert_source("segthor", str(folder), str(out))
    assert not out.exists()


@pytest.mark.parametrize("override", [False, True])
def test_a_present_download_with_a_wrong_digest_is_refused_before_use(tmp_path, override):
    """Before: an archive already in data/downloads/<source>/ was extracted unchecked."""
    tar = sa.decathlon(tmp_path, "Task05_Prostate")  # not the published file
    folder = tmp_path / "sources" / "msd_prostate"
    digests = {tar.name: {"md5": None, "sha256": "0" * 64}} if override else None
    algorithm = "sha256" if override else "md5"
    with pytest.raises(KdsegError, match=rf"Task05_Prostate.tar: {algorithm} \w+ does not match"):
        obtain_source("msd_prostate", str(folder), downloads=[str(tar)], digests=digests)
    assert not folder.exists() and nothing_extracted(folder.parent)


def test_a_present_download_with_its_digest_is_used(tmp_path):
    tar = sa.decathlon(tmp_path, "Task05_Prostate")
    digest = hashlib.sha256(tar.read_bytes()).hexdigest()
    folder = tmp_path / "sources" / "msd_prostate"
    digests = {tar.name: {"md5": "0" * 32, "sha256": digest}}  # sha256 is checked first
    obtain_source("msd_prostate", str(folder), downloads=[str(tar)], digests=digests)
    record = json.loads((folder / "SOURCE.json").read_text())
    assert record["files"] == {tar.name: digest}


# Special files in a user's folder (issue 31, item 11) ------------------------------------------


@pytest.mark.parametrize("where", ["top", "nested"])
def test_a_fifo_in_a_users_folder_is_one_line(tmp_path, where):
    """Before: a traceback (or a read that blocks)."""
    given = tmp_path / "given"
    sa.segthor(tmp_path)
    shutil.copytree(tmp_path / "segthor_tree", given)
    fifo = given / "pipe" if where == "top" else given / "train" / "Patient_01" / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "sources" / "segthor"
    with pytest.raises(KdsegError) as err:
        obtain_source("segthor", str(folder), manual_path=str(given))
    message = str(err.value)
    assert message.startswith(f"{fifo}: not a regular file") and "\n" not in message
    assert not folder.exists()


def test_a_fifo_in_a_users_raw_folder_is_one_line(tiny_raw):
    """``source: raw``: validation names the fifo instead of blocking on it."""
    from kdseg.data.validate import validate_raw_dataset

    label = sorted((tiny_raw / "labelsTr").iterdir())[1]
    label.unlink()
    os.mkfifo(label)
    with pytest.raises(KdsegError) as err:
        validate_raw_dataset(tiny_raw)
    message = str(err.value)
    assert message.startswith(f"{label}: not a regular file") and "\n" not in message
