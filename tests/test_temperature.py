"""Temperature (issue 15, item 4): the authors soften every member, then average.

The authors' networks end in ``softmax(z / T)`` (``src/networks.py:9-11``), their ensemble
averages the members' outputs (``src/ensemble.py:283``, with ``temperature`` passed to every
member at ``:141,165``), and their student's MSE compares its own ``softmax(s / T)`` with that
target (``src/training_network.py:136-138,223-224,488-490``). The formulas are re-implemented
here in numpy and compared with ours on random per-member logits.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_methods import BASE

from kdseg import config as kdcfg
from kdseg.distill.features import FeatureKDLoss
from kdseg.distill.kd_loss import KDLoss, tempered_target
from kdseg.distill.soft_labels import SoftLabelLayout
from kdseg.distill.trainers.kd import kd_step_loss
from kdseg.distill.trainers.online import OnlinePair, online_step_loss
from kdseg.errors import ConfigError
from kdseg.nets import build_network

MEMBERS, CLASSES = 5, 4


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def authors_target(z: np.ndarray, t: float) -> np.ndarray:
    """The authors' rule: the mean over members (axis 1) of softmax(z_m / T) over classes."""
    return _softmax(z / t, 2).mean(1)


def averaged_target(z: np.ndarray, t: float) -> np.ndarray:
    """Our former rule: the mean of the members' probabilities, softened."""
    return _softmax(np.log(_softmax(z, 2).mean(1)) / t, 1)


def random_logits(seed: int = 0, voxels: int = 4096, scale: float = 4.0) -> np.ndarray:
    """Per-member logits (N = 2, M, K, voxels)."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, scale, size=(2, MEMBERS, CLASSES, voxels)).astype(np.float64)


def test_the_two_soften_rules_agree_at_t1_and_differ_above():
    """Reproduction: softening the members and softening their average give other targets."""
    z = random_logits()
    np.testing.assert_allclose(authors_target(z, 1.0), averaged_target(z, 1.0), atol=1e-12)
    gaps = {t: np.abs(authors_target(z, t) - averaged_target(z, t)).max() for t in (2.0, 4.0)}
    assert gaps[2.0] > 0.1 and gaps[4.0] > 0.1, gaps  # measured: 0.21 (T = 2), 0.24 (T = 4)


@pytest.mark.parametrize("t", [2.0, 4.0])
def test_default_target_is_the_authors_rule_and_average_is_an_option(t):
    z = random_logits(seed=int(t))
    logp = torch.from_numpy(z).float()
    np.testing.assert_allclose(
        tempered_target(logp, t).numpy(), authors_target(z, t), atol=1e-6
    )  # fmt: skip
    np.testing.assert_allclose(
        tempered_target(logp, t, "average").numpy(), averaged_target(z, t), atol=1e-5
    )
    # log-probabilities (what float16 soft labels store) give the same targets as logits
    logp_members = torch.log_softmax(logp, dim=2)
    torch.testing.assert_close(tempered_target(logp_members, t), tempered_target(logp, t))


@pytest.mark.parametrize("t", [2.0, 4.0])
def test_student_step_distils_the_authors_target_with_mse_at_t(t):
    """The kd step on stored per-member log-probabilities: the authors' MSE of the student's
    softmax(s / T) against the mean of the members' softmax(z_m / T), summed over classes."""
    z = random_logits(seed=3, voxels=8 * 8 * 8)
    stored = torch.log_softmax(torch.from_numpy(z).float(), 2).half().float()
    stored = stored.reshape(2, MEMBERS * CLASSES, 8, 8, 8)  # as the sampler delivers them
    layout = SoftLabelLayout("float16_log_members", MEMBERS, MEMBERS)
    net = build_network("unet3d", 1, CLASSES, features=[2, 4])
    torch.manual_seed(0)
    batch = {"image": torch.randn(2, 1, 8, 8, 8), "soft": stored,
             "label": torch.randint(0, CLASSES, (2, 8, 8, 8))}  # fmt: skip
    settings = {"soft_loss": "mse", "temperature": t, "hard_weight": 0.0, "soften": "members"}
    loss = kd_step_loss(settings, layout)(CLASSES, torch.device("cpu"), net)(net, batch)
    s = net(batch["image"]).detach().double().numpy().reshape(2, CLASSES, -1)
    target = authors_target(stored.double().numpy().reshape(2, MEMBERS, CLASSES, -1), t)
    expected = sum(((_softmax(s / t, 1)[:, c] - target[:, c]) ** 2).mean() for c in range(CLASSES))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # soften: average distils our former rule's target
    settings["soften"] = "average"
    loss = kd_step_loss(settings, layout)(CLASSES, torch.device("cpu"), net)(net, batch)
    target = averaged_target(stored.double().numpy().reshape(2, MEMBERS, CLASSES, -1), t)
    expected = sum(((_softmax(s / t, 1)[:, c] - target[:, c]) ** 2).mean() for c in range(CLASSES))
    assert loss.item() == pytest.approx(expected, rel=1e-4)


