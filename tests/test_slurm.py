"""The workflow on a real one-node SLURM (tests/slurm/setup.sh) through profiles/slurm.

Runs where root is available (CI: yes); elsewhere skipped with the reason. Fake GPUs are
declared to SLURM (gres on character devices), so GPU requests are scheduled for real while
the networks train on the CPU.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, make_tiny
from test_workflow import snakemake, snakemake_command, teacher_config

SLURM = REPO / "tests" / "slurm"


@pytest.fixture(scope="module")
def slurm():
    """A running one-node SLURM (set up once for the module, torn down after)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to install and start SLURM (tests/slurm/setup.sh)")
    setup = subprocess.run(["bash", str(SLURM / "setup.sh")], capture_output=True, text=True)
    if setup.returncode != 0:
        pytest.fail(f"tests/slurm/setup.sh failed:\n{setup.stdout}\n{setup.stderr}")
    yield
    subprocess.run(["bash", str(SLURM / "teardown.sh")], capture_output=True)


def profile_copy(tmp_path: Path) -> Path:
    """profiles/slurm with its FILL-IN settings filled in for the test cluster."""
    text = (REPO / "profiles" / "slurm" / "config.yaml").read_text()
    text = text.replace("FILL-IN-cpu", "debug").replace("FILL-IN-gpu", "debug")
    folder = tmp_path / "profile"
    folder.mkdir()
    (folder / "config.yaml").write_text(text)
    return folder


SLURM_ARGS = (
    "--slurm-no-account",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "1",
)


def on_slurm(tmp_path: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    return snakemake(tmp_path, config, "--profile", str(profile_copy(tmp_path)), *SLURM_ARGS, *args)


def gpu_config(tmp_path: Path, iterations: int = 8) -> dict:
    config = teacher_config(make_tiny(tmp_path / "own"))
    config["datasets"].pop("Own")
    config["training"]["iterations"] = iterations
    config["resources"] = {
        "train": {"gpu": 1, "mem_mb": 1000, "runtime": 30},
        "predict": {"gpu": 1, "mem_mb": 1000, "runtime": 30},
    }
    return config


def prepare_data(work: Path, config: dict) -> None:
    """The data stages, run locally (each SLURM round trip costs seconds; the GPU jobs are
    what these tests send to SLURM)."""
    res = snakemake(work, config, "results/tiny/Heart/preprocessed")
    assert res.returncode == 0, res.stderr[-2000:]


STUDENT = "results/tiny/Heart/students/kd/uniform/unet/seed1/model.pt"


def test_gpu_jobs_of_a_tiny_study_run_on_slurm(slurm, tmp_path):
    """Two teachers, their ensemble's soft labels and the student, as SLURM jobs."""
    config = gpu_config(tmp_path)
    config["ensembles"] = {"uniform": config["ensembles"]["uniform"]}
    config["students"] = {"kd": {"ensembles": ["uniform"], "architecture": "unet"}}
    prepare_data(tmp_path, config)
    res = on_slurm(tmp_path, config, STUDENT)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    study = tmp_path / "results" / "tiny"
    assert (tmp_path / STUDENT).is_file()
    assert (study / "Heart" / "ensembles" / "uniform" / "soft_labels").is_dir()
    # GPU jobs ran as SLURM jobs with one of the declared GPUs each
    logs = list((study / "logs" / "train").rglob("*.log"))
    assert len(logs) == 3  # two teachers and the student
    for log in logs:
        assert "SLURM job" in log.read_text(), log
        assert "CUDA_VISIBLE_DEVICES=0" in log.read_text() or "CUDA_VISIBLE_DEVICES=1" in (
            log.read_text()
        )


def _model_weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_cancelled_training_resumes_and_ends_with_uninterrupted_weights(slurm, tmp_path):
    """scancel a teacher's training mid-way; the re-run resumes from its checkpoint and ends
    with the weights of a run that was never interrupted (CPU: bit for bit)."""
    config = gpu_config(tmp_path / "slurm", iterations=200)
    config["training"].update({"checkpoint_every": 10, "validate_every": 100, "log_every": 20})
    target = "results/tiny/Heart/teachers/unet-ce/seed1/model.pt"
    work = tmp_path / "slurm"
    prepare_data(work, config)
    first = subprocess.Popen(
        snakemake_command(
            work,
            config,
            "--profile",
            str(profile_copy(tmp_path)),
            *SLURM_ARGS,
            "--retries",
            "0",
            target,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    checkpoint = work / "results/tiny/Heart/teachers/unet-ce/seed1/checkpoint.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
    assert checkpoint.exists(), "the training never wrote a checkpoint"
    jobs = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True)
    assert jobs.stdout.split(), "no SLURM job to cancel"
    subprocess.run(["scancel", *jobs.stdout.split()], check=True)
    out, _ = first.communicate()
    assert first.returncode != 0, out[-2000:]
    assert not (work / target).exists()
    assert checkpoint.exists()

    again = on_slurm(work, config, target)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    log = (work / "results/tiny/logs/train/Heart/teachers/unet-ce/seed1.log").read_text()
    assert "resuming from" in log

    plain = tmp_path / "plain"
    plain.mkdir()
    reference = snakemake(plain, config, target)
    assert reference.returncode == 0, reference.stderr[-2000:]
    resumed, whole = _model_weights(work / target), _model_weights(plain / target)
    assert resumed.keys() == whole.keys()
    for key in whole:
        assert torch.equal(resumed[key], whole[key]), key
