"""The torch-free geometry of the registry networks equals the built networks': their size
divisor and valid margin, and the receptive field measured by the gradient of one output voxel."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
import torch
from torch import nn

from kdseg.config.geometry import NetworkGeometry, network_geometry
from kdseg.config.specs import NETWORKS
from kdseg.errors import ConfigError
from kdseg.nets import build_network
from kdseg.nets.dilated import DilatedCNN2D
from kdseg.nets.resnet import ResNet
from kdseg.nets.unet import UNet

DILATED = [{}, {"features": 4, "dilations": [1, 1, 2, 4, 8, 1], "head": [4]},
           {"features": 4, "dilations": [1, 2, 4], "head": [4, 4], "dropout": 0.2}]  # fmt: skip
UNETS = [{}, {"features": [8, 16, 32, 64]}, {"features": [4, 8]}, {"features": [4, 4, 4]}]
RESNETS = [{}, {"features": 4, "blocks": 1}, {"features": 4, "blocks": 2, "dropout": 0.2}]
KWARGS = {
    "dilated2d": [*DILATED, {**DILATED[1], "layout": "kdseg"}],
    "dilated2d_kdseg": DILATED,
    "unet3d": UNETS,
    "unet2d": UNETS,
    "resnet3d": [*RESNETS, {"features": 4, "blocks": 2, "layout": "kdseg"}],
    "resnet2d": [*RESNETS, {"features": 4, "blocks": 1, "layout": "kdseg", "head_relu": True}],
    "resnet3d_kdseg": RESNETS,
    "resnet2d_kdseg": RESNETS,
}
CASES = [(name, kw) for name, kws in KWARGS.items() for kw in kws]


def small(name: str, kwargs: dict) -> dict:
    """``kwargs`` with every width 4 (the receptive field does not depend on widths), the
    same number of U-Net levels and head layers (the constructors' defaults: 4 and 2)."""
    out = dict(kwargs)
    if name.startswith("unet"):
        out["features"] = [4] * len(kwargs.get("features", range(4)))
    else:
        out["features"] = 4
    if name.startswith("dilated"):
        out["head"] = [4] * len(kwargs.get("head", range(2)))
    return out


def test_every_registry_network_is_covered():
    assert set(KWARGS) == set(NETWORKS)


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_divisor_margin_and_dims_are_the_built_networks(name, kwargs):
    net = build_network(name, in_channels=1, out_channels=3, **kwargs)
    geometry = network_geometry(name, kwargs)
    assert (geometry.size_divisor, geometry.valid_margin) == (net.size_divisor, net.valid_margin)
    assert geometry.dims == NETWORKS[name][0]
    first_conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Conv3d))
    assert first_conv.weight.ndim - 2 == geometry.dims
    if isinstance(net, DilatedCNN2D):
        assert geometry.receptive_field == net.receptive_field


def test_declared_defaults_are_the_constructors():
    from kdseg.config import geometry

    def default(cls, key):
        return inspect.signature(cls).parameters[key].default

    assert tuple(default(UNet, "features")) == geometry.UNET_FEATURES
    assert default(ResNet, "blocks") == geometry.RESNET_BLOCKS
    assert tuple(default(DilatedCNN2D, "dilations")) == geometry.DILATIONS


def linearised(net: nn.Module) -> nn.Module:
    """``net`` with ReLUs as identities and max-pools as average pools of the same window.

    Through a ReLU the gradient is zero where it is inactive, and through a max-pool it
    reaches only each window's maximum: the gradient of the network itself may miss voxels
    its output depends on structurally. These replacements keep every layer's geometry and
    make the network affine, whose gradient is non-zero on the whole receptive field.
    """
    for parent in list(net.modules()):
        for key, child in parent.named_children():
            if isinstance(child, nn.ReLU):
                setattr(parent, key, nn.Identity())
            elif isinstance(child, nn.MaxPool2d | nn.MaxPool3d):
                pool = nn.AvgPool3d if isinstance(child, nn.MaxPool3d) else nn.AvgPool2d
                setattr(parent, key, pool(child.kernel_size, child.stride))
    return net


