"""Checkpoints of the training loop: config edits, old and broken checkpoints, SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO
from torch import nn

from kdseg.errors import KdsegError
from kdseg.train.loop import TrainSettings, train

BASE = {"iterations": 20, "batch_size": 2, "checkpoint_every": 5, "log_every": 5,
        "loader_workers": 0, "amp": False}  # fmt: skip


class RandomBatches:
    """Tiny random 2D batches; the batch of iteration ``i`` depends on (seed, i) only."""

    def __init__(self, seed: int = 0, gate: str | None = None, gate_at: int = 10) -> None:
        self.seed, self.gate, self.gate_at = seed, gate, gate_at

    def batch(self, iteration: int) -> dict[str, np.ndarray]:
        if self.gate and iteration >= self.gate_at:  # wait until the test lets batches pass
            import time

            # 10 minutes: not reached under load; ends a run that a crashed test left behind
            for _ in range(60_000):
                if os.path.exists(self.gate):
                    break
                time.sleep(0.01)
        rng = np.random.default_rng([self.seed, iteration])
        image = rng.normal(size=(2, 1, 8, 8)).astype(np.float32)
        return {"image": image, "label": (image[:, 0] > 0).astype(np.int64)}


def step_loss(net: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return nn.functional.cross_entropy(net(batch["image"]), batch["label"])


def tiny_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))


def run(ckpt: Path, net: nn.Module | None = None, fingerprint=None, **changes):
    settings = TrainSettings(**{**BASE, **changes})
    extra = {} if fingerprint is None else {"fingerprint": fingerprint}
    return train(
        net or tiny_net(), RandomBatches(), step_loss, settings, seed=3, checkpoint=ckpt,
        name="tiny", **extra,
    )  # fmt: skip


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def resumed(caplog) -> bool:
    return any("resuming from" in r.getMessage() for r in caplog.records)


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_edited_settings_start_afresh_and_say_why(tmp_path, caplog):
    ckpt = tmp_path / "ckpt.pt"
    run(ckpt)  # leaves its checkpoint of iteration 15
    assert torch.load(ckpt, weights_only=True)["iteration"] == 15
    caplog.set_level(logging.INFO, "kdseg")
    edited = {"iterations": 10, "optimizer": {"name": "adam", "lr": 0.05}}
    result = run(ckpt, **edited)
    fresh = run(tmp_path / "fresh.pt", **edited)
    assert same(result.final_state, fresh.final_state)  # not the checkpoint's later weights
    assert not resumed(caplog)
    (line,) = warnings(caplog)
    assert str(ckpt) in line and "starting afresh" in line
    assert "optimizer.lr: 0.001 -> 0.05" in line and "iterations: 20 -> 10" in line
    assert result.history[0]["lr"] == 0.05 and len(result.history) == 10


@pytest.mark.parametrize(
    "change",
    [{"batch_size": 3}, {"schedule": {"name": "poly"}}, {"validate_every": 4},
     {"weights": "best"}, {"amp": True}],
)  # fmt: skip
def test_every_setting_that_shapes_the_weights_is_compared(tmp_path, caplog, change):
    ckpt = tmp_path / "ckpt.pt"
    run(ckpt)
    caplog.set_level(logging.INFO, "kdseg")
    run(ckpt, **change)
    assert not resumed(caplog)
    assert f"{next(iter(change))}" in warnings(caplog)[0]


def test_settings_that_do_not_shape_the_weights_still_resume(tmp_path, caplog):
    ckpt = tmp_path / "ckpt.pt"
    run(ckpt)
    caplog.set_level(logging.INFO, "kdseg")
    result = run(ckpt, log_every=1, checkpoint_every=7, loader_workers=1)
    assert resumed(caplog) and not warnings(caplog)
    assert same(result.final_state, run(tmp_path / "fresh.pt").final_state)


def test_caller_fingerprint_is_compared_in_any_key_order(tmp_path, caplog):
    ckpt = tmp_path / "ckpt.pt"
    run(ckpt, fingerprint={"loss": {"name": "ce", "weight": 1}, "data": "abc"})
    caplog.set_level(logging.INFO, "kdseg")
    run(ckpt, fingerprint={"data": "abc", "loss": {"weight": 1, "name": "ce"}})
    assert resumed(caplog) and not warnings(caplog)
    run(tmp_path / "b.pt", fingerprint={"loss": {"name": "ce"}})
    run(tmp_path / "b.pt", fingerprint={"loss": {"name": "dice"}})
    assert 'loss.name: "ce" -> "dice"' in warnings(caplog)[0]


def test_checkpoint_of_an_older_format_starts_afresh(tmp_path, caplog):
    ckpt = tmp_path / "ckpt.pt"
    run(ckpt)
    state = torch.load(ckpt, weights_only=True)
    state.pop("settings", None)
    state["format"] = "kdseg-checkpoint/1"
    torch.save(state, ckpt)
    caplog.set_level(logging.INFO, "kdseg")
    result = run(ckpt, iterations=10)
    assert not resumed(caplog)
    assert "older format" in warnings(caplog)[0] and "starting afresh" in warnings(caplog)[0]
    assert same(result.final_state, run(tmp_path / "fresh.pt", iterations=10).final_state)


def test_truncated_checkpoint_is_a_one_line_error(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    run(ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    with pytest.raises(KdsegError) as err:
        run(ckpt)
    message = str(err.value)
    assert "\n" not in message and str(ckpt) in message
    assert "delete it to restart training" in message


def test_checkpoint_of_another_network_is_a_one_line_error(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    run(ckpt)
    torch.manual_seed(0)
    other = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 2, 1))
    with pytest.raises(KdsegError) as err:
        run(ckpt, net=other)
    message = str(err.value)
    assert "\n" not in message and str(ckpt) in message and "0.weight" in message
    assert "delete it to restart training" in message


SCRIPT = """
import sys, logging, torch
sys.path[:0] = [{src!r}, {tests!r}]
from kdseg.runtime.steps import setup_logging
from kdseg.train.loop import TrainSettings, train
from test_resume import RandomBatches, step_loss, tiny_net
setup_logging()
gate = sys.argv[1] if len(sys.argv) > 1 else None
settings = TrainSettings(iterations=40, batch_size=2, checkpoint_every=1000, log_every=2,
                         loader_workers=1, amp=False)
