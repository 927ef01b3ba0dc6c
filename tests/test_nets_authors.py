"""The authors' layouts (issue 15, item 3): exact parameter counts and layer order.

Expected counts are re-derived here from the layer lists of the authors' modules in
qurAI-amsterdam/ensemble-knowledge-distillation, ``src/networks.py`` (``DilatedNetwork2D``
lines 19-132, ``UNet3DSmallOrig`` 539-657, ``ResnetBlock3D`` 1098-1133, ``Resnet3D`` 1174-1318),
counting the parameters that take part in the forward pass. Their ``UNet3DSmallOrig`` also
holds two deep-supervision heads (``lowcis``, ``midcis``; 27,740 parameters at 5 classes) that
its forward pass uses only with ``deep_supervision=True``, which the paper's training does not
set (``training_network.py:177-182``); they are not counted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from kdseg.config.geometry import network_geometry
from kdseg.config.plan_geometry import fit_patch
from kdseg.config.specs import network_dims
from kdseg.distill.features import feature_channels
from kdseg.errors import ConfigError
from kdseg.nets import ARCHITECTURES, build_network, count_parameters, input_geometry

REPO = Path(__file__).resolve().parents[1]
CLASSES = 5  # the paper's width: 1 input channel, 5 classes


def conv(cin: int, cout: int, k: int, dims: int) -> int:
    """Weights and bias of a (transposed) convolution."""
    return cin * cout * k**dims + cout


def bn(c: int) -> int:
    return 2 * c


def authors_dilated(classes: int, c: int = 32, dilations=(1, 1, 2, 4, 8, 16, 32, 1),
                    head=(96, 192), cin: int = 1) -> int:  # fmt: skip
    """networks.py:52-81: conv-ReLU stack, head BN -> Dropout2d -> 1x1 -> ReLU, classifier."""
    n = conv(cin, c, 3, 2) + (len(dilations) - 1) * conv(c, c, 3, 2)
    ch = c
    for width in head:
        n += bn(ch) + conv(ch, width, 1, 2)
        ch = width
    return n + conv(ch, classes, 1, 2)


def authors_resnet(classes: int, c: int = 32, blocks: int = 6, dims: int = 3, cin: int = 1) -> int:
    """networks.py:1252-1301 (and 2D: 1397-1445)."""
    encoder = conv(cin, c, 3, dims) + bn(c) + conv(c, 2 * c, 3, dims) + bn(2 * c)
    encoder += conv(2 * c, 4 * c, 3, dims) + bn(4 * c)
    block = 2 * (bn(4 * c) + conv(4 * c, 4 * c, 3, dims))
    decoder = conv(4 * c, 2 * c, 3, dims) + bn(2 * c) + conv(2 * c, c, 3, dims) + bn(c)
    return encoder + blocks * block + decoder + conv(c, c, 1, dims) + conv(c, classes, 1, dims)


def authors_unet(classes: int, features=(32, 64, 128, 256), dims: int = 3, cin: int = 1) -> int:
    """networks.py:453-472, 497-509, 558-596: forward-pass parameters only."""

    def double(a: int, b: int) -> int:
        return conv(a, b, 3, dims) + bn(b) + conv(b, b, 3, dims) + bn(b)

    n, ch = 0, cin
    for f in features:
        n, ch = n + double(ch, f), f
    for f in reversed(features[:-1]):
        n, ch = n + conv(ch, f, 2, dims) + double(2 * f, f), f
    return n + conv(ch, classes, 1, dims)


def test_authors_counts_rederived_equal_their_published_numbers():
    # measured on the authors' modules (sum of parameters with a gradient after one forward
    # and backward pass of the logits): issue 15, item 3
    assert authors_dilated(CLASSES) == 88_069
    assert authors_resnet(CLASSES) == 5_869_029
    assert authors_resnet(CLASSES, dims=2) == 1_960_869
    assert authors_unet(CLASSES) == 5_602_661


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("dilated2d", authors_dilated(CLASSES)),
        ("resnet3d", authors_resnet(CLASSES)),
        ("resnet2d", authors_resnet(CLASSES, dims=2)),
        ("unet3d", authors_unet(CLASSES)),
        ("unet2d", authors_unet(CLASSES, dims=2)),
        # our earlier layouts, kept by name
        ("dilated2d_kdseg", 88_901),
        ("resnet3d_kdseg", 5_673_413),
    ],
)
def test_registry_defaults_have_the_authors_counts(name, expected):
    assert count_parameters(build_network(name, 1, CLASSES)) == expected


def _architectures(config: str) -> dict:
    return yaml.safe_load((REPO / "config" / config).read_text())["architectures"]


def test_paper_study_builds_the_authors_networks_with_their_exact_counts():
    archs = _architectures("paper.yaml")
    counts = {
        key: count_parameters(build_network(a["network"], 1, CLASSES, **a.get("kwargs", {})))
        for key, a in archs.items()
    }
    assert counts["dilated"] == authors_dilated(CLASSES) == 88_069
    assert counts["resnet"] == authors_resnet(CLASSES) == 5_869_029
    assert counts["unet"] == authors_unet(CLASSES) == 5_602_661


def test_default_study_uses_the_authors_layouts_at_reduced_width():
    archs = _architectures("config.yaml")
    dilated, resnet = archs["dilated"], archs["resnet"]
    assert (dilated["network"], resnet["network"]) == ("dilated2d", "resnet3d")
    kw = dilated["kwargs"]
    net = build_network("dilated2d", 1, CLASSES, **kw)
    expected = authors_dilated(CLASSES, kw["features"], kw["dilations"], kw["head"])
    assert count_parameters(net) == expected
    kw = resnet["kwargs"]
    net = build_network("resnet3d", 1, CLASSES, **kw)
    assert count_parameters(net) == authors_resnet(CLASSES, kw["features"], kw["blocks"])


@pytest.mark.parametrize("config", ["config.yaml", "paper.yaml"])
def test_study_networks_build_and_run(config):
    """The default study's networks on the patches planned for the Thorax phantom (3 mm,
    62 x 49 x 48 voxels, the default budget: two patches per step); the paper's on small
    inputs."""
    for key, arch in _architectures(config).items():
        torch.manual_seed(0)
        net = build_network(arch["network"], 1, 3, **arch.get("kwargs", {}))
        margin, divisor = input_geometry(net)
        geometry = network_geometry(arch["network"], arch.get("kwargs", {}))
        if config == "paper.yaml":  # keep it fast: 3 x 3 outputs in 2D, 16^3 in 3D
            patch = [2 * margin + 3] * 2 if geometry.dims == 2 else [16] * 3
        elif geometry.dims == 2:
            patch = fit_patch([3.0, 3.0], [62, 49], 6498 / 2, geometry)
        else:
            patch = fit_patch([3.0] * 3, [62, 49, 48], 27648 / 2, geometry)
        assert all(p % divisor == 0 for p in patch), key
        for mode in (net.train, net.eval):
            mode()
            with torch.no_grad():
                out = net(torch.randn(2, 1, *patch))
            assert out.shape == (2, 3, *(p - 2 * margin for p in patch)), key


def test_dilated_layout_of_the_authors():
    net = build_network("dilated2d", 1, CLASSES)
    layers = list(net)
    stack = layers[: 2 * 8]  # 8 dilated convolutions, each with a ReLU and no batch norm
    assert [type(m) for m in stack] == [nn.Conv2d, nn.ReLU] * 8
    assert [m.dilation[0] for m in stack[::2]] == [1, 1, 2, 4, 8, 16, 32, 1]
    assert all(m.padding == (0, 0) for m in stack[::2])  # valid convolutions
    head = layers[16:]
    assert [type(m) for m in head] == [nn.BatchNorm2d, nn.Dropout2d, nn.Conv2d, nn.ReLU] * 2 + [
        nn.Conv2d
    ]
    assert [m.num_features for m in head if isinstance(m, nn.BatchNorm2d)] == [32, 96]
    assert [(m.in_channels, m.out_channels) for m in head if isinstance(m, nn.Conv2d)] == [
        (32, 96), (96, 192), (192, CLASSES),
    ]  # fmt: skip
    assert all(m.p == 0.5 for m in head if isinstance(m, nn.Dropout2d))
    assert input_geometry(net) == (65, 1)


def test_dilated_kdseg_layout_keeps_batch_norm_in_the_stack():
    net = build_network("dilated2d_kdseg", 1, CLASSES)
    assert [type(m) for m in list(net)[:3]] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert input_geometry(net) == (65, 1)


@pytest.mark.parametrize(("name", "dims"), [("resnet3d", 3), ("resnet2d", 2)])
def test_resnet_layout_of_the_authors(name, dims):
    net = build_network(name, 1, CLASSES)
    up = nn.ConvTranspose3d if dims == 3 else nn.ConvTranspose2d
    drop = nn.Dropout3d if dims == 3 else nn.Dropout2d
    conv = nn.Conv3d if dims == 3 else nn.Conv2d
    ups = [m for m in net.modules() if isinstance(m, up)]
    assert [(m.in_channels, m.out_channels) for m in ups] == [(128, 64), (64, 32)]
    for m in ups:
        assert (m.kernel_size, m.stride) == ((3,) * dims, (2,) * dims)
        assert (m.padding, m.output_padding) == ((1,) * dims, (1,) * dims)
    assert len(net.blocks) == 6
    for block in net.blocks:
        drops = [m for m in block.modules() if type(m) is nn.Dropout]  # element-wise
        assert [m.p for m in drops] == [0.5, 0.5]
    assert [type(m) for m in net.head] == [drop, conv, nn.ReLU, drop, conv]
    assert (net.head[1].in_channels, net.head[1].out_channels) == (32, 32)
    assert net.head[4].out_channels == CLASSES
    assert [net.head[0].p, net.head[3].p] == [0.5, 0.5]
    assert type(net.encoder[-1]) is nn.ReLU  # every encoder conv is followed by BN-ReLU
    assert input_geometry(net) == (0, 4)


def test_resnet_without_head_relu_is_the_authors_first_variant():
    net = build_network("resnet3d", 1, CLASSES, head_relu=False)
    assert nn.ReLU not in {type(m) for m in net.head}
    assert count_parameters(net) == authors_resnet(CLASSES)


@pytest.mark.parametrize("name", ["resnet3d", "resnet3d_kdseg"])
def test_resnet_output_has_the_input_size(name):
    net = build_network(name, 1, 3, features=4, blocks=1).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 1, 12, 20, 8))
    assert out.shape == (1, 3, 12, 20, 8)


def test_resnet_kdseg_layout_keeps_its_module_names():
    # model files of the earlier ``resnet3d`` load into ``resnet3d_kdseg``
    keys = build_network("resnet3d_kdseg", 1, 3, features=4, blocks=1).state_dict()
    assert "decoder.8.weight" in keys and "blocks.0.body.6.weight" in keys
    assert not any(k.startswith("head.") for k in keys)


def test_feature_layers_of_the_authors_resnet_can_be_tapped():
    net = build_network("resnet3d", 1, 3, features=4, blocks=2)
    layers = ["encoder", "blocks.1", "decoder", "head.1"]
    assert feature_channels(net, layers, torch.randn(2, 1, 8, 8, 8)) == [16, 16, 4, 4]


def test_layout_arguments_are_checked():
    with pytest.raises(ConfigError, match=r"bad arguments.*layout"):
        build_network("resnet3d", 1, 2, layout="other")
    with pytest.raises(ConfigError, match=r"bad arguments.*layout"):
        build_network("dilated2d", 1, 2, layout="other")
    with pytest.raises(ConfigError, match="head_relu"):
        build_network("resnet3d_kdseg", 1, 2, head_relu=False)


def test_every_registry_name_has_its_dimensions_for_the_config_check():
    assert all(network_dims(name) is not None for name in ARCHITECTURES)
    for name in ARCHITECTURES:
        net = build_network(name, 1, 2)
        convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]
        assert isinstance(convs[0], nn.Conv3d if network_dims(name) == 3 else nn.Conv2d), name
