"""Training: determinism, SIGKILL-and-resume, model file, curves."""

import csv
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import REPO

import kdseg.train.segmentation as segmentation
from kdseg.errors import KdsegError
from kdseg.models.model_file import load_model, read_model_file
from kdseg.models.windows import predict_probabilities
from kdseg.nets import count_parameters
from kdseg.train.segmentation import train_segmentation_model

ARCH = {"network": "unet3d", "kwargs": {"features": [4, 8]}, "patch": [16, 16, 16]}
TRAINING = {
    "iterations": 24,
    "batch_size": 2,
    "validate_every": 12,
    "checkpoint_every": 6,
    "log_every": 6,
    "device": "cpu",
}


def _train(pre, out, seed=1, loss=None, arch=None, **changes):
    out.mkdir(parents=True, exist_ok=True)
    return train_segmentation_model(
        pre, out / "model.pt", out / "training.csv", out / "training.png", out / "ckpt.pt",
        arch or ARCH, loss or {"name": "ce+dice"}, {**TRAINING, **changes}, seed=seed, name="t",
    )  # fmt: skip


def _weights(path):
    return read_model_file(path)["state_dict"]


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_weights_other_seed_other_weights(tiny_preprocessed, tmp_path):
    _train(tiny_preprocessed, tmp_path / "a")
    _train(tiny_preprocessed, tmp_path / "b", loader_workers=0)  # batches made in-process
    _train(tiny_preprocessed, tmp_path / "c", seed=2)
    a, b, c = (_weights(tmp_path / x / "model.pt") for x in "abc")
    assert _same(a, b)  # same seed, whatever prepares the batches
    assert not _same(a, c)
    assert not (tmp_path / "a" / "ckpt.pt").exists()  # removed once the model file exists
    history = (tmp_path / "a" / "training.csv").read_text().splitlines()
    structures = [f"validation_dice_{s}" for s in ("esophagus", "heart", "trachea", "aorta")]
    assert history[0].split(",") == ["iteration", "loss", "lr", "validation_dice", *structures]
    assert len(history) == 25
    rows = list(csv.DictReader(history))
    validated = [r for r in rows if r["validation_dice"]]
    assert validated, "validation rows expected"
    for row in validated:  # the mean is the mean of the structures' Dice
        per_structure = [float(row[c]) for c in structures]
        assert float(row["validation_dice"]) == pytest.approx(sum(per_structure) / 4)
    assert (tmp_path / "a" / "training.png").stat().st_size > 1000


def test_history_and_curves_are_written_at_every_validation(
    tiny_preprocessed, tmp_path, monkeypatch
):
    """A running job can be watched: at each validation, the files hold the rows up to the
    previous validation (read from inside the validator, i.e. while training runs)."""
    seen = []
    make_validator = segmentation.make_validator

    def watching(*args, **kwargs):
        validate = make_validator(*args, **kwargs)

        def watched(model):
            history, curves = tmp_path / "training.csv", tmp_path / "training.png"
            if history.exists():
                rows = list(csv.DictReader(history.read_text().splitlines()))
                validated = [r["iteration"] for r in rows if r["validation_dice"]]
                seen.append((len(rows), validated, curves.stat().st_size > 1000))
            else:
                seen.append(None)
            return validate(model)

        return watched

    monkeypatch.setattr(segmentation, "make_validator", watching)
    _train(tiny_preprocessed, tmp_path, iterations=18, validate_every=6)
    # every 6 iterations, and 13 (3/4 of 18: the curve rule's reference point)
    assert seen == [None, (6, ["6"], True), (12, ["6", "12"], True), (13, ["6", "12", "13"], True)]
    assert not (tmp_path / "model.pt").with_name("ckpt.pt").exists()
    assert len((tmp_path / "training.csv").read_text().splitlines()) == 19