def extents(net: nn.Module, geometry: NetworkGeometry, axis: int) -> list[int]:
    """Extents along ``axis`` of the non-zero input gradient of one output voxel near the
    centre, for ``size_divisor`` consecutive output voxels along that axis (one per batch
    element: batch norm in eval mode keeps the elements independent).

    The input is long along ``axis`` (the receptive field and a few divisors) and short along
    the others (zero padding there does not shorten the extent along ``axis``).
    """
    rf, div, margin = geometry.receptive_field, geometry.size_divisor, geometry.valid_margin
    assert rf is not None

    def round_up(n: int) -> int:
        return -(-n // div) * div

    shape = [round_up(max(div, 2 * margin + 1))] * geometry.dims
    shape[axis] = round_up(rf + 4 * div)
    x = torch.randn(1, 1, *shape, dtype=torch.float32).repeat(div, 1, *[1] * geometry.dims)
    x.requires_grad_(True)
    out = net.eval()(x)
    centre = [n // 2 for n in out.shape[2:]]
    start = centre[axis] // div * div
    picked = []
    for b in range(div):
        index = list(centre)
        index[axis] = start + b
        picked.append(out[(b, 0, *index)])
    torch.stack(picked).sum().backward()
    assert x.grad is not None
    found = []
    for b in range(div):
        others = [d for d in range(geometry.dims) if d != axis]
        along = x.grad[b, 0].abs().sum(dim=others) if others else x.grad[b, 0].abs()
        nonzero = torch.nonzero(along).flatten().tolist()
        if not nonzero:  # every ReLU on the way inactive
            found.append(0)
            continue
        assert nonzero[0] > 0 and nonzero[-1] < shape[axis] - 1, "the input is too short"
        found.append(nonzero[-1] - nonzero[0] + 1)
    return found


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_the_receptive_field_is_the_measured_one(name, kwargs):
    kwargs = small(name, kwargs)
    if "norm" in NETWORKS[name][1]:
        kwargs["norm"] = "batch"  # instance norm would couple every voxel
    geometry = network_geometry(name, kwargs)
    for axis in range(geometry.dims):
        torch.manual_seed(axis)
        net = build_network(name, in_channels=1, out_channels=3, **kwargs)
        # The network itself: through ReLUs and max-pools the gradient may miss voxels.
        assert max(extents(net, geometry, axis)) <= geometry.receptive_field
        # Its affine copy: the receptive field is the largest extent over the positions of
        # the output voxel modulo the divisor. Transposed convolutions with a stride make it
        # depend on that position (U-Nets: 4 of 8 positions see 8 fewer voxels; the authors'
        # ResNet: 1 of 4 sees 4 fewer); the declared one is the largest.
        measured = extents(linearised(net), geometry, axis)
        assert max(measured) == geometry.receptive_field, (axis, measured)


def test_a_monai_network_has_no_receptive_field_and_a_divisor_of_16():
    assert network_geometry("monai:UNet", {"spatial_dims": 3}) == NetworkGeometry(3, None, 16, 0)
    assert network_geometry("monai:SegResNet", {"spatial_dims": 2}).dims == 2
    assert network_geometry("monai:UNet").dims == 3


@pytest.mark.parametrize(
    ("name", "kwargs", "words"),
    [
        ("vnet3d", {}, "'vnet3d': unknown"),
        ("unet3d", {"blocks": 2}, "unknown keyword 'blocks'"),
        ("resnet3d_kdseg", {"layout": "authors"}, "unknown keyword 'layout'"),
        ("resnet3d", {"layout": "other"}, "layout must be one of"),
        ("unet2d", {"features": []}, "features must be a list"),
        ("dilated2d", {"dilations": 2}, "dilations must be a list"),
        ("resnet2d", {"blocks": "6"}, "blocks must be"),
        ("monai:UNet", {"spatial_dims": 4}, "spatial_dims must be 2 or 3"),
    ],
)
def test_bad_networks_raise_a_one_line_config_error(name, kwargs, words):
    with pytest.raises(ConfigError) as err:
        network_geometry(name, kwargs)
    assert words in str(err.value) and name in str(err.value) and "\n" not in str(err.value)


def test_the_geometry_imports_no_torch():
    code = (
        "import json, sys\nimport kdseg.config.geometry\n"
        "print(json.dumps([m for m in ('torch', 'monai') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert json.loads(out.stdout.splitlines()[-1]) == []
