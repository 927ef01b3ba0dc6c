"""Soft labels and temperature (issue 15, item 5): 8 bits lose what softening at T > 1 needs.

Random per-member logits stand in for an ensemble (a fake :class:`Ensemble` in the soft-label
job), so the float32 targets are known exactly: the authors' ``mean_m softmax(z_m / T)`` and the
averaged rule ``softmax(log(mean_m softmax(z_m)) / T)``, re-implemented here in numpy.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from test_methods import BASE
from test_temperature import authors_target, averaged_target

from kdseg import config as kdcfg
from kdseg.config.students import soft_label_storage
from kdseg.data.preprocess import load_manifest
from kdseg.distill import soft_labels as sl
from kdseg.distill.soft_labels import SoftLabelLayout, quantise
from kdseg.distill.trainers.kd import train_from_soft_labels
from kdseg.errors import ConfigError, KdsegError

MEMBERS = 3
BOUND = 1e-2  # the largest target error the stored form may cause at T = 2 and 4


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def member_logits(image: np.ndarray, classes: int) -> np.ndarray:
    """Confident random logits (M, K, X, Y, Z) of a case, fixed by its image."""
    seed = int(abs(float(np.asarray(image, dtype=np.float64).sum())) * 1000) % 2**32
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 4.0, size=(MEMBERS, classes, *image.shape[1:]))


class FakeEnsemble:
    """Stands in for :class:`kdseg.ensemble.networks.Ensemble`: members with known logits."""

    classes = 5

    def __init__(self, model_files, device, amp=False, inference=None):
        self.members = [None] * MEMBERS

    def member_probabilities(self, image):
        for z in member_logits(image, self.classes):
            yield _softmax(z, 0).astype(np.float32)

    def __call__(self, image):
        mean = sum(self.member_probabilities(image)) / MEMBERS
        return mean.astype(np.float32), {}


def test_8bit_soft_labels_lose_what_softening_needs():
    """Reproduction: the uint8 mean probabilities, softened at T = 2 and 4, miss the float32
    targets by more than the bound (at T = 1 by at most half a step)."""
    z = np.random.default_rng(0).normal(0.0, 4.0, size=(1, 5, 4, 20000))
    mean = _softmax(z, 2).mean(1)
    restored = quantise(mean).astype(np.float64) / 255
    assert np.abs(restored - mean).max() <= 0.5 / 255 + 1e-9
    old, exact = np.log(restored.clip(1e-38))[:, None], np.log(mean)[:, None]
    errors = {t: np.abs(averaged_target(old, t) - averaged_target(exact, t)).max() for t in (2, 4)}
    assert errors[2] > BOUND and errors[4] > BOUND, errors  # measured: 0.041 (T = 2), 0.146 (T = 4)


@pytest.fixture
def fake_ensemble(monkeypatch):
    monkeypatch.setattr(sl, "Ensemble", FakeEnsemble)


def _write(pre, out, storage):
    return sl.write_soft_labels(["a.pt"] * MEMBERS, pre, out, device="cpu", storage=storage)


def _cases(pre):
    return [c["case"] for c in load_manifest(pre)["cases"] if c["split"] in ("train", "validation")]


@pytest.mark.usefixtures("fake_ensemble")
def test_float16_log_storage_keeps_the_targets_at_t2_and_t4(tiny_preprocessed, tmp_path):
    pre = tiny_preprocessed
    summaries = {s: _write(pre, tmp_path / s, s) for s in sl.STORAGES}
    image = np.load(pre / f"{_cases(pre)[0]}_image.npy")
    z = member_logits(image, FakeEnsemble.classes)[None]  # (1, M, K, ...)
    worst = {}
    for storage, summary in summaries.items():
        layout = SoftLabelLayout.read(tmp_path / storage)
        assert layout.storage == summary["storage"] == storage
        stored = np.load(tmp_path / storage / f"{_cases(pre)[0]}.npy", mmap_mode="r")
        assert isinstance(stored, np.memmap)  # students read them memory-mapped
        groups = MEMBERS if storage == "float16_log_members" else 1
        assert stored.dtype == (np.uint8 if storage == "uint8" else np.float16)
        assert stored.shape == (groups * 5, *image.shape[1:])
        for t in (1.0, 2.0, 4.0):
            for rule, exact in (("members", authors_target), ("average", averaged_target)):
                if not layout.supports(t, rule):
                    continue
                target = layout.target(torch.from_numpy(np.array(stored))[None], t, rule)
                error = np.abs(target.double().numpy() - exact(z, t)).max()
                worst[storage, rule, t] = error
                if t > 1:  # the job's own measure of the same error, in soft_labels.json
                    reported = summary["cases"][0]["target_error"][rule][f"{t:g}"]
                    assert reported == pytest.approx(error, abs=1e-4)
    for (storage, _rule, t), error in worst.items():  # 8 bits at T = 1: renormalised steps
        assert error < (BOUND if storage == "uint8" else 1e-3), (storage, t, error)
    # which targets each storage can give: 8 bits only at T = 1, the log of the mean only
    # the averaged rule (several members), every member's log-probabilities both rules
    assert not SoftLabelLayout("uint8", 1, MEMBERS).supports(2.0, "average")
    assert not SoftLabelLayout("float16_log_mean", 1, MEMBERS).supports(2.0, "members")
    assert SoftLabelLayout("float16_log_mean", 1, 1).supports(2.0, "members")
    assert {("float16_log_members", "members", 4.0), ("float16_log_mean", "average", 4.0)} <= set(
        worst
    )
    # soft_labels.json: the error at T = 1 and, for float16 storage, the worst target errors
    assert summaries["uint8"]["max_abs_error"] <= 0.5 / 255 + 1e-6
    assert summaries["uint8"]["max_target_error"] == {}
    members = summaries["float16_log_members"]["max_target_error"]
    assert set(members) == {"members", "average"} and max(members["members"].values()) < BOUND
    assert set(summaries["float16_log_mean"]["max_target_error"]) == {"average"}
    sizes = {s: summary["bytes_stored"] for s, summary in summaries.items()}
    assert sizes["float16_log_mean"] == pytest.approx(2 * sizes["uint8"], rel=0.05)
    assert sizes["float16_log_members"] == pytest.approx(2 * MEMBERS * sizes["uint8"], rel=0.05)


def _config(edit=None) -> dict:
    config = copy.deepcopy(BASE)
    (edit or (lambda c: None))(config)
    kdcfg.validate_config(config)
    return config


def test_the_stored_form_follows_what_the_students_need():
    def kd(**changes):
        return lambda c: c["students"]["kd"].update(**changes)

    pair, big = "ensembles/pair", "teachers/large-ce/seed1"
    assert soft_label_storage(_config(), pair) == "uint8"  # every student at T = 1
    for t in (2.0, 4.0):  # a temperature above 1: member log-probabilities, at any T
        assert soft_label_storage(_config(kd(temperature=t)), pair) == "float16_log_members"
    assert soft_label_storage(_config(kd(temperature=0.5)), pair) == "float16_log_members"
    average = _config(kd(temperature=2.0, soften="average"))
    assert soft_label_storage(average, pair) == "float16_log_mean"
    # one model's soft labels: its log-probabilities (the rules agree)
    assert soft_label_storage(_config(kd(temperature=2.0)), big) == "float16_log_mean"
    # the assistant chain: the assistant's soft labels follow the entry's temperature too
    chain = _config(lambda c: c["students"]["ta"].update(temperature=3.0))
    assert soft_label_storage(chain, big) == "float16_log_mean"
    assert soft_label_storage(chain, "students/ta/big/ta_assistant/seed1") == "float16_log_mean"
    assert soft_label_storage(chain, pair) == "uint8"
    # the adaptive student's teachers: each one model
    limit = _config(lambda c: c["students"]["adaptive"].update(temperature=2.0))
    assert soft_label_storage(limit, "teachers/small-ce/subset1of3/seed1") == "float16_log_mean"


@pytest.mark.usefixtures("fake_ensemble")
def test_students_train_from_float16_soft_labels_and_8bit_at_t2_is_refused(
    tiny_preprocessed, tmp_path
):
    _write(tiny_preprocessed, tmp_path / "f16", "float16_log_members")
    _write(tiny_preprocessed, tmp_path / "u8", "uint8")
    common = {
        "preprocessed": tiny_preprocessed,
        "architecture": {"network": "unet3d", "kwargs": {"features": [2, 4]},
                         "patch": [16, 16, 16]},
        "training": {"iterations": 2, "batch_size": 2, "device": "cpu", "loader_workers": 0,
                     "validate_every": 0},
        "seed": 1,
    }  # fmt: skip
    for name in ("model_out", "history_out", "curves_out", "checkpoint"):
        common[name] = tmp_path / f"{name}.out"
    settings = {"soft_loss": "mse", "temperature": 2.0, "hard_weight": 0.1, "soften": "members"}
    info = train_from_soft_labels(tmp_path / "f16", settings, **common)
    assert info["distillation"]["temperature"] == 2.0
    assert np.isfinite(pd_last_loss(tmp_path / "history_out.out"))
    with pytest.raises(KdsegError, match="stored as uint8 cannot give targets at temperature 2"):
        train_from_soft_labels(tmp_path / "u8", settings, **common)
    json.loads((tmp_path / "u8" / "soft_labels.json").read_text())  # left as it was


def pd_last_loss(history) -> float:
    import pandas as pd

    return float(pd.read_csv(history)["loss"].iloc[-1])


PREDICTIONS = 3  # per member, e.g. the 2D network's three orientations


def prediction_logits(image: np.ndarray, classes: int) -> np.ndarray:
    """Random logits (M, P, K, X, Y, Z): P predictions per member, fixed by the image."""
    seed = int(abs(float(np.asarray(image, dtype=np.float64).sum())) * 1000) % 2**32
    rng = np.random.default_rng(seed + 1)
    return rng.normal(0.0, 4.0, size=(MEMBERS, PREDICTIONS, classes, *image.shape[1:]))


class FakePredictionsEnsemble(FakeEnsemble):
    """Members that blend several predictions per voxel, each softened at T first (as
    :func:`kdseg.models.windows.predict_probabilities` does)."""

    def member_probabilities(self, image, temperature=1.0):
        for z in prediction_logits(image, self.classes):
            yield _softmax(z / temperature, 1).mean(0).astype(np.float32)


def test_soft_labels_softened_per_prediction_give_the_authors_target(
    tiny_preprocessed, tmp_path, monkeypatch
):
    """``soften: predictions``: the mean over members and predictions of softmax(z / T) (the
    authors' networks end in softmax(z / T), networks.py:111, averaged over orientations,
    testing_network.py:410-475). Ours (``members``) softens each member's blend: equal at
    T = 1, other targets at T = 2."""
    monkeypatch.setattr(sl, "Ensemble", FakePredictionsEnsemble)
    pre, case = tiny_preprocessed, _cases(tiny_preprocessed)[0]
    z = prediction_logits(np.load(pre / f"{case}_image.npy"), 5)  # (M, P, K, ...)

    def authors(t):  # every prediction softened, then averaged
        return _softmax(z / t, 2).mean((0, 1))

    def ours(t):  # each member's blend of its predictions softened, then averaged
        return _softmax(np.log(_softmax(z, 2).mean(1)) / t, 1).mean(0)

    np.testing.assert_allclose(authors(1.0), ours(1.0), atol=1e-12)
    assert np.abs(authors(2.0) - ours(2.0)).max() > 0.1  # about 0.13 on such logits
    summary = _write(pre, tmp_path / "soft", sl.softened_storage(2.0))
    assert (summary["storage"], summary["temperature"], summary["groups"]) == (
        "float16_softened", 2.0, MEMBERS
    )  # fmt: skip
    layout = SoftLabelLayout.read(tmp_path / "soft")
    stored = torch.from_numpy(np.load(tmp_path / "soft" / f"{case}.npy"))[None]
    target = layout.target(stored, 2.0, "predictions")[0].double().numpy()
    assert np.abs(target - authors(2.0)).max() < 1e-3
    assert summary["cases"][0]["target_error"]["predictions"]["2"] == pytest.approx(
        np.abs(target - authors(2.0)).max(), abs=1e-4
    )
    # the members rule on every member's log-probabilities (T = 1 blends) gives ours
    _write(pre, tmp_path / "members", "float16_log_members")
    members = SoftLabelLayout.read(tmp_path / "members")
    stored = torch.from_numpy(np.load(tmp_path / "members" / f"{case}.npy"))[None]
    assert np.abs(members.target(stored, 2.0, "members")[0].numpy() - ours(2.0)).max() < 1e-3
    # softened soft labels serve their temperature and rule only; others refuse that rule
    assert not layout.supports(1.0, "predictions") and not layout.supports(2.0, "members")
    with pytest.raises(KdsegError, match=r"stored as float16_softened_T2 cannot give targets"):
        layout.require(4.0, "predictions", tmp_path / "soft")
    with pytest.raises(KdsegError, match="softened at T = 2 cannot give targets at T = 1"):
        layout.target(stored, 1.0, "members")
    assert not members.supports(2.0, "predictions") and members.supports(1.0, "predictions")


def test_softening_per_prediction_stores_one_temperature():
    def kd(**changes):
        return lambda c: c["students"]["kd"].update(**changes)

    pair = "ensembles/pair"
    config = _config(kd(temperature=2.0, soften="predictions"))
    assert soft_label_storage(config, pair) == "float16_softened_T2"
    assert soft_label_storage(_config(kd(soften="predictions")), pair) == "uint8"  # T = 1

    def two_readers(c):  # a second student of the same ensemble at another temperature
        c["students"]["kd"].update(temperature=2.0, soften="predictions")
        c["students"]["kd2"] = {**copy.deepcopy(c["students"]["kd"]), "temperature": 4.0}

    with pytest.raises(ConfigError, match=r"students\.kd: soften: predictions at temperature 2"):
        soft_label_storage(_config(two_readers), pair)
    with pytest.raises(ConfigError, match="unknown"):
        sl.parse_storage("float16_softened_Tx")
