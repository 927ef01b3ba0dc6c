"""The final model file: weights plus everything needed to rebuild and apply the model.

Only tensors and plain Python values are stored, so the file loads with
``torch.load(path, weights_only=True)`` (no pickled code is ever executed).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdseg.atomic import atomic_path
from kdseg.errors import KdsegError
from kdseg.infer import InferenceSpec
from kdseg.nets import build_network

MODEL_FORMAT = "kdseg-model/1"


def save_model(path: str | Path, state_dict: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write weights and metadata atomically.

    ``meta`` holds at least ``architecture`` ({network, kwargs}), ``in_channels``, ``classes``
    ({name: value} including background), ``spacing``, ``normalization`` and ``inference``.
    """
    required = {"architecture", "in_channels", "classes", "spacing", "normalization", "inference"}
    missing = required - set(meta)
    if missing:
        raise ValueError(f"model metadata lacks {sorted(missing)}")
    with atomic_path(path) as tmp:
        torch.save({"format": MODEL_FORMAT, **meta, "state_dict": state_dict}, tmp)


def read_model_file(path: str | Path) -> dict[str, Any]:
    """The raw content of a model file (weights-only unpickling)."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise KdsegError(f"{path}: model file not found") from None
    except Exception as err:  # a truncated or foreign file
        raise KdsegError(f"{path}: not a readable model file ({err})") from None
    if not isinstance(content, dict) or content.get("format") != MODEL_FORMAT:
        raise KdsegError(f"{path}: not a kdseg model file")
    return content


def load_model(
    path: str | Path,
    device: torch.device | str = "cpu",
    inference: Mapping[str, Any] | None = None,
) -> tuple[nn.Module, dict[str, Any], InferenceSpec]:
    """Rebuild the network, load its weights; returns (model in eval mode, metadata, spec).

    ``inference``: the architecture's current config ``inference`` section, which changes the
    stored spec (so inference settings can change without re-training)."""
    content = read_model_file(path)
    arch = content["architecture"]
    model = build_network(
        arch["network"], content["in_channels"], len(content["classes"]), **arch.get("kwargs", {})
    )
    model.load_state_dict(content.pop("state_dict"))
    model.to(device).eval()
    return model, content, InferenceSpec.from_json(content["inference"]).with_settings(inference)
