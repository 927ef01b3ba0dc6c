"""The paper's 2D dilated CNN (Wolterink-style): valid 3x3 convolutions, no pooling.

Eight 3x3 convolutions with dilations 1, 1, 2, 4, 8, 16, 32, 1 (32 channels) give a receptive
field of 1 + 2 * 65 = 131 pixels; then 1x1 layers 32 -> 96 -> 192 -> classes. Convolutions are
valid (no padding): an input of N pixels gives N - 130 outputs. Two layouts:

- ``layout="authors"`` (registry name ``dilated2d``), the authors' ``DilatedNetwork2D``
  (``src/networks.py:19-132`` of qurAI-amsterdam/ensemble-knowledge-distillation): conv-ReLU in
  the dilated stack, no batch norm there (``networks.py:52-73``); each 1x1 layer of the head is
  BN -> Dropout2d -> 1x1 conv -> ReLU (``networks.py:75-81``, order in ``forward``,
  ``networks.py:104-110``), then a 1x1 classifier. 88,069 parameters at the paper's width
  (1 channel, 5 classes), as theirs.
- ``layout="kdseg"`` (registry name ``dilated2d_kdseg``), our earlier layout: conv-BN-ReLU in the
  stack, each head layer 1x1 conv -> BN -> ReLU -> Dropout2d. 88,901 parameters at that width.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

PAPER_DILATIONS = (1, 1, 2, 4, 8, 16, 32, 1)
LAYOUTS = ("authors", "kdseg")


def receptive_field(dilations: Sequence[int]) -> int:
    """Receptive field (pixels) of stacked valid 3x3 convolutions with these dilations."""
    return 1 + 2 * sum(dilations)


class DilatedCNN2D(nn.Sequential):
    """Valid dilated 3x3 convolutions followed by a 1x1 classifier (layers numbered 0, 1, ...)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        features: int = 32,
        dilations: Sequence[int] = PAPER_DILATIONS,
        head: Sequence[int] = (96, 192),
        dropout: float = 0.5,
        layout: str = "authors",
    ) -> None:
        if layout not in LAYOUTS:
            raise TypeError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        authors = layout == "authors"
        layers: list[nn.Module] = []
        ch = in_channels
        for d in dilations:
            layers.append(nn.Conv2d(ch, features, 3, dilation=d))
            layers += [nn.ReLU()] if authors else [nn.BatchNorm2d(features), nn.ReLU()]
            ch = features
        for width in head:
            if authors:
                layers += [nn.BatchNorm2d(ch), nn.Dropout2d(dropout), nn.Conv2d(ch, width, 1),
                           nn.ReLU()]  # fmt: skip
            else:
                layers += [nn.Conv2d(ch, width, 1), nn.BatchNorm2d(width), nn.ReLU(),
                           nn.Dropout2d(dropout)]  # fmt: skip
            ch = width
        layers.append(nn.Conv2d(ch, out_channels, 1))
        super().__init__(*layers)
        self.layout = layout
        self.receptive_field = receptive_field(dilations)
        self.valid_margin = (self.receptive_field - 1) // 2
        self.size_divisor = 1
