"""Through the Snakemake CLI: SIGTERM to a training job (as SLURM at its time limit) leaves a
last checkpoint and no temporaries; a config edit afterwards starts afresh and says why."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import make_tiny, own_dataset
from test_workflow import snakemake, snakemake_command

pytestmark = pytest.mark.workflow
TEACHER = Path("results/tiny/Own/teachers/unet-ce/seed1")
JOB_LOG = Path("results/tiny/logs/train/Own/teachers/unet-ce/seed1.log")


def study(own: Path, **training) -> dict:
    """One tiny dataset, one teacher."""
    return {
        "study": "tiny",
        "threads": 1,
        "datasets": {"Own": own_dataset(own)},
        "training": {"batch_size": 2, "log_every": 1, "checkpoint_every": 1000, **training},
        "architectures": {
            "unet": {"network": "unet3d", "kwargs": {"features": [4, 8]}, "patch": [16, 16, 16]}
        },
        "ensembles": {"one": {"architectures": ["unet"], "losses": ["ce"], "seeds": [1]}},
    }


def training_processes(workdir: Path) -> list[int]:
    """The training job's processes (its script runs from ``workdir/.snakemake``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and "train_teacher.py" in cmdline and str(workdir) in cmdline:
            pids.append(int(entry.name))
    return pids


def wait_for(condition, what: str, proc: subprocess.Popen) -> None:
    """Poll ``condition`` until it holds or snakemake ends (no time limit: a busy machine may
    take long to start the job)."""
    while not condition():
        assert proc.poll() is None, f"snakemake ended before {what}"
        time.sleep(0.2)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the job's processes in /proc")
def test_sigterm_then_config_edit_through_the_cli(tmp_path):
    own = make_tiny(tmp_path / "Dataset007_Own", "thorax", cases=4)
    target = str(TEACHER / "model.pt")
    cmd = snakemake_command(tmp_path, study(own, iterations=2000), target)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    job_log = tmp_path / JOB_LOG
    try:
        wait_for(lambda: job_log.exists() and " iter 1/2000 " in job_log.read_text(),
                 "training progress line", proc)  # fmt: skip
        for pid in training_processes(tmp_path):  # as SLURM: every process of the job
            os.kill(pid, signal.SIGTERM)
        out, _ = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, out[-3000:]
    log = job_log.read_text()
    stopped = torch.load(tmp_path / TEACHER / "checkpoint.pt", weights_only=True)["iteration"]
    assert f"stopped by SIGTERM at iteration {stopped} (checkpoint" in log, log[-2000:]
    assert 1 <= stopped < 2000
    assert not list((tmp_path / TEACHER).glob(".*.tmp*"))
    assert not (tmp_path / TEACHER / "model.pt").exists()

    # after the kill: a lower learning rate and fewer iterations
    edited = study(own, iterations=3, optimizer={"name": "adam", "lr": 0.05})
    res = snakemake(tmp_path, edited, target)
    assert res.returncode == 0, res.stderr[-3000:]
    log = job_log.read_text()
    assert "starting afresh" in log and "resuming" not in log, log[-2000:]
    warning = next(line for line in log.splitlines() if "WARNING" in line)
    assert "iterations: 2000 -> 3" in warning and "optimizer.lr: 0.001 -> 0.05" in warning
    model = torch.load(tmp_path / TEACHER / "model.pt", weights_only=True)
    assert model["iterations"] == 3
    history = (tmp_path / TEACHER / "training.csv").read_text().splitlines()
    assert len(history) == 4 and history[1].split(",")[2] == "0.05"
    assert not (tmp_path / TEACHER / "checkpoint.pt").exists()
