"""The final model file: weights plus everything needed to rebuild and apply the model.

Only tensors and plain Python values are stored, so the file loads with
``torch.load(path, weights_only=True)`` (no pickled code is ever executed). Weights that do not
fit the network the file describes (an edited or replaced file) are a one-line error naming
the file and the first mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdseg.errors import KdsegError
from kdseg.models.windows import InferenceSpec
from kdseg.nets import build_network
from kdseg.runtime.atomic import atomic_path

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


# Hints of PyTorch and NumPy to load a file unsafely; never repeated in kdseg's messages.
UNSAFE_HINTS = ("weights_only", "allow_pickle", "pickle.load")


def first_line(err: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, shortened: for one-line errors. A message
    that suggests loading the file unsafely (PyTorch's weights-only refusal, NumPy's pickled
    arrays) is replaced by what it means, with the reader's own detail where it gives one."""
    text = str(err).strip()
    if any(hint in text for hint in UNSAFE_HINTS):
        if "WeightsUnpickler error:" not in text:
            return (
                "not a plain array or tensor file (it would be unpickled, which kdseg never does)"
            )
        detail = text.rsplit("WeightsUnpickler error:", 1)[1].split("Check the")[0]
        detail = " ".join(detail.split())[:limit]
        return f"refused by the weights-only reader ({detail}); kdseg never loads other objects"
    lines = text.splitlines()
    line = lines[0].strip() if lines else type(err).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def read_model_file(path: str | Path) -> dict[str, Any]:
    """The raw content of a model file (weights-only unpickling)."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise KdsegError(f"{path}: model file not found") from None
    except Exception as err:  # a truncated or foreign file
        raise KdsegError(f"{path}: not a readable model file ({first_line(err)})") from None
    if not isinstance(content, dict) or content.get("format") != MODEL_FORMAT:
        raise KdsegError(f"{path}: not a kdseg model file")
    return content


def _listed(kind: str, keys: list[str]) -> str:
    more = f" (+{len(keys) - 1} more)" if len(keys) > 1 else ""
    return f"{kind} {keys[0]}{more}"


def weights_mismatch(model: nn.Module, state: Any) -> str | None:
    """Why ``state`` does not load into ``model``: missing and unexpected keys, else the first
    shape mismatch (None: it fits)."""
    if not isinstance(state, Mapping):
        return f"weights are a {type(state).__name__}, not a mapping of tensors"
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = [_listed("missing", missing)] if missing else []
        return "; ".join(parts + ([_listed("unexpected", unexpected)] if unexpected else []))
    for key, value in expected.items():
        saved = state[key]
        if not isinstance(saved, torch.Tensor):
            return f"{key} is a {type(saved).__name__}, not a tensor"
        if saved.shape != value.shape:
            return (
                f"{key} has shape {list(saved.shape)} in the file, {list(value.shape)} in the "
                "network"
            )
    return None


def load_weights(
    model: nn.Module, state: Any, path: str | Path, network: str | None = None
) -> None:
    """Load the weights of model file ``path`` into ``model`` (``network``: its name, for the
    message), or a one-line error naming the file and the mismatch."""
    why = weights_mismatch(model, state)
    if why is None:
        try:
            model.load_state_dict(state)
        except (RuntimeError, ValueError) as err:
            why = first_line(err)
    if why is not None:
        raise KdsegError(
            f"{path}: weights do not fit network {network or type(model).__name__} ({why})"
        )


def load_model(
    path: str | Path,
    device: torch.device | str = "cpu",
    inference: Mapping[str, Any] | None = None,
) -> tuple[nn.Module, dict[str, Any], InferenceSpec]:
    """Rebuild the network, load its weights; returns (model in eval mode, metadata, spec).

    ``inference``: the architecture's current config ``inference`` section, which changes the
    stored spec (so inference settings can change without re-training)."""
    content = read_model_file(path)
    try:
        arch = content["architecture"]
        model = build_network(
            arch["network"],
            content["in_channels"],
            len(content["classes"]),
            **arch.get("kwargs", {}),
        )
        state = content.pop("state_dict")
    except KeyError as err:
        raise KdsegError(f"{path}: model file lacks {err}") from None
    except KdsegError as err:
        raise KdsegError(f"{path}: {err}") from None
    load_weights(model, state, path, f"{arch['network']} {arch.get('kwargs', {})}")
    model.to(device).eval()
    return model, content, InferenceSpec.from_json(content["inference"]).with_settings(inference)
