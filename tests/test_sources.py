"""Public data sources: downloads, safe extraction, converters, case-metadata splits."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import source_archives as sa

from kdseg.data.sources.download import download
from kdseg.data.sources.extract import safe_extract
from kdseg.data.sources.obtain import convert_source, obtain_source
from kdseg.data.sources.registry import SOURCES
from kdseg.data.splits import make_splits
from kdseg.data.study_data import check_data, validate_study
from kdseg.errors import ConfigError, KdsegError


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary files or folders left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# Downloads ------------------------------------------------------------------------------------


class FlakyServer:
    """A local HTTP server whose first ``failures`` requests get 503 (then the file)."""

    def __init__(self, payload: bytes, failures: int = 0, status: int = 503) -> None:
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                if outer.requests <= failures:
                    self.send_error(status)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/Task05_Prostate.tar"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


PAYLOAD = b"kdseg" * 1000
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


def test_download_retries_transient_failures_and_checks_md5(tmp_path):
    server = FlakyServer(PAYLOAD, failures=2)
    try:
        dest = download(server.url, tmp_path / "a.tar", PAYLOAD_MD5, retries=2, backoff_s=0)
    finally:
        server.close()
    assert server.requests == 3
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == []


def test_download_gives_up_after_retries_and_keeps_nothing(tmp_path):
    server = FlakyServer(PAYLOAD, failures=10)
    try:
        with pytest.raises(KdsegError, match=r"download failed after 2 attempts.*503"):
            download(server.url, tmp_path / "a.tar", retries=1, backoff_s=0)
    finally:
        server.close()
    assert list(tmp_path.iterdir()) == []


def test_download_does_not_retry_a_missing_file(tmp_path):
    server = FlakyServer(PAYLOAD, failures=10, status=404)
    try:
        with pytest.raises(KdsegError, match="HTTP 404"):
            download(server.url, tmp_path / "a.tar", retries=3, backoff_s=0)
    finally:
        server.close()
    assert server.requests == 1


def test_download_checksum_mismatch_keeps_nothing(tmp_path):
    server = FlakyServer(PAYLOAD)
    try:
        with pytest.raises(KdsegError, match=r"md5 .* does not match the published 0{32}"):
            download(server.url, tmp_path / "a.tar", "0" * 32, retries=0)
    finally:
        server.close()
    assert list(tmp_path.iterdir()) == []


def test_download_checks_sha256_before_md5(tmp_path):
    server = FlakyServer(PAYLOAD)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    try:
        download(server.url, tmp_path / "a.tar", "0" * 32, sha256=digest.upper(), retries=0)
        with pytest.raises(KdsegError, match=rf"sha256 {digest} does not match the published 1"):
            download(server.url, tmp_path / "b.tar", PAYLOAD_MD5, sha256="1" * 64, retries=0)
    finally:
        server.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar"]


def serve(handler: type, filename: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A local HTTP server with ``handler`` in a daemon thread, and the URL of ``filename``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/{filename}"


def close(server: http.server.ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


class EndlessServer:
    """A local HTTP server that sends an endless body, with no Content-Length (or a false
    ``declared`` one)."""

    def __init__(self, declared: int | None = None) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                self.send_response(200)
                if declared is not None:
                    self.send_header("Content-Length", str(declared))
                self.end_headers()
                try:
                    while True:
                        self.wfile.write(b"x" * 65536)
                except OSError:  # the client gave up
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server, self.url = serve(Handler, "SegTHOR.zip")

    def close(self) -> None:
        close(self.server)


def test_an_endless_body_stops_at_max_bytes_and_keeps_nothing(tmp_path):
    """Before: an endless body filled the disk."""
    server = EndlessServer()
    try:
        with pytest.raises(KdsegError, match=r"more than 1,000,000 bytes arrived \(download\.max"):
            download(server.url, tmp_path / "a.zip", retries=2, max_bytes=1_000_000)
    finally:
        server.close()
    assert list(tmp_path.iterdir()) == []


def test_a_declared_size_beyond_max_bytes_is_refused_before_reading(tmp_path):
    server = EndlessServer(declared=5_000_000)
    try:
        with pytest.raises(KdsegError, match=r"declares 5,000,000 bytes, more than download"):
            download(server.url, tmp_path / "a.zip", retries=0, max_bytes=1_000_000)
    finally:
        server.close()
    assert list(tmp_path.iterdir()) == []


def test_a_local_file_longer_than_max_bytes_is_refused(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(3000))
    with pytest.raises(KdsegError, match=r"declares 3,000 bytes, more than download.max_bytes"):
        download(big.as_uri(), tmp_path / "out" / "a.bin", max_bytes=1000)


def test_a_redirect_to_another_scheme_is_refused(tmp_path):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1:9/a.tar")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(KdsegError, match=r"redirected to ftp://127.0.0.1:9/a.tar: URL scheme"):
            download(f"http://127.0.0.1:{server.server_port}/a.tar", tmp_path / "a.tar")
    finally:
        server.shutdown()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["ftp://example.org/a.tar", "data:,hello", "gopher://x/a"])
def test_other_url_schemes_are_refused(tmp_path, url):
    with pytest.raises(KdsegError, match=r"URL scheme '\w+' is not allowed \(only https, http"):
        download(url, tmp_path / "a.tar")
    assert list(tmp_path.iterdir()) == []


class TrickleServer:
    """A local HTTP server that announces ``size`` bytes and sends one every ``pause`` s."""

    def __init__(self, size: int = 100, pause: float = 0.2) -> None:
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                try:
                    for _ in range(size):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(pause)
                except OSError:  # the client gave up
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server, self.url = serve(Handler, "Task05_Prostate.tar")

    def close(self) -> None:
        close(self.server)


def test_a_trickling_download_stops_at_max_seconds_and_keeps_nothing(tmp_path):
    server = TrickleServer()
    try:
        with pytest.raises(KdsegError, match=r"not complete within 1 s \(download.max_seconds\)"):
            download(server.url, tmp_path / "a.tar", retries=3, backoff_s=0, max_seconds=1.0)
    finally:
        server.close()
    assert server.requests == 1
    assert list(tmp_path.iterdir()) == []


def test_max_seconds_bounds_all_attempts_together(tmp_path):
    server = FlakyServer(PAYLOAD, failures=1000)
    try:
        # 3 s: time for several attempts on a busy machine (0.5 s failed under a load of 10)
        with pytest.raises(KdsegError, match=r"not complete within 3 s .*HTTP 503"):
            download(server.url, tmp_path / "a.tar", retries=1000, backoff_s=0.05, max_seconds=3)
    finally:
        server.close()
    assert 1 < server.requests < 1000
    assert list(tmp_path.iterdir()) == []


def test_a_missing_local_file_is_not_retried(tmp_path, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    missing = tmp_path / "mirror" / "Task05_Prostate.tar"
    with pytest.raises(KdsegError) as err:
        download(f"file://{missing}", tmp_path / "dl" / "a.tar", retries=3, backoff_s=5)
    message = str(err.value)
    assert str(missing) in message and "no such file" in message and "\n" not in message
    assert waits == []
    assert not (tmp_path / "dl").exists() or list((tmp_path / "dl").iterdir()) == []


# Safe extraction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "link", "message"),
    [
        ("../evil.txt", None, "member '../evil.txt' would be written outside"),
        ("data/../../evil.txt", None, "outside the target"),
        ("/etc/evil.txt", None, "member '/etc/evil.txt' would be written outside"),
        ("data/link", "../../outside", "is a link to '../../outside', outside the target"),
        ("data/abs", "/etc/passwd", "is a link to '/etc/passwd'"),
    ],
)
def test_unsafe_tar_members_are_refused_and_nothing_is_written(tmp_path, name, link, message):
    archive = sa.tar_with_member(tmp_path / "bad.tar", name, link)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KdsegError, match=message) as err:
        safe_extract(archive, out / "x")
    assert str(archive) in str(err.value)
    assert list(out.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_a_link_inside_the_target_is_extracted(tmp_path):
    archive = sa.tar_with_member(tmp_path / "ok.tar", "data/alias.txt", "ok.txt")
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "data" / "alias.txt").read_text() == "ok"


def test_zip_member_escaping_the_target_is_refused(tmp_path):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/ok.txt", "ok")
        zf.writestr("../evil.txt", "evil")
    with pytest.raises(KdsegError, match=r"'../evil.txt' would be written outside"):
        safe_extract(archive, tmp_path / "out" / "x")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_zip_symlink_to_outside_is_refused(tmp_path):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("data/link")
        info.external_attr = (0o120777) << 16
        zf.writestr(info, "../../secret")
    with pytest.raises(KdsegError, match=r"is a link to '../../secret'"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_truncated_archives_are_refused_and_nothing_is_left(tmp_path, kind):
    tree = tmp_path / "tree"
    for i in range(4):
        sa.image(tree / f"case{i}.nii.gz", i)
        (tree / f"noise{i}.bin").write_bytes(np.random.default_rng(i).bytes(20000))
    if kind == "zip":
        whole = sa.zip_folder(tree, tmp_path / "whole.zip")
    else:
        whole = tmp_path / f"whole.{kind}"
        with tarfile.open(whole, "w:gz" if kind == "tar.gz" else "w") as tar:
            tar.add(tree, "tree")
    cut = sa.truncated(whole, tmp_path / f"cut.{kind}")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KdsegError, match=r"cut\.\S+: (truncated or corrupt|not a zip or tar)"):
        safe_extract(cut, out / "x")
    assert list(out.iterdir()) == []


def test_not_an_archive(tmp_path):
    (tmp_path / "a.zip").write_text("hello")
    with pytest.raises(KdsegError, match=r"a.zip: not a zip or tar archive"):
        safe_extract(tmp_path / "a.zip", tmp_path / "out")


# Converters ------------------------------------------------------------------------------------


def converted(tmp_path: Path, source: str, archive: Path, **options) -> Path:
    """Obtain (from a user's archive or a downloaded one) and convert; the raw folder."""
    src = SOURCES[source]
    kwargs = (
        {"downloads": [str(archive)], "digests": {archive.name: {"md5": md5(archive)}}}
        if src.is_open and archive.name in {d.filename for d in src.downloads}
        else {"manual_path": str(archive)}
    )
    obtain_source(source, str(tmp_path / "sources" / source), **kwargs)
    out = tmp_path / "raw" / src.raw_name
    convert_source(source, str(tmp_path / "sources" / source), str(out), options)
    return out


def dataset_json(root: Path) -> dict:
    return json.loads((root / "dataset.json").read_text())


def test_segthor_files_are_copied_byte_for_byte(tmp_path):
    raw = converted(tmp_path, "segthor", sa.segthor(tmp_path))
    info = dataset_json(raw)
    assert info["labels"] == {"background": 0, "esophagus": 1, "heart": 2, "trachea": 3, "aorta": 4}
    assert info["numTraining"] == 4 and info["channel_names"] == {"0": "CT"}
    assert info["kdseg_conversion"]["source"] == "segthor"
    src = tmp_path / "segthor_tree" / "train" / "Patient_03"
    assert (raw / "imagesTr" / "Patient_03_0000.nii.gz").read_bytes() == (
        src / "Patient_03.nii.gz"
    ).read_bytes()
    assert (raw / "labelsTr" / "Patient_03.nii.gz").read_bytes() == (src / "GT.nii.gz").read_bytes()


def test_acdc_ed_and_es_are_cases_of_one_patient(tmp_path):
    raw = converted(tmp_path, "acdc", sa.acdc(tmp_path))
    info = dataset_json(raw)
    assert sorted(info["case_metadata"]) == [
        f"patient{n:03d}_{p}" for n in (1, 2, 3, 101) for p in ("ED", "ES")
    ]
    assert info["case_metadata"]["patient002_ES"] == {
        "patient": "patient002",
        "phase": "ES",
        "group": "DCM",
        "subset": "training",
    }
    # the ES frame of patient002 is frame 08 (Info.cfg), not the 4D series
    frame = tmp_path / "acdc_tree/ACDC/database/training/patient002/patient002_frame08.nii.gz"
    assert (raw / "imagesTr" / "patient002_ES_0000.nii.gz").read_bytes() == frame.read_bytes()
    only_training = converted(tmp_path / "t", "acdc", sa.acdc(tmp_path / "t"), subsets=["training"])
    assert dataset_json(only_training)["numTraining"] == 6


def test_acdc_info_without_es_is_a_clear_error(tmp_path):
    folder = tmp_path / "ACDC" / "training" / "patient001"
    folder.mkdir(parents=True)
    (folder / "Info.cfg").write_text("ED: 1\nGroup: NOR\n")
    with pytest.raises(KdsegError, match=r"patient001/Info.cfg: 'ES: <frame number>' is missing"):
        converted(tmp_path, "acdc", tmp_path / "ACDC")
    assert not (tmp_path / "raw" / "Dataset103_ACDC").exists()


def test_mrbrains18_labels_merge_through_the_documented_map(tmp_path):
    raw = converted(tmp_path, "mrbrains18", sa.mrbrains18(tmp_path))
    info = dataset_json(raw)
    assert info["channel_names"] == {"0": "T1", "1": "T1-IR", "2": "FLAIR"}
    assert list(info["labels"]) == [
        "background",
        "cortical_gray_matter",
        "basal_ganglia",
        "white_matter",
        "csf",
        "ventricles",
        "cerebellum_brainstem",
    ]
    source = nib.load(tmp_path / "mrbrains_tree/training/070/segm.nii.gz")
    out = nib.load(raw / "labelsTr" / "subject070.nii.gz")
    np.testing.assert_array_equal(out.affine, source.affine)
    np.testing.assert_array_equal(out.header.get_zooms(), source.header.get_zooms())
    expected = np.array([0, 1, 2, 3, 3, 4, 5, 6, 6, 0, 0])[np.asarray(source.dataobj)]
    np.testing.assert_array_equal(np.asarray(out.dataobj), expected)
    flair = tmp_path / "mrbrains_tree/training/070/pre/FLAIR.nii.gz"
    assert (raw / "imagesTr" / "subject070_0002.nii.gz").read_bytes() == flair.read_bytes()


def test_a_label_value_outside_the_map_names_the_file(tmp_path):
    archive = sa.mrbrains18(tmp_path)
    with pytest.raises(KdsegError, match=r"segm.nii.gz: label values \[9, 10\] are not in"):
        converted(tmp_path, "mrbrains18", archive, label_map={i: "x" for i in range(9)})
    assert not (tmp_path / "raw" / "Dataset102_MRBrainS18").exists()


def test_decathlon_prostate_splits_4d_images_into_channels(tmp_path):
    raw = converted(tmp_path, "msd_prostate", sa.decathlon(tmp_path, "Task05_Prostate"))
    info = dataset_json(raw)
    assert info["channel_names"] == {"0": "T2", "1": "ADC"}
    assert info["labels"] == {"background": 0, "PZ": 1, "TZ": 2}
    assert sorted(info["case_metadata"]) == [
        "prostate_00",
        "prostate_01",
        "prostate_02",
        "prostate_04",
    ]
    source = nib.load(tmp_path / "Task05_Prostate_tree/Task05_Prostate/imagesTr/prostate_02.nii.gz")
    for c in range(2):
        channel = nib.load(raw / "imagesTr" / f"prostate_02_000{c}.nii.gz")
        assert channel.shape == sa.SHAPE
        np.testing.assert_array_equal(channel.affine, source.affine)
        np.testing.assert_array_equal(
            np.asarray(channel.dataobj), np.asarray(source.dataobj)[..., c]
        )
    assert not any(p.name.startswith("._") for p in (raw / "imagesTr").iterdir())


def test_multisite_prostate_keeps_the_site_and_merges_zones(tmp_path):
    raw = converted(tmp_path, "multisite_prostate", sa.multisite_prostate(tmp_path))
    info = dataset_json(raw)
    assert info["numTraining"] == sum(sa.SITES.values())
    assert info["case_metadata"]["BMC_Case01"]["site"] == "BMC"  # spelled _Segmentation
    zones = np.asarray(nib.load(raw / "labelsTr" / "I2CVB_Case00.nii.gz").dataobj)
    assert set(np.unique(zones)) == {0, 1}
    some = converted(
        tmp_path / "s",
        "multisite_prostate",
        sa.multisite_prostate(tmp_path / "s"),
        sites=["HK", "UCL"],
    )
    assert sorted(dataset_json(some)["case_metadata"]) == [
        "HK_Case00",
        "HK_Case01",
        "UCL_Case00",
        "UCL_Case01",
        "UCL_Case02",
    ]


def test_a_missing_registration_source_names_the_website_and_the_place(tmp_path):
    with pytest.raises(KdsegError) as err:
        obtain_source(
            "multisite_prostate",
            str(tmp_path / "sources/multisite_prostate"),
            manual_path=str(tmp_path / "dl"),
        )
    message = str(err.value)
    assert "liuquande.github.io/SAML" in message
    assert "Processed_data_nii.zip" in message and str(tmp_path / "dl") in message
    assert "\n" not in message
    assert not (tmp_path / "sources").exists() or leftovers(tmp_path / "sources") == []


def test_an_extracted_folder_works_as_the_users_copy(tmp_path):
    sa.segthor(tmp_path)
    raw = converted(tmp_path, "segthor", tmp_path / "segthor_tree" / "train")
    assert dataset_json(raw)["numTraining"] == 4


# The paper's datasets, downloaded in their real layouts (issue 29) --------------------------


def test_the_papers_datasets_are_open_and_pinned_by_sha256():
    """URLs and digests as torch-em's loaders publish them (docs/datasets.md cites them)."""
    pins = {d.filename: (d.url, d.sha256) for name in ("segthor", "mrbrains18", "acdc")
            for d in SOURCES[name].downloads}  # fmt: skip
    assert pins == {
        "SegTHOR.zip": (
            "https://zenodo.org/records/16663661/files/SegTHOR.zip",
            "5dba9bcc681c895b7d7b59cf5a26cae570bc8bba02c74f9cb128f3292410fb15",
        ),
        "training.zip": (
            "https://dataverse.nl/api/access/datafile/402709",
            "c29b133c0d0e7486563d3a92f09e3ae67986880130bb8a91096fc1fdf0c93e95",
        ),
        "test.zip": (
            "https://dataverse.nl/api/access/datafile/402708",
            "1576500224bd98ef66fa0277af13bd304ed491974a0de96006f6779e5363d3dd",
        ),
        "ACDC.zip": (
            "https://humanheart-project.creatis.insa-lyon.fr/database/api/v1/collection/"
            "637218c173e9f0047faa00fb/download",
            "2787e08b0d3525cbac710fc3bdf69ee7c5fd7446472e49db8bc78548802f6b5e",
        ),
    }


def test_segthor_from_its_zenodo_copy(tmp_path):
    raw = converted(tmp_path, "segthor", sa.segthor(tmp_path, 3, copy="zenodo"))
    assert sorted(dataset_json(raw)["case_metadata"]) == ["Patient_01", "Patient_02", "Patient_03"]
    src = tmp_path / "segthor_zenodo_tree" / "SegTHOR" / "Patient_02" / "GT.nii.gz"
    assert (raw / "labelsTr" / "Patient_02.nii.gz").read_bytes() == src.read_bytes()


def test_a_hand_placed_download_is_checked_against_the_published_sha256(tmp_path):
    """A SegTHOR.zip put into data/downloads/segthor/ by hand that is not the published file."""
    placed = sa.segthor(tmp_path, copy="zenodo")
    with pytest.raises(KdsegError) as err:
        obtain_source("segthor", str(tmp_path / "sources" / "segthor"), downloads=[str(placed)])
    message = str(err.value)
    assert message.startswith(f"{placed}: sha256 ") and "\n" not in message
    assert "does not match the published 5dba9bcc681c895b" in message
    assert "'sources.segthor.sha256.SegTHOR.zip'" in message
    assert not (tmp_path / "sources").exists() or leftovers(tmp_path / "sources") == []


def _brains(tmp_path: Path) -> Path:
    """A user's folder holding both DataverseNL archives."""
    given = tmp_path / "given"
    given.mkdir()
    for subset, subjects in (("training", ("1", "4")), ("test", ("2", "3", "6"))):
        sa.mrbrains18(tmp_path, subjects, subset).rename(given / f"{subset}.zip")
    return given


def test_mrbrains18_test_zip_beside_training_is_a_named_subset_not_merged(tmp_path):
    """Before: test.zip's subjects were silently added to the 7 training subjects."""
    given = _brains(tmp_path)
    default = dataset_json(converted(tmp_path / "a", "mrbrains18", given))
    assert sorted(default["case_metadata"]) == ["subject1", "subject4"]
    both = dataset_json(
        converted(tmp_path / "b", "mrbrains18", given, subsets=["training", "test"])
    )
    assert len(both["case_metadata"]) == 5
    assert both["case_metadata"]["subject6"] == {"patient": "6", "subset": "test"}
    assert both["kdseg_conversion"]["options"]["subsets"] == ["training", "test"]


def test_mrbrains18_subjects_outside_a_subset_folder_are_refused(tmp_path):
    sa.mrbrains18(tmp_path)
    with pytest.raises(KdsegError, match=r"070/segm.nii.gz: subject folder '070' is not in a"):
        converted(tmp_path, "mrbrains18", tmp_path / "mrbrains_tree" / "training")


def test_mrbrains18_one_input_channel_as_the_authors(tmp_path):
    raw = converted(tmp_path, "mrbrains18", sa.mrbrains18(tmp_path), channels=["T1"])
    info = dataset_json(raw)
    assert info["channel_names"] == {"0": "T1"}
    assert sorted(p.name for p in (raw / "imagesTr").iterdir())[:2] == [
        "subject070_0000.nii.gz",
        "subject1_0000.nii.gz",
    ]
    t1 = tmp_path / "mrbrains_tree/training/4/pre/reg_T1.nii.gz"
    assert (raw / "imagesTr" / "subject4_0000.nii.gz").read_bytes() == t1.read_bytes()
    flair = converted(
        tmp_path / "f", "mrbrains18", sa.mrbrains18(tmp_path / "f"), channels=["FLAIR"]
    )
    assert dataset_json(flair)["channel_names"] == {"0": "FLAIR"}
    with pytest.raises(KdsegError, match=r"convert.channels: \['T2'\] is not a non-empty list"):
        converted(tmp_path / "x", "mrbrains18", sa.mrbrains18(tmp_path / "x"), channels=["T2"])


def test_acdc_end_diastole_only_as_the_authors(tmp_path):
    raw = converted(tmp_path, "acdc", sa.acdc(tmp_path), frames=["ED"])
    meta = dataset_json(raw)["case_metadata"]
    assert sorted(meta) == [f"patient{n:03d}_ED" for n in (1, 2, 3, 101)]
    assert meta["patient002_ED"]["patient"] == "patient002"  # statistics stay per patient
    frame = tmp_path / "acdc_tree/ACDC/database/training/patient002/patient002_frame01.nii.gz"
    assert (raw / "imagesTr" / "patient002_ED_0000.nii.gz").read_bytes() == frame.read_bytes()


def test_acdc_default_subsets_read_the_2017_copy(tmp_path):
    """Before: '...patient101_frame01_gt.nii.gz: missing' on the 2017 copy's test patients."""
    raw = converted(tmp_path, "acdc", sa.acdc_2017(tmp_path))
    meta = dataset_json(raw)["case_metadata"]
    assert sorted({m["patient"] for m in meta.values()}) == [
        "patient001",
        "patient002",
        "patient003",
    ]
    assert meta["patient003_ES"]["subset"] == "training"


def test_acdc_a_training_patient_without_labels_is_still_an_error(tmp_path):
    tree = sa.acdc_2017(tmp_path)
    (tree / "training" / "patient002" / "patient002_frame08_gt.nii.gz").unlink()
    with pytest.raises(KdsegError, match=r"patient002_frame08_gt.nii.gz: missing \(ES frame 8"):
        converted(tmp_path, "acdc", tree)


def test_a_mirrors_md5_replaces_the_published_sha256():
    from kdseg.data.sources.study import download_spec

    config = {"datasets": {"D": {"source": "segthor"}}}
    validate_study(config)
    spec = download_spec(config, "segthor", "SegTHOR.zip")
    assert spec["sha256"].startswith("5dba9bcc") and spec["md5"] is None
    config["sources"] = {"segthor": {"mirror": "file:///m", "md5": {"SegTHOR.zip": "a" * 32}}}
    assert download_spec(config, "segthor", "SegTHOR.zip") == {
        "url": "file:///m/SegTHOR.zip",
        "md5": "a" * 32,
    }


def test_downloads_follow_the_subsets_and_the_users_copy():
    from kdseg.data.sources.study import downloaded_files

    def files(**sources) -> list[str]:
        config = {"datasets": {"B": {"source": "mrbrains18", **sources.pop("dataset", {})}}}
        config["sources"] = sources
        validate_study(config)
        return [Path(f).name for f in downloaded_files(config, "mrbrains18")]

    assert files() == ["training.zip"]
    assert files(dataset={"convert": {"subsets": ["training", "test"]}}) == [
        "training.zip",
        "test.zip",
    ]
    assert files(mrbrains18={"path": "/mine"}) == []


# Splits from case metadata ---------------------------------------------------------------------


def _site_cases() -> tuple[list[str], dict]:
    meta = {
        f"{site}_{i}": {"site": site, "patient": f"{site}_{i}"}
        for site in ("A", "B", "C")
        for i in range(10)
    }
    return sorted(meta), meta


def test_metadata_patient_keeps_frames_together():
    cases = [f"p{i}_{ph}" for i in range(10) for ph in ("ED", "ES")]
    meta = {c: {"patient": c.split("_")[0]} for c in cases}
    splits = make_splits(cases, 3, 0.3, 0.2, metadata=meta)
    for part in ("train", "validation", "test"):
        patients = {c.split("_")[0] for c in splits[part]}
        assert all(f"{p}_ED" in splits[part] and f"{p}_ES" in splits[part] for p in patients)
    assert splits["patient_of"]["p3_ES"] == "p3"


def test_stratified_splits_put_every_site_in_every_split():
    cases, meta = _site_cases()
    splits = make_splits(cases, 0, 0.3, 0.2, metadata=meta, stratify_by="site")
    for part, per_site in (("test", 3), ("validation", 2), ("train", 5)):
        for site in "ABC":
            assert sum(c.startswith(site) for c in splits[part]) == per_site


def test_held_out_site_is_the_test_set():
    cases, meta = _site_cases()
    splits = make_splits(cases, 0, 0, 0.1, metadata=meta, held_out={"site": ["C"]})
    assert splits["test"] == [f"C_{i}" for i in range(10)]
    assert not any(c.startswith("C") for c in splits["train"] + splits["validation"])
    with pytest.raises(ConfigError, match=r"splits.held_out.site: no case has a value in"):
        make_splits(cases, 0, 0, 0.1, metadata=meta, held_out={"site": ["Z"]})


# Config ------------------------------------------------------------------------------------------


def _config(**dataset) -> dict:
    config = {"datasets": {"D": {"source": "segthor", **dataset}}}
    validate_study(config)
    return config


def test_converted_dataset_lives_under_data_dir():
    from kdseg.data.study_data import raw_root

    assert raw_root(_config(), "D") == "data/nnUNet_raw/Dataset101_SegTHOR"
    assert raw_root(_config(raw_name="Mine"), "D") == "data/nnUNet_raw/Mine"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {"datasets": {"D": {"source": "segthor", "convert": {"label_map": {}}}}},
            "'datasets.D.convert.label_map': source segthor has no such option",
        ),
        (
            {"datasets": {"D": {"source": "acdc", "convert": {"frames": ["ED", "EX"]}}}},
            "'datasets.D.convert.frames': ['ED', 'EX'] is not a non-empty list of ED, ES",
        ),
        (
            {"datasets": {"D": {"source": "mrbrains18", "convert": {"channels": "T1"}}}},
            "'datasets.D.convert.channels': 'T1' is not a non-empty list of T1, T1-IR, FLAIR",
        ),
        (
            {"datasets": {"D": {"source": "phantom", "convert": {}}}},
            "'datasets.D.convert': only for public sources",
        ),
        (
            {
                "datasets": {"D": {"source": "multisite_prostate"}},
                "sources": {"multisite_prostate": {"mirror": "x"}},
            },
            "'sources.multisite_prostate.mirror': multisite_prostate cannot be downloaded",
        ),
        (
            {
                "datasets": {"D": {"source": "segthor"}},
                "sources": {"segthor": {"mirror": "ftp://example.org/data"}},
            },
            "'sources.segthor.mirror': ftp://example.org/data: URL scheme 'ftp' is not allowed",
        ),
        (
            {
                "datasets": {"D": {"source": "msd_liver"}},
                "sources": {"msd_liver": {"mirror": "data:,x"}},
            },
            "'sources.msd_liver.mirror': data:,x: URL scheme 'data' is not allowed",
        ),
        (
            {
                "datasets": {"D": {"source": "acdc"}},
                "sources": {"acdc": {"sha256": {"x.zip": "0" * 64}}},
            },
            "'sources.acdc.sha256.x.zip': not a file of acdc",
        ),
        (
            {"datasets": {"D": {"source": "kits19"}}, "sources": {"kits19": {"path": "x"}}},
            "'sources.kits19.path': kits19 is downloaded by the workflow",
        ),
        (
            {
                "datasets": {"D": {"source": "msd_liver"}},
                "sources": {"msd_liver": {"md5": {"x.tar": "0" * 32}}},
            },
            "'sources.msd_liver.md5.x.tar': not a file of msd_liver",
        ),
        (
            {
                "datasets": {
                    "A": {"source": "mrbrains18"},
                    "B": {"source": "mrbrains18", "convert": {"label_map": {0: "background"}}},
                }
            },
            "'datasets.B.raw_name': Dataset102_MRBrainS18 is already converted with other settings",
        ),
    ],
)
def test_source_config_errors_name_the_key(edit, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_study(edit)


def test_the_data_checks_accept_all_sources():
    config = {"datasets": {name: {"source": name} for name in SOURCES}}
    validate_study(config)
    check_data(config)


def test_a_missing_own_copy_of_an_open_source_says_which_key(tmp_path):
    with pytest.raises(KdsegError) as err:
        obtain_source("acdc", str(tmp_path / "sources/acdc"), manual_path=str(tmp_path / "mine"))
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'mine'}: not found or empty ('sources.acdc.path'")
    assert "leave the key out to download it" in message and "\n" not in message
