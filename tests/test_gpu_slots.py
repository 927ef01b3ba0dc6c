"""One GPU per concurrently running job: lock-file claims, through processes and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, make_tiny
from test_workflow import snakemake, teacher_config

from kdseg.errors import KdsegError
from kdseg.runtime.gpu_slots import candidate_gpus, claim_for_job, claim_gpus

HOLD = """
import sys, time
sys.path.insert(0, {src!r})
from kdseg.runtime.gpu_slots import claim_gpus
ids = claim_gpus(1, ["7", "9"], {locks!r}, timeout_s=float(sys.argv[1]), poll_s=0.05)
print(",".join(ids), flush=True)
time.sleep(float(sys.argv[2]))
"""


def _holder(tmp_path: Path, timeout: float, hold: float) -> subprocess.Popen:
    code = HOLD.format(src=str(REPO / "src"), locks=str(tmp_path / "locks"))
    return subprocess.Popen(
        [sys.executable, "-c", code, str(timeout), str(hold)], stdout=subprocess.PIPE, text=True
    )


HOLD_S = 3600  # holders are killed by the test: a slow machine never sees a claim expire


def test_concurrent_jobs_get_different_gpus_and_a_killed_job_frees_its_gpu(tmp_path):
    # claims wait up to 60 s for a free GPU: each of these finds one at once
    holders = [_holder(tmp_path, 60, HOLD_S)]
    try:
        assert holders[0].stdout.readline().strip() == "7"
        holders.append(_holder(tmp_path, 60, HOLD_S))
        assert holders[1].stdout.readline().strip() == "9"
        with pytest.raises(KdsegError, match=r"no free GPU among \['7', '9'\]"):
            claim_gpus(1, ["7", "9"], tmp_path / "locks", timeout_s=0.3, poll_s=0.05)
        holders[0].kill()  # as SLURM or a user would: no clean-up code runs
        holders[0].wait()
        holders.append(_holder(tmp_path, 60, 0))
        assert holders[2].stdout.readline().strip() == "7"
    finally:
        for proc in holders:
            proc.kill()
            proc.wait()


def test_claim_sets_cuda_visible_devices(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("KDSEG_GPUS", "3,5")
    assert candidate_gpus() == ["3", "5"]
    code = (
        f"import os, sys; sys.path.insert(0, {str(REPO / 'src')!r}); "
        f"from kdseg.runtime.gpu_slots import claim_gpus; "
        f"claim_gpus(2, None, {str(tmp_path)!r}); print(os.environ['CUDA_VISIBLE_DEVICES'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "3,5"


def test_under_slurm_nothing_is_claimed(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("KDSEG_GPUS", "0")
    assert claim_for_job(1) == []


def test_workflow_gpu_jobs_each_use_one_claimed_gpu(tmp_path, monkeypatch):
    """Teacher trainings asking for a GPU, two at a time (--resources gpu=2): each job's log
    names the GPU it claimed, and jobs that overlapped in time claimed different GPUs."""
    monkeypatch.setenv("KDSEG_GPUS", "7,9")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    config = teacher_config(make_tiny(tmp_path / "own"))
    config["resources"] = {"train": {"gpu": 1}}
    targets = [
        f"results/tiny/Heart/teachers/unet-{loss}/seed{s}/model.pt"
        for loss, s in (("ce", 1), ("ce", 2), ("dice", 1))
    ]
    res = snakemake(tmp_path, config, *targets, "--resources", "gpu=2")
    assert res.returncode == 0, res.stderr[-2000:]
    spans = []
    for log in sorted((tmp_path / "results/tiny/logs/train/Heart/teachers").rglob("*.log")):
        text = log.read_text()
        gpu = [line.split("=")[-1] for line in text.splitlines() if "GPU slot" in line]
        assert gpu and gpu[0] in {"7", "9"}, text[:500]
        stamps = [line.split()[0] for line in text.splitlines() if line[:2].isdigit()]
        spans.append((gpu[0], stamps[0], stamps[-1]))
    assert len(spans) == 3
    for i, (g1, s1, e1) in enumerate(spans):
        for g2, s2, e2 in spans[i + 1 :]:
            if s1 < e2 and s2 < e1:  # overlapping jobs
                assert g1 != g2
