"""Obtain and convert every public source through the Snakemake CLI, from miniature copies in
each source's exact layout (registration-only sources and a user's own copy from an archive or
folder, open sources downloaded from a file:// mirror, checked by md5 or sha256)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import source_archives as sa
from conftest import REPO
from test_workflow import _job_counts, snakemake

SPLITS = {"test": 0.25, "validation": 0.25}


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def converted_study(tmp_path_factory) -> tuple[Path, dict, object]:
    """A study with one dataset per source, run up to the splits."""
    root = tmp_path_factory.mktemp("sources")
    given = root / "given"
    given.mkdir()
    segthor = sa.segthor(given)  # the challenge's copy, given as the user's own
    sites = sa.multisite_prostate(given)
    mirror = root / "mirror"
    mirror.mkdir()
    acdc = sa.acdc(mirror)  # the open copies, in their real layouts
    brains = sa.mrbrains18(mirror)
    brains_test = sa.mrbrains18(mirror, ("2", "3"), subset="test")
    prostate = sa.decathlon(mirror, "Task05_Prostate")
    liver = sa.decathlon(mirror, "Task03_Liver")
    kits = sa.kits19(root)
    config = {
        "study": "real",
        "datasets": {
            "SegTHOR": {"source": "segthor", "splits": SPLITS},
            "Brain": {
                "source": "mrbrains18",
                "convert": {"subsets": ["training", "test"], "channels": ["T1"]},
                "splits": {"test": 1, "validation": 1},
            },
            "ACDC": {"source": "acdc", "splits": SPLITS},
            "Prostate": {"source": "msd_prostate", "splits": SPLITS},
            "Liver": {"source": "msd_liver", "splits": SPLITS},
            "Sites": {
                "source": "multisite_prostate",
                "splits": {"test": 0.5, "validation": 0, "stratify_by": "site"},
            },
            "Kidney": {"source": "kits19", "splits": {"test": 1, "validation": 0}},
        },
        "sources": {
            "segthor": {"path": str(segthor)},
            "acdc": {"mirror": f"file://{mirror}", "sha256": {"ACDC.zip": sha256(acdc)}},
            "mrbrains18": {
                "mirror": f"file://{mirror}",
                "sha256": {"training.zip": sha256(brains), "test.zip": sha256(brains_test)},
            },
            "multisite_prostate": {"path": str(sites)},
            "msd_prostate": {
                "mirror": f"file://{mirror}",
                "md5": {"Task05_Prostate.tar": md5(prostate)},
            },
            "msd_liver": {"mirror": f"file://{mirror}", "md5": {"Task03_Liver.tar": md5(liver)}},
            "kits19": {"mirror": f"file://{kits}"},
        },
    }
    targets = [f"results/real/{d}/splits.json" for d in config["datasets"]]
    res = snakemake(root, config, *targets)
    assert res.returncode == 0, res.stderr[-3000:]
    return root, config, res


def raw(root: Path, name: str) -> Path:
    return root / "data" / "nnUNet_raw" / name


def info(root: Path, name: str) -> dict:
    return json.loads((raw(root, name) / "dataset.json").read_text())


def assert_same_geometry(converted: Path, source: Path) -> None:
    a, b = nib.load(converted), nib.load(source)
    np.testing.assert_array_equal(a.affine, b.affine)
    assert a.header.get_zooms()[:3] == b.header.get_zooms()[:3]
    assert a.shape[:3] == b.shape[:3]


def test_every_source_is_obtained_converted_validated_and_split(converted_study):
    root, _, res = converted_study
    counts = _job_counts(res)
    # two decathlon tars, ACDC, MRBrainS18 training and test; KiTS19 repository + 210 scans
    assert counts["download"] == 2 + 1 + 2 + 211
    assert counts["obtain"] == counts["convert"] == counts["validate_raw"] == 7
    expected = {
        "Dataset101_SegTHOR": (4, 5, "Patient_01"),
        "Dataset102_MRBrainS18": (5, 7, "subject2"),
        "Dataset103_ACDC": (8, 4, "patient101_ES"),
        "Dataset105_Prostate": (4, 3, "prostate_04"),
        "Dataset106_Liver": (4, 3, "liver_4"),
        "Dataset104_ProstateMultiSite": (13, 2, "BMC_Case01"),
        "Dataset107_KiTS19": (3, 3, "case_00002"),
    }
    for name, (cases, labels, example) in expected.items():
        data = info(root, name)
        assert data["numTraining"] == cases, name
        assert len(data["labels"]) == labels, name
        assert example in data["case_metadata"], name
        values = set()
        for label in (raw(root, name) / "labelsTr").iterdir():
            values |= set(np.unique(np.asarray(nib.load(label).dataobj)).tolist())
        assert values <= set(data["labels"].values()), name
    assert_same_geometry(
        raw(root, "Dataset107_KiTS19") / "imagesTr" / "case_00001_0000.nii.gz",
        root / "kits_mirror" / "master_00001.nii.gz",
    )
    assert_same_geometry(
        raw(root, "Dataset106_Liver") / "labelsTr" / "liver_2.nii.gz",
        root / "mirror" / "Task03_Liver_tree" / "Task03_Liver" / "labelsTr" / "liver_2.nii.gz",
    )
    record = json.loads((root / "data" / "sources" / "kits19" / "SOURCE.json").read_text())
    assert len(record["files"]) == 211
    record = json.loads((root / "data" / "sources" / "acdc" / "SOURCE.json").read_text())
    assert record["files"] == {"ACDC.zip": sha256(root / "mirror" / "ACDC.zip")}
    assert info(root, "Dataset102_MRBrainS18")["channel_names"] == {"0": "T1"}


def test_splits_keep_acdc_patients_together_and_stratify_sites(converted_study):
    root = converted_study[0]
    acdc = json.loads((root / "results/real/ACDC/splits.json").read_text())
    for part in ("train", "validation", "test"):
        patients = {c.split("_")[0] for c in acdc[part]}
        assert sorted(acdc[part]) == sorted(f"{p}_{ph}" for p in patients for ph in ("ED", "ES"))
    sites = json.loads((root / "results/real/Sites/splits.json").read_text())
    for site, count in sa.SITES.items():
        in_test = sum(c.startswith(f"{site}_") for c in sites["test"])
        assert in_test == max(1, round(count * 0.5))


def test_a_second_run_does_nothing(converted_study):
    root, config, _ = converted_study
    targets = [f"results/real/{d}/splits.json" for d in config["datasets"]]
    res = snakemake(root, config, *targets)
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr
    # how to download and the extraction limits are not inputs: changing them re-runs nothing
    changed = {**config, "download": {"retries": 9, "max_seconds": 60.0},
               "extract": {"max_ratio": 500.0}}  # fmt: skip
    res = snakemake(root, changed, "--dry-run", *targets)
    assert "Nothing to be done" in res.stdout + res.stderr, res.stdout[-2000:]


def test_replacing_a_users_archive_reconverts_only_that_dataset(converted_study):
    root, config, _ = converted_study
    sa.segthor(root / "given" / "new", patients=3)
    (root / "given" / "new" / "train.zip").replace(root / "given" / "train.zip")
    targets = [f"results/real/{d}/splits.json" for d in config["datasets"]]
    res = snakemake(root, config, *targets)
    assert res.returncode == 0, res.stderr[-2000:]
    counts = _job_counts(res)
    assert counts["obtain"] == counts["convert"] == counts["splits"] == 1
    assert info(root, "Dataset101_SegTHOR")["numTraining"] == 3


def test_paper_study_dry_run_shows_the_whole_dag_without_data(tmp_path):
    """No dataset downloaded or placed yet: the dry run still lists every job."""
    res = snakemake(tmp_path, REPO / "config" / "paper.yaml", "--dry-run")
    assert res.returncode == 0, res.stderr[-2000:]
    counts = _job_counts(res)
    # SegTHOR, MRBrainS18 training, ACDC, MSD Task03_Liver; the prostate set is fetched by hand
    assert counts["download"] == 4
    assert counts["obtain"] == counts["convert"] == 5
    # the brain data are cross-validated in 5 folds: each fold splits, preprocesses and trains
    # the brain's networks (the paper's 11 teachers, 3 baselines, 3 students, 1 online pair)
    assert counts["splits"] == 5 + 5 and counts["preprocess"] == 4 + 5
    assert counts["train_teacher"] == 2 * 11 + 5 * 11 + 2
    assert counts["train_subset_teacher"] == 3
    assert counts["train_student"] == 18 + 4 * 3 and counts["train_online"] == 3 + 4
    assert counts["train_baseline"] == 5 * 3 + 4 * 3
    assert counts["pool_predictions"] == 21  # the brain's models, each pooled over its folds
    assert counts["student_table"] == counts["statistics"] == 5
    assert not (tmp_path / "data").exists()


def _bad_run(tmp_path: Path, config: dict) -> str:
    res = snakemake(tmp_path, config, "results/x/D/raw_report.json")
    assert res.returncode != 0
    return res.stdout + res.stderr


def test_checksum_mismatch_stops_and_keeps_nothing(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sa.decathlon(mirror, "Task05_Prostate")
    config = {
        "study": "x",
        "datasets": {"D": {"source": "msd_prostate"}},
        "sources": {"msd_prostate": {"mirror": f"file://{mirror}"}},
    }
    out = _bad_run(tmp_path, config)
    assert "Task05_Prostate.tar: md5" in out
    assert "does not match the published 35138f08b1efaef89d7424d2bcc928db" in out
    downloads = tmp_path / "data" / "downloads" / "msd_prostate"
    assert not downloads.exists() or list(downloads.iterdir()) == []
    assert not (tmp_path / "data" / "sources").exists()


@pytest.mark.parametrize(
    ("member", "link", "message"),
    [
        ("train/../../evil.nii.gz", None, "would be written outside the target"),
        ("train/Patient_01/GT.nii.gz", "../../../../outside", "is a link to"),
    ],
)
def test_unsafe_user_archive_stops_and_leaves_nothing(tmp_path, member, link, message):
    archive = sa.tar_with_member(tmp_path / "train.tar", member, link)
    config = {
        "study": "x",
        "datasets": {"D": {"source": "segthor"}},
        "sources": {"segthor": {"path": str(archive)}},
    }
    out = _bad_run(tmp_path, config)
    assert f"{archive}: member '{member}'" in out and message in out
    sources = tmp_path / "data" / "sources"
    assert not sources.exists() or list(sources.iterdir()) == []
    assert not (tmp_path / "evil.nii.gz").exists()


def test_truncated_user_archive_stops_and_leaves_nothing(tmp_path):
    whole = sa.acdc(tmp_path)
    cut = sa.truncated(whole, tmp_path / "cut.zip")
    config = {
        "study": "x",
        "datasets": {"D": {"source": "acdc"}},
        "sources": {"acdc": {"path": str(cut)}},
    }
    out = _bad_run(tmp_path, config)
    assert f"{cut}: not a zip or tar archive (or truncated)" in out
    sources = tmp_path / "data" / "sources"
    assert not sources.exists() or list(sources.iterdir()) == []


def test_missing_registration_dataset_says_where_to_get_it(tmp_path):
    config = {"study": "x", "datasets": {"D": {"source": "multisite_prostate"}}}
    out = _bad_run(tmp_path, config)
    assert "(SAML) is not at data/downloads/multisite_prostate: it is shared through a" in out
    assert "https://liuquande.github.io/SAML/" in out
    assert not (tmp_path / "data" / "sources").exists()


def test_a_hand_placed_download_that_is_not_the_published_file_stops_obtain(tmp_path):
    """Snakemake does not download a file that is already there: obtain checks it first."""
    placed = tmp_path / "data" / "downloads" / "segthor"
    placed.mkdir(parents=True)
    sa.segthor(tmp_path, copy="zenodo").rename(placed / "SegTHOR.zip")
    config = {"study": "x", "datasets": {"D": {"source": "segthor"}}}
    out = _bad_run(tmp_path, config)
    assert "data/downloads/segthor/SegTHOR.zip: sha256 " in out
    assert "does not match the published 5dba9bcc681c895b" in out
    sources = tmp_path / "data" / "sources"
    assert not sources.exists() or list(sources.iterdir()) == []


def test_archive_escaping_through_links_stops_obtain_and_writes_nothing_outside(tmp_path):
    """The outside probe's archive: before, `obtain` exited 0 and wrote evil.nii.gz into the
    study folder (four folders above its extraction folder)."""
    archive = sa.tar_escaping_through_links(tmp_path / "train.tar", up=4, name="evil.nii.gz")
    config = {
        "study": "x",
        "datasets": {"D": {"source": "segthor"}},
        "sources": {"segthor": {"path": str(archive)}},
    }
    out = _bad_run(tmp_path, config)
    assert f"{archive}: member 'a/b/c/" in out and "passes through the link 'a'" in out
    assert not (tmp_path / "evil.nii.gz").exists()
    sources = tmp_path / "data" / "sources"
    assert not sources.exists() or list(sources.iterdir()) == []


def test_extract_limits_from_the_study_refuse_a_bomb(tmp_path):
    archive = sa.zeros_archive(tmp_path / "train.zip", 4 << 20)
    config = {
        "study": "x",
        "datasets": {"D": {"source": "segthor"}},
        "sources": {"segthor": {"path": str(archive)}},
        "extract": {"max_ratio": 50},
    }
    out = _bad_run(tmp_path, config)
    assert f"{archive}: refused: its members declare" in out and "extract.max_ratio = 50" in out
    sources = tmp_path / "data" / "sources"
    assert not sources.exists() or list(sources.iterdir()) == []


def test_a_missing_mirror_file_stops_at_once(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    config = {
        "study": "x",
        "datasets": {"D": {"source": "msd_prostate"}},
        "sources": {"msd_prostate": {"mirror": f"file://{mirror}"}},
        "download": {"retries": 2, "backoff_s": 30},
    }
    out = _bad_run(tmp_path, config)
    assert f"{mirror / 'Task05_Prostate.tar'}: no such file" in out
    assert "retrying" not in out
    downloads = tmp_path / "data" / "downloads" / "msd_prostate"
    assert not downloads.exists() or list(downloads.iterdir()) == []