def test_model_file_rebuilds_the_model(tiny_preprocessed, tmp_path):
    meta = _train(tiny_preprocessed, tmp_path, weights="best")
    content = torch.load(tmp_path / "model.pt", weights_only=True)
    assert content["architecture"] == {"network": "unet3d", "kwargs": {"features": [4, 8]}}
    assert content["classes"]["background"] == 0 and len(content["classes"]) == 5
    assert content["spacing"] == [6.0, 6.0, 6.0]
    assert content["normalization"]["modalities"] == ["ct"]
    assert content["weights"] == "best" and content["best_iteration"] in (12, 24)
    model, _, spec = load_model(tmp_path / "model.pt")
    assert meta["parameters"] == count_parameters(model) == content["parameters"]
    image = np.load(tiny_preprocessed / f"{_test_case(tiny_preprocessed)}_image.npy")
    probs = predict_probabilities(model, image, spec)
    assert probs.shape == (5, *image.shape[1:])
    with pytest.raises(KdsegError, match="not a kdseg model file"):
        torch.save({"x": 1}, tmp_path / "other.pt")
        load_model(tmp_path / "other.pt")


def _edited_data(pre, tmp_path):
    """The same cases, preprocessed again (a new manifest)."""
    copy = tmp_path / "preprocessed"
    shutil.copytree(pre, copy)
    (copy / "manifest.json").write_text((pre / "manifest.json").read_text() + "\n")
    return {"pre": copy}


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda pre, tmp: {"loss": {"name": "dice"}}, 'loss.name: "ce+dice" -> "dice"'),
        (lambda pre, tmp: {"arch": {**ARCH, "kwargs": {"features": [4, 6]}}},
         "architecture.kwargs.features: [4, 8] -> [4, 6]"),
        (_edited_data, "data: "),
    ],
)  # fmt: skip
def test_checkpoint_of_other_settings_is_not_resumed(
    tiny_preprocessed, tmp_path, monkeypatch, caplog, edit, key
):
    def fail(*args, **kwargs):
        raise RuntimeError("killed before the model file")

    with monkeypatch.context() as patch:  # the run ends before its model file, as if killed
        patch.setattr(segmentation, "save_model", fail)
        with pytest.raises(RuntimeError, match="killed"):
            _train(tiny_preprocessed, tmp_path)
    assert torch.load(tmp_path / "ckpt.pt", weights_only=True)["iteration"] == 18
    caplog.set_level(logging.INFO, "kdseg")
    changes = edit(tiny_preprocessed, tmp_path)
    _train(changes.pop("pre", tiny_preprocessed), tmp_path, **changes)
    assert not any("resuming" in r.getMessage() for r in caplog.records)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert key in warning and "starting afresh" in warning
    assert read_model_file(tmp_path / "model.pt")["iterations"] == 24


def _test_case(pre):
    import json

    manifest = json.loads((pre / "manifest.json").read_text())
    return next(c["case"] for c in manifest["cases"] if c["split"] == "test")


RUN = """
import sys, json
sys.path.insert(0, {src!r})
from kdseg.runtime.steps import setup_logging
from kdseg.train.segmentation import train_segmentation_model
setup_logging({log!r})
out = {out!r}
train_segmentation_model({pre!r}, out + "/model.pt", out + "/h.csv", out + "/h.png",
    out + "/ckpt.pt", json.loads({arch!r}), {{"name": "ce"}}, json.loads({training!r}),
    seed=7, name="resume")
"""


def _script(pre, out, log, training):
    import json

    return RUN.format(
        src=str(REPO / "src"), log=str(log), out=str(out), pre=str(pre),
        arch=json.dumps(ARCH), training=json.dumps(training),
    )  # fmt: skip


def test_sigkill_and_resume_gives_the_same_weights(tiny_preprocessed, tmp_path):
    training = {**TRAINING, "iterations": 60, "checkpoint_every": 10, "validate_every": 30}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for d in (whole, killed):
        d.mkdir()
    subprocess.run(
        [sys.executable, "-c", _script(tiny_preprocessed, whole, whole / "log", training)],
        check=True, env=env,
    )  # fmt: skip
    code = _script(tiny_preprocessed, killed, killed / "log", training)
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    ckpt = killed / "ckpt.pt"
    # kill once a checkpoint past iteration 20 exists (no time limit: a busy machine is slow)
    while not (ckpt.exists() and torch.load(ckpt, weights_only=True)["iteration"] >= 20):
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "model.pt").exists()
    stopped_at = torch.load(ckpt, weights_only=True)["iteration"]
    assert 20 <= stopped_at < 60
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert f"resuming from {ckpt} at iteration {stopped_at}" in (killed / "log").read_text()
    assert _same(_weights(whole / "model.pt"), _weights(killed / "model.pt"))
    assert (whole / "h.csv").read_text() == (killed / "h.csv").read_text()
