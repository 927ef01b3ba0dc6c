"""Live progress of a running training: the history handed out at every validation (or
checkpoint), and rewritten files consistent with a run resumed from its checkpoint."""

from __future__ import annotations

import csv

import pytest
import torch
from test_resume import RandomBatches, step_loss, tiny_net
from torch import nn

from kdseg.evaluation.curve_figure import plot_training_curves, thin
from kdseg.train.history import live_progress
from kdseg.train.loop import TrainSettings, train

BASE = {"iterations": 20, "batch_size": 2, "log_every": 5, "loader_workers": 0, "amp": False}


def validate(net: nn.Module) -> dict[str, float]:
    """A score that follows the weights (so that rows of two runs can be compared)."""
    return {"validation_dice": float(torch.sigmoid(next(net.parameters()).detach().sum()))}


def run(ckpt, progress, step=step_loss, validator=validate, **changes):
    settings = TrainSettings(**{**BASE, **changes})
    return train(
        tiny_net(), RandomBatches(), step, settings, seed=3, checkpoint=ckpt,
        validate=validator, name="tiny", progress=progress,
    )  # fmt: skip


def test_progress_gets_the_rows_at_every_validation(tmp_path):
    seen: list[tuple[int, list[int]]] = []

    def progress(history):
        validated = [int(r["iteration"]) for r in history if "validation_dice" in r]
        seen.append((len(history), validated))

    run(tmp_path / "ckpt.pt", progress, validate_every=6, checkpoint_every=5)
    # every 6 iterations, the end, and 15 (3/4 of 20: the curve rule's reference point)
    assert seen == [
        (6, [6]), (12, [6, 12]), (15, [6, 12, 15]), (18, [6, 12, 15, 18]),
        (20, [6, 12, 15, 18, 20]),
    ]  # fmt: skip


def test_without_validation_progress_comes_with_each_checkpoint(tmp_path):
    seen: list[int] = []
    run(tmp_path / "ckpt.pt", lambda h: seen.append(len(h)), validator=None, checkpoint_every=5)
    assert seen == [5, 10, 15]  # the end: the caller writes its final files


def test_a_failing_progress_write_does_not_stop_training(tmp_path, caplog):
    def progress(history):
        raise OSError(28, "No space left on device")

    result = run(tmp_path / "ckpt.pt", progress, validate_every=10, checkpoint_every=5)
    assert len(result.history) == 20
    assert "progress files not written at iteration 10" in caplog.text


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_live_files_of_a_killed_run_agree_with_the_resumed_run(tmp_path):
    """Killed past its last checkpoint: the live CSV held rows the checkpoint does not; the
    resumed run rewrites it at once from the checkpoint, and ends with an uninterrupted run's
    rows (CPU: bit for bit)."""
    common = {"validate_every": 3, "checkpoint_every": 5}
    whole = tmp_path / "whole"
    run(whole / "ckpt.pt", live_progress(whole / "h.csv", whole / "h.png", "t"), **common)

    calls = {"n": 0}

    def dies_at_iteration_11(net, batch):
        calls["n"] += 1
        if calls["n"] == 11:
            raise RuntimeError("killed")
        return step_loss(net, batch)

    killed = tmp_path / "killed"
    live = live_progress(killed / "h.csv", killed / "h.png", "t")
    with pytest.raises(RuntimeError, match="killed"):
        run(killed / "ckpt.pt", live, step=dies_at_iteration_11, **common)
    assert torch.load(killed / "ckpt.pt", weights_only=True)["iteration"] == 10
    assert len(rows(killed / "h.csv")) == 9  # the validation of iteration 9, not yet 12
    assert rows(killed / "h.csv") == rows(whole / "h.csv")[:9]

    first: list[int] = []

    def watched(history):
        first.append(len(history))
        live(history)
        if len(first) == 1:  # on resuming: the checkpoint's rows, written out at once
            assert len(rows(killed / "h.csv")) == 10

    run(killed / "ckpt.pt", watched, **common)
    assert first[0] == 10
    assert (killed / "h.csv").read_text() == (whole / "h.csv").read_text()
    assert (killed / "h.png").stat().st_size > 1000


def test_thin_keeps_short_lines_and_the_extremes_of_long_ones():
    x = torch.arange(10).numpy()
    assert thin(x, x * 2.0)[1].tolist() == (x * 2.0).tolist()
    y = torch.zeros(100_000).numpy()
    y[12_345], y[99_000] = 5.0, -3.0
    xs, ys = thin(torch.arange(100_000).numpy(), y, limit=2000)
    assert len(ys) <= 2000 and ys.max() == 5.0 and ys.min() == -3.0
    assert (xs[1:] >= xs[:-1]).all()


def test_live_progress_writes_both_files(tmp_path):
    """(About 0.1 s for 1000 rows on a 2-core machine; not asserted: a busy machine is slow.)"""
    history = [{"iteration": i + 1, "loss": 1.0 / (i + 1), "lr": 1e-3} for i in range(1000)]
    for row in history[99::100]:
        row["validation_dice"] = 0.5
    write = live_progress(tmp_path / "h.csv", tmp_path / "h.png", "t")
    write(history[:500])
    write(history)  # replaces the files
    assert len(rows(tmp_path / "h.csv")) == 1000
    assert (tmp_path / "h.png").stat().st_size > 1000
    plot_training_curves(history[:1], tmp_path / "one.png")  # one row: still a figure
    assert (tmp_path / "one.png").stat().st_size > 1000
