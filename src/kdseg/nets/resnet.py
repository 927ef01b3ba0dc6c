"""The paper's ResNet: conv 32, two stride-2 convs to 128, pre-activation residual blocks with
dropout, two transposed convs back up, 1x1 head. ``spatial_dims=2`` gives the 2D variant.

Two layouts:

- ``layout="authors"`` (registry names ``resnet3d``, ``resnet2d``), the authors' ``Resnet3D`` /
  ``Resnet2D`` (``src/networks.py:1098-1133, 1174-1318, 1321-1461`` of
  qurAI-amsterdam/ensemble-knowledge-distillation): every encoder conv is followed by BN-ReLU
  (``networks.py:1252-1266``); each block is BN-ReLU-conv-BN-Dropout-ReLU-conv-Dropout with
  element-wise ``Dropout(0.5)`` (``networks.py:1114-1127``); the decoder is two transposed
  convolutions k=3, stride 2, padding 1, output padding 1, each followed by BN-ReLU
  (``networks.py:1279-1292``); the head is Dropout3d(0.5) -> 1x1 conv C->C -> ReLU ->
  Dropout3d(0.5) -> 1x1 classifier (``networks.py:1295-1301``, their ``Resnet3DNEW``, the only
  variant their 2D code accepts; ``head_relu=False`` gives their ``Resnet3D``, which omits the
  ReLU, ``networks.py:1243-1246``: same parameters). 5,869,029 parameters in 3D at the paper's
  width (1 channel, 5 classes; 1,960,869 in 2D), as theirs.
- ``layout="kdseg"`` (registry names ``resnet3d_kdseg``, ``resnet2d_kdseg``), our earlier
  layout: no BN-ReLU after the last encoder conv, blocks with one channel-wise dropout (0.2),
  transposed convolutions k=2 preceded by BN-ReLU, a single 1x1 classifier. 5,673,413
  parameters in 3D at that width.

Input sizes must be divisible by 4 (two stride-2 convolutions); outputs have the input's size.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kdseg.nets.norm import norm_layer

LAYOUTS = ("authors", "kdseg")


def _layers(dims: int, kind: str = "batch") -> tuple[Any, Any, Any, Any]:
    """(conv, transposed conv, normalisation of ``kind``, channel dropout) of ``dims``
    dimensions."""
    if dims == 3:
        return nn.Conv3d, nn.ConvTranspose3d, norm_layer(3, kind), nn.Dropout3d
    return nn.Conv2d, nn.ConvTranspose2d, norm_layer(2, kind), nn.Dropout2d


class PreActBlock(nn.Module):
    """Pre-activation residual block with an identity shortcut.

    ``authors``: BN-ReLU-conv-BN-Dropout-ReLU-conv-Dropout (element-wise dropout);
    ``kdseg``: BN-ReLU-conv-BN-ReLU-Dropout(channels)-conv.
    """

    def __init__(
        self, channels: int, dims: int, dropout: float, layout: str = "authors", norm: str = "batch"
    ) -> None:
        super().__init__()
        conv, _, norm, drop = _layers(dims, norm)
        c = channels
        if layout == "authors":
            self.body = nn.Sequential(
                norm(c), nn.ReLU(), conv(c, c, 3, padding=1),
                norm(c), nn.Dropout(dropout), nn.ReLU(), conv(c, c, 3, padding=1),
                nn.Dropout(dropout),
            )  # fmt: skip
        else:
            self.body = nn.Sequential(
                norm(c), nn.ReLU(), conv(c, c, 3, padding=1),
                norm(c), nn.ReLU(), drop(dropout), conv(c, c, 3, padding=1),
            )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet(nn.Module):
    """Encoder (x4 downsampling), residual blocks, decoder, head; input sizes divisible by 4.

    ``dropout``: rate of the blocks' dropout (and, in the authors' layout, of the head's two
    Dropout3d/2d); default 0.5 (authors) or 0.2 (kdseg). ``head_relu``: the ReLU after the
    head's 1x1 C->C layer (authors' layout only). ``norm``: ``batch`` (the authors') or
    ``instance`` (:mod:`kdseg.nets.norm`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        features: int = 32,
        blocks: int = 6,
        dropout: float | None = None,
        spatial_dims: int = 3,
        layout: str = "authors",
        head_relu: bool = True,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        if layout not in LAYOUTS:
            raise TypeError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        if layout != "authors" and not head_relu:
            raise TypeError("head_relu applies to layout 'authors' only")
        authors = layout == "authors"
        if dropout is None:
            dropout = 0.5 if authors else 0.2
        conv, up, norm_of, drop = _layers(spatial_dims, norm)
        f1, f2, f3 = features, 2 * features, 4 * features
        self.layout = layout
        if authors:
            self.encoder = nn.Sequential(
                conv(in_channels, f1, 3, padding=1), norm_of(f1), nn.ReLU(),
                conv(f1, f2, 3, stride=2, padding=1), norm_of(f2), nn.ReLU(),
                conv(f2, f3, 3, stride=2, padding=1), norm_of(f3), nn.ReLU(),
            )  # fmt: skip
        else:
            self.encoder = nn.Sequential(
                conv(in_channels, f1, 3, padding=1), norm_of(f1), nn.ReLU(),
                conv(f1, f2, 3, stride=2, padding=1), norm_of(f2), nn.ReLU(),
                conv(f2, f3, 3, stride=2, padding=1),
            )  # fmt: skip
        self.blocks = nn.Sequential(
            *(PreActBlock(f3, spatial_dims, dropout, layout, norm) for _ in range(blocks))
        )
        if authors:
            self.decoder = nn.Sequential(
                up(f3, f2, 3, stride=2, padding=1, output_padding=1), norm_of(f2), nn.ReLU(),
                up(f2, f1, 3, stride=2, padding=1, output_padding=1), norm_of(f1), nn.ReLU(),
            )  # fmt: skip
            self.head: nn.Module = nn.Sequential(
                drop(dropout), conv(f1, f1, 1), *([nn.ReLU()] if head_relu else []),
                drop(dropout), conv(f1, out_channels, 1),
            )  # fmt: skip
        else:
            self.decoder = nn.Sequential(
                norm_of(f3), nn.ReLU(), up(f3, f2, 2, stride=2),
                norm_of(f2), nn.ReLU(), up(f2, f1, 2, stride=2),
                norm_of(f1), nn.ReLU(), conv(f1, out_channels, 1),
            )  # fmt: skip
            self.head = nn.Identity()  # keeps the earlier module names (and checkpoints)
        self.valid_margin = 0
        self.size_divisor = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(self.blocks(self.encoder(x))))
