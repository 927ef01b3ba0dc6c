"""What a training run optimises with: the optimiser and learning-rate schedule of the
``training`` section, and the channels-last memory layout of the network."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kdseg.errors import ConfigError


def to_channels_last(model: nn.Module) -> nn.Module:
    """``model``'s convolution weights in channels-last layout (4D and 5D alike), in place.

    Only the memory layout changes: convolutions then run PyTorch's channels-last kernels (a
    U-Net step of the default study 20% faster on a CPU: benchmarks/memory_layout.py), and
    their results differ from the default layout's in the last floating-point bits only."""
    layouts = {4: torch.channels_last, 5: torch.channels_last_3d}
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.dim() in layouts:
                tensor.data = tensor.data.contiguous(memory_format=layouts[tensor.dim()])
    return model


def make_optimizer(model: nn.Module, section: dict[str, Any]) -> torch.optim.Optimizer:
    """Adam (default, lr 1e-3 as the authors), AdamW or SGD from a config section."""
    kwargs = {k: v for k, v in section.items() if k != "name"}
    classes = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    name = section.get("name")  # the schema requires it
    if name not in classes:
        raise ConfigError(f"training.optimizer.name {name!r}: unknown (known: {sorted(classes)})")
    try:
        return classes[name](model.parameters(), **kwargs)
    except TypeError as err:
        raise ConfigError(f"training.optimizer: bad arguments for {name} ({err})") from err


def make_schedule(
    optimizer: torch.optim.Optimizer, section: dict[str, Any], iterations: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-iteration learning-rate schedule: constant (the authors'), poly, cosine or step."""
    name = section.get("name")  # the schema requires it
    sched = torch.optim.lr_scheduler
    if name == "constant":
        return sched.LambdaLR(optimizer, lambda i: 1.0)
    if name == "poly":
        power = float(section.get("power", 0.9))
        return sched.LambdaLR(optimizer, lambda i: max(0.0, 1 - i / iterations) ** power)
    if name == "cosine":
        return sched.CosineAnnealingLR(
            optimizer, T_max=iterations, eta_min=section.get("min_lr", 0)
        )
    if name == "step":
        return sched.StepLR(
            optimizer, step_size=int(section["step_size"]), gamma=section.get("gamma", 0.1)
        )
    raise ConfigError(
        f"training.schedule.name {name!r}: unknown (known: constant, poly, cosine, step)"
    )
