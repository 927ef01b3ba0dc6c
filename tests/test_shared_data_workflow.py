"""Two studies in different folders sharing one ``data_dir``, through the Snakemake CLI: run at
the same time; one reading the shared raw dataset while another run keeps replacing it; and a
killed job's temporary removed by the next run of the job."""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import source_archives as sa
from test_workflow import snakemake, snakemake_command

from kdseg.runtime.atomic import atomic_dir
from kdseg.runtime.locks import reading

pytestmark = pytest.mark.workflow
RAW = "Dataset101_SegTHOR"
CASES = 12


def study(name: str, data: Path, archive: Path) -> dict:
    return {
        "study": name,
        "data_dir": str(data),
        "threads": 1,
        "datasets": {
            "SegTHOR": {
                "source": "segthor",
                "preprocess": {"target_spacing": [1.0, 1.0, 3.0]},
                "splits": {"test": 1, "validation": 1},
            }
        },
        "sources": {"segthor": {"path": str(archive)}},
    }


def target(name: str) -> str:
    return f"results/{name}/SegTHOR/preprocessed"


def leftovers(folder: Path) -> list[str]:
    """Temporaries and lock files in ``folder`` (Snakemake's own timestamp file aside)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".lock", ".tmp")))


def cases_in(manifest: Path) -> int:
    return len(json.loads(manifest.read_text())["cases"])


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory) -> tuple[Path, list[subprocess.CompletedProcess]]:
    """Studies ``a`` and ``b`` (folders a/ and b/) started together on one data folder."""
    root = tmp_path_factory.mktemp("shared")
    archive = sa.segthor(root / "given", patients=CASES)
    procs = []
    for name in ("a", "b"):
        (root / name).mkdir()
        config = study(name, root / "data", archive)
        cmd = snakemake_command(root / name, config, target(name))
        procs.append(
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    results = []
    for proc in procs:
        out, err = proc.communicate()
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return root, results


def test_two_studies_on_one_data_dir_both_finish_with_intact_data(two_studies):
    root, results = two_studies
    for res in results:
        assert res.returncode == 0, res.stderr[-3000:]
    data = root / "data"
    raw = data / "nnUNet_raw" / RAW
    assert json.loads((raw / "dataset.json").read_text())["numTraining"] == CASES
    assert len(list((raw / "imagesTr").iterdir())) == CASES
    assert len(list((raw / "labelsTr").iterdir())) == CASES
    assert (data / "sources" / "segthor" / "SOURCE.json").is_file()
    for name in ("a", "b"):
        assert cases_in(root / name / target(name) / "manifest.json") == CASES
    for folder in (data / "sources", data / "sources" / "segthor", data / "nnUNet_raw", raw):
        assert leftovers(folder) == [], folder


def _keep_replacing(raw: str, copy: str, stop, count) -> None:
    """Another run writing the shared raw dataset again and again (same content)."""
    while not stop.is_set():
        with atomic_dir(raw) as tmp:
            shutil.copytree(copy, tmp, dirs_exist_ok=True)
        count.value += 1


@pytest.fixture(scope="module")
def rerun_while_replaced(two_studies) -> tuple[Path, subprocess.CompletedProcess, int]:
    """Study ``a`` validates and preprocesses the shared raw dataset again while another run
    keeps replacing it; a killed preprocessing left its temporary beside the output."""
    root, _ = two_studies
    work = root / "a"
    stale = work / target("a").replace("preprocessed", ".preprocessed.k3j_x9a2.tmp")
    (stale / "cases").mkdir(parents=True)
    (stale / "cases" / "Patient_01.npy").write_bytes(b"\0" * 100_000)
    raw = root / "data" / "nnUNet_raw" / RAW
    copy = root / "raw_copy"
    shutil.copytree(raw, copy)
    fork = mp.get_context("fork")
    stop, count = fork.Event(), fork.Value("i", 0)
    writer = fork.Process(target=_keep_replacing, args=(str(raw), str(copy), stop, count))
    writer.start()
    try:
        res = snakemake(work, work / "study.yaml", "--forcerun", "validate_raw", target("a"))
    finally:
        stop.set()
        writer.join(60)
    assert writer.exitcode == 0
    return root, res, count.value


def test_a_study_reads_shared_data_while_another_run_replaces_it(rerun_while_replaced):
    root, res, replaced = rerun_while_replaced
    assert res.returncode == 0, res.stderr[-3000:]
    assert replaced > 0
    assert cases_in(root / "a" / target("a") / "manifest.json") == CASES
    assert leftovers(root / "data" / "nnUNet_raw") == []


def test_the_next_run_removes_what_a_killed_preprocessing_left(rerun_while_replaced):
    root, res, _ = rerun_while_replaced
    assert res.returncode == 0, res.stderr[-3000:]
    assert leftovers(root / "a" / "results" / "a" / "SegTHOR") == []


def test_a_rerun_in_another_study_leaves_shared_data_alone_while_it_is_read(two_studies):
    """Study ``b`` converts the shared dataset again while a reader (standing in for study
    ``a``) holds it: the folder stays whole until the reader is done (Snakemake deletes a job's
    outputs before it runs: shared folders are not outputs, their markers are)."""
    root, _ = two_studies
    raw = root / "data" / "nnUNet_raw" / RAW
    log = root / "data" / "logs" / "convert" / f"{RAW}.log"
    work = root / "b"
    with reading(raw):
        cmd = snakemake_command(work, work / "study.yaml", "--forcerun", "convert", target("b"))
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while proc.poll() is None and "waiting for another run" not in (
            log.read_text() if log.exists() else ""
        ):
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert json.loads((raw / "dataset.json").read_text())["numTraining"] == CASES
        assert len(list((raw / "imagesTr").iterdir())) == CASES
    _, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert len(list((raw / "labelsTr").iterdir())) == CASES
    assert json.loads((raw.parent / f"{RAW}.done.json").read_text())["cases"] == CASES
