"""Where a job computes: the torch device of a config's ``device`` setting."""

from __future__ import annotations

import torch


def choose_device(setting: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU; or an explicit torch device string."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)