result = train(tiny_net(), RandomBatches(gate=gate), step_loss, settings, seed=3,
               checkpoint={ckpt!r}, name="tiny")
torch.save(result.final_state, {out!r})
"""


def _script(folder: Path) -> str:
    return SCRIPT.format(
        src=str(REPO / "src"), tests=str(REPO / "tests"), ckpt=str(folder / "ckpt.pt"),
        out=str(folder / "final.pt"),
    )  # fmt: skip


def test_sigterm_writes_a_last_checkpoint_and_resumes_bit_identically(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    for d in (whole, stopped):
        d.mkdir()
    subprocess.run([sys.executable, "-c", _script(whole)], check=True, env=env)
    gate = stopped / "go"
    proc = subprocess.Popen(
        [sys.executable, "-c", _script(stopped), str(gate)], env=env, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    lines = []
    try:
        for line in proc.stderr:  # the first progress line: training runs
            lines.append(line)
            if "iter 2/40" in line:
                break
        os.killpg(proc.pid, signal.SIGTERM)  # as SLURM: every process of the job
        gate.touch()  # the batches from iteration 10 on may come now
        lines += proc.communicate()[1].splitlines()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = "\n".join(lines)
    assert proc.returncode not in (0, -signal.SIGTERM), text
    ckpt = torch.load(stopped / "ckpt.pt", weights_only=True)
    at = ckpt["iteration"]
    assert 2 <= at < 40 and f"stopped by SIGTERM at iteration {at}" in text, text
    assert not list(stopped.glob(".*.tmp*"))
    assert not (stopped / "final.pt").exists()
    res = subprocess.run(
        [sys.executable, "-c", _script(stopped)], env=env, text=True,
        capture_output=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert f"resuming from {stopped / 'ckpt.pt'} at iteration {at}" in res.stderr
    a = torch.load(whole / "final.pt", weights_only=True)
    b = torch.load(stopped / "final.pt", weights_only=True)
    assert same(a, b)


def test_channels_last_changes_the_layout_not_the_result(tmp_path):
    """``channels_last`` trains the same network in another memory layout: the weights
    agree to floating-point noise, the trained weights are channels-last, and a run resumed
    from its checkpoint is bit-identical to the uninterrupted one."""

    def net() -> nn.Module:
        torch.manual_seed(0)  # a 3 x 3 convolution of 4 channels: the layouts differ
        convs = [nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)]
        return nn.Sequential(convs[0], nn.ReLU(), convs[1], nn.ReLU(), nn.Conv2d(4, 2, 1))

    plain_net, fast_net = net(), net()
    plain = run(tmp_path / "plain.pt", net=plain_net, channels_last=False)
    fast = run(tmp_path / "fast.pt", net=fast_net, channels_last=True)
    assert fast_net[2].weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain_net[2].weight.is_contiguous(memory_format=torch.channels_last)
    for key, value in plain.final_state.items():
        torch.testing.assert_close(fast.final_state[key], value, rtol=1e-4, atol=1e-5)
    run(tmp_path / "cut.pt", net=net(), channels_last=True)  # leaves its checkpoint at 15
    assert torch.load(tmp_path / "cut.pt", weights_only=True)["iteration"] == 15
    resumed_run = run(tmp_path / "cut.pt", net=net(), channels_last=True)  # resumes at 15
    assert same(resumed_run.final_state, fast.final_state)
