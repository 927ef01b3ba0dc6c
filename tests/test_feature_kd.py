"""Feature distillation: hooks, each loss term on hand-computable inputs, where gradients go."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kdseg.distill.features import FeatureKDLoss, FeatureTap, feature_channels
from kdseg.errors import ConfigError
from kdseg.nets import build_network


def test_tap_keeps_named_layer_outputs_and_removes_its_hooks():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 1), torch.nn.ReLU(), torch.nn.Conv2d(3, 2, 1))
    x = torch.randn(1, 1, 4, 4)
    with FeatureTap(net, ["0", "2"]) as tap:
        out = net(x)
    assert torch.equal(tap.features["2"], out) and tap.features["0"].shape == (1, 3, 4, 4)
    assert not net[0]._forward_hooks  # removed on exit
    with pytest.raises(ConfigError, match="feature layer 'nope'"), FeatureTap(net, ["nope"]):
        pass
    assert feature_channels(net, ["0", "2"], x) == [3, 2]


def test_terms_on_hand_computable_inputs():
    loss = FeatureKDLoss(num_classes=2, student_channels=[1], teacher_channels=[1], spatial_dims=2)
    with torch.no_grad():  # identity adapter
        loss.adapters[0].weight.fill_(1.0)
        loss.adapters[0].bias.zero_()
    labels = torch.tensor([[[0, 1], [1, 0]]])
    perfect = torch.stack([1 - labels, labels], 1).float() * 40 - 20  # confident and right
    features = torch.arange(4.0).reshape(1, 1, 2, 2)
    terms = loss.terms(perfect, perfect, labels, [features], [features])
    assert terms["kl"].item() == pytest.approx(0.0, abs=1e-6)  # same distribution
    assert terms["lovasz"].item() == pytest.approx(0.0, abs=1e-6)  # 1 - IoU of a right mask
    assert terms["dice"].item() == pytest.approx(0.0, abs=1e-4)
    assert terms["feature"].item() == 0.0
    # features twice as large -> MSE = mean(x^2) = (0 + 1 + 4 + 9) / 4
    doubled = loss.terms(perfect, perfect, labels, [features], [2 * features])["feature"]
    assert doubled.item() == pytest.approx(3.5)
    # uniform student vs confident teacher: KL = log 2 per voxel (T = 1)
    uniform = torch.zeros(1, 2, 2, 2)
    assert loss.terms(uniform, perfect, labels)["kl"].item() == pytest.approx(math.log(2), 1e-6)


def test_feature_maps_of_other_size_are_interpolated():
    loss = FeatureKDLoss(2, [4], [6], spatial_dims=3)
    student, teacher = torch.randn(2, 4, 4, 4, 4), torch.randn(2, 6, 8, 8, 8)
    expected = F.mse_loss(
        F.interpolate(loss.adapters[0](student), size=(8, 8, 8), mode="trilinear"), teacher
    )
    assert loss.feature_term([student], [teacher]).item() == pytest.approx(expected.item())
    with pytest.raises(ConfigError, match="unknown term"):
        FeatureKDLoss(2, [4], [6], weights={"lovász": 1.0})


def test_gradients_reach_student_and_adapters_not_the_frozen_teacher():
    torch.manual_seed(0)
    teacher = build_network("unet3d", 1, 3, features=[4, 8])
    student = build_network("unet3d", 1, 3, features=[2, 4])
    teacher.requires_grad_(False).eval()
    layers = ["down.0"]  # the first encoder level of both
    x = torch.randn(1, 1, 8, 8, 8)
    labels = torch.randint(0, 3, (1, 8, 8, 8))
    loss = FeatureKDLoss(
        3, feature_channels(student, layers, x), feature_channels(teacher, layers, x)
    )
    with FeatureTap(student, layers) as s_tap, FeatureTap(teacher, layers) as t_tap:
        student_logits = student(x)
        with torch.no_grad():
            teacher_logits = teacher(x)
    s_feats = [s_tap.features[n] for n in layers]
    t_feats = [t_tap.features[n] for n in layers]
    value = loss(student_logits, teacher_logits, labels, s_feats, t_feats)
    value.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in loss.adapters.parameters())
    assert sum(p.grad.abs().sum() for p in student.parameters() if p.grad is not None) > 0
    assert all(p.grad is None for p in teacher.parameters())
