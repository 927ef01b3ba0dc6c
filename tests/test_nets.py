import pytest
import torch

from kdseg.errors import ConfigError
from kdseg.nets import build_network, count_parameters

# METHODS section 1: parameter counts at the paper's width (5 classes, 1 channel); the exact
# counts of the authors' modules: tests/test_nets_authors.py
PAPER = {"dilated2d": 90_000, "unet3d": 5_600_000, "resnet3d": 5_900_000}


@pytest.mark.parametrize(("name", "expected"), PAPER.items())
def test_parameter_counts_at_paper_width_within_5_percent(name, expected):
    n = count_parameters(build_network(name, in_channels=1, out_channels=5))
    assert abs(n - expected) / expected < 0.05, n


@pytest.mark.parametrize("name", ["dilated2d", "dilated2d_kdseg"])
def test_dilated_cnn_receptive_field_is_131_by_gradient(name):
    torch.manual_seed(0)
    net = build_network(name, 1, 2).eval()
    x = torch.zeros(1, 1, 161, 161, requires_grad=True)
    out = net(x)
    assert out.shape[-2:] == (161 - 130, 161 - 130)  # valid convolutions
    out[0, 1, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(dim=0)).flatten()
    assert int(rows[-1] - rows[0] + 1) == 131 and int(cols[-1] - cols[0] + 1) == 131


@pytest.mark.parametrize(
    ("name", "kwargs", "shape"),
    [
        ("unet3d", {"features": [4, 8, 16]}, (2, 1, 16, 16, 8)),
        ("resnet3d", {"features": 4, "blocks": 1}, (2, 1, 16, 16, 8)),
        ("unet2d", {"features": [4, 8]}, (2, 1, 16, 16)),
        ("resnet2d", {"features": 4, "blocks": 2}, (2, 1, 16, 16)),
        ("resnet3d_kdseg", {"features": 4, "blocks": 1}, (2, 1, 16, 16, 8)),
        ("resnet2d_kdseg", {"features": 4, "blocks": 2}, (2, 1, 16, 16)),
        ("dilated2d", {"features": 4, "dilations": [1, 2], "head": [8]}, (2, 1, 16, 16)),
        ("dilated2d_kdseg", {"features": 4, "dilations": [1, 2], "head": [8]}, (2, 1, 16, 16)),
        ("monai:SegResNet", {"spatial_dims": 3, "init_filters": 8}, (1, 1, 16, 16, 16)),
    ],
)
def test_narrow_networks_map_input_to_class_logits(name, kwargs, shape):
    net = build_network(name, in_channels=1, out_channels=3, **kwargs)
    out = net(torch.randn(*shape))
    margin = getattr(net, "valid_margin", 0)  # valid convolutions lose 2 x margin per axis
    assert out.shape == (shape[0], 3, *(s - 2 * margin for s in shape[2:]))


def test_unknown_architecture_or_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="unknown"):
        build_network("vgg", 1, 2)
    with pytest.raises(ConfigError, match="no such network"):
        build_network("monai:NoSuchNet", 1, 2)
    with pytest.raises(ConfigError, match="bad arguments"):
        build_network("unet3d", 1, 2, widht=3)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("unet3d", {"features": [4, 8]}), ("resnet3d", {"features": 4, "blocks": 1})],
)
def test_instance_normalisation_replaces_every_batch_norm(name, kwargs):
    batch = build_network(name, 1, 3, **kwargs)
    instance = build_network(name, 1, 3, norm="instance", **kwargs)
    count = lambda net, kind: sum(isinstance(m, kind) for m in net.modules())  # noqa: E731
    assert count(batch, torch.nn.BatchNorm3d) > 0 and count(batch, torch.nn.InstanceNorm3d) == 0
    assert count(instance, torch.nn.BatchNorm3d) == 0
    assert count(instance, torch.nn.InstanceNorm3d) == count(batch, torch.nn.BatchNorm3d)
    assert count_parameters(instance) == count_parameters(batch)  # affine: same weights
    # each patch is normalised by its own statistics: a patch's output does not depend on the
    # other patches of its batch, in training as in inference
    x = torch.randn(2, 1, 8, 8, 8)
    instance.train()
    torch.manual_seed(0)
    alone = instance(x[:1])
    torch.manual_seed(0)
    together = instance(x)[:1]
    if name == "unet3d":  # no dropout: identical
        torch.testing.assert_close(alone, together)
    with pytest.raises(ConfigError, match="norm must be one of"):
        build_network(name, 1, 3, norm="group", **kwargs)