def test_mse_uses_the_temperature_as_the_authors_code():
    """Before, ``soft_loss: mse`` ignored the temperature; the authors' student output is
    softmax(s / T) in the MSE (no T^2 factor)."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 5, generator=g)
    target = torch.randn(2, 3, 5, generator=g).softmax(1)
    p = (logits / 2.0).softmax(1)
    expected = sum(((p[:, c] - target[:, c]) ** 2).mean() for c in range(3))
    assert KDLoss("mse", 2.0, 0.0)(logits, target).item() == pytest.approx(expected.item())
    assert KDLoss("mse", 2.0, 0.0)(logits, target).item() != pytest.approx(
        KDLoss("mse", 1.0, 0.0)(logits, target).item()
    )


def test_one_teacher_targets_are_softmax_at_t():
    """Online KD and feature KD have one teacher's logits: the target is softmax(z / T)."""
    torch.manual_seed(1)
    batch = {"image": torch.randn(2, 1, 8, 8, 8), "label": torch.randint(0, 3, (2, 8, 8, 8))}
    pair = OnlinePair(build_network("unet3d", 1, 3, features=[4, 8]),
                      build_network("unet3d", 1, 3, features=[2, 4]))  # fmt: skip
    kd = KDLoss("mse", 3.0, 0.0)
    value = online_step_loss(lambda *_: torch.zeros(()), kd)(pair, batch)
    with torch.no_grad():
        t_logits, s_logits = pair.teacher(batch["image"]), pair.student(batch["image"])
    expected = kd(s_logits, (t_logits / 3.0).softmax(1))
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)
    loss = FeatureKDLoss(3, [], [], temperature=3.0)
    kl = loss.terms(s_logits, t_logits, batch["label"])["kl"]
    qt, log_p = (t_logits / 3.0).softmax(1), F.log_softmax(s_logits / 3.0, 1)
    assert kl.item() == pytest.approx(((qt * (qt.log() - log_p)).sum(1).mean() * 9).item(), 1e-4)


def _validated(edit) -> dict:
    config = copy.deepcopy(BASE)
    edit(config)
    kdcfg.validate_config(config)
    return config


def test_soften_is_a_student_setting_that_matters_only_above_t1():
    config = _validated(lambda c: None)
    assert config["students"]["kd"]["soften"] == "members"  # the authors' rule by default
    assert "soften" not in kdcfg.student_settings(config, "kd")  # T = 1: no effect
    config = _validated(lambda c: c["students"]["kd"].update(temperature=2.0, soften="average"))
    assert kdcfg.student_settings(config, "kd")["soften"] == "average"
    with pytest.raises(ConfigError, match=r"'students\.feature\.soften': not used by method"):
        _validated(lambda c: c["students"]["feature"].update(soften="members"))
    with pytest.raises(ConfigError, match=r"students\.kd\.soften"):
        _validated(lambda c: c["students"]["kd"].update(soften="both"))


def test_adaptive_step_softens_its_teachers_at_t():
    """Adaptive KD on float16 log-probabilities: with agreeing teachers the target is their
    softmax(z / T), by either rule."""
    from kdseg.distill.trainers.adaptive import adaptive_step_loss

    torch.manual_seed(2)
    z = torch.randn(2, 3, 8, 8, 8) * 4
    stored = torch.log_softmax(z, 1).half().float()
    batch = {"image": torch.randn(2, 1, 8, 8, 8), "label": torch.randint(0, 3, (2, 8, 8, 8)),
             "soft0": stored, "soft1": stored.clone()}  # fmt: skip
    net = build_network("unet3d", 1, 3, features=[2, 4])
    layouts = [SoftLabelLayout("float16_log_mean", 1, 1)] * 2
    expected = KDLoss("mse", 2.0, 0.1)(net(batch["image"]), (stored / 2.0).softmax(1),
                                       batch["label"])  # fmt: skip
    for rule in ("members", "average"):
        settings = {"soft_loss": "mse", "temperature": 2.0, "hard_weight": 0.1, "tau": 0.5,
                    "soften": rule}  # fmt: skip
        step = adaptive_step_loss(settings, layouts)(3, torch.device("cpu"), net)
        assert step(net, batch).item() == pytest.approx(expected.item(), rel=1e-5)


def test_predictions_rule_is_the_members_rule_on_one_prediction_per_voxel():
    """``soften: predictions`` differs from ``members`` only where a member blends several
    predictions (its soft labels are then stored softened: test_soft_labels); on logits of a
    live teacher or stored log-probabilities the two give the same target."""
    z = random_logits(seed=3)
    logp = torch.from_numpy(z).float()
    for t in (1.0, 2.0):
        torch.testing.assert_close(
            tempered_target(logp, t, "predictions"), tempered_target(logp, t)
        )
    config = _validated(lambda c: c["students"]["kd"].update(temperature=2.0, soften="predictions"))
    assert kdcfg.student_settings(config, "kd")["soften"] == "predictions"
