"""Inference: class probabilities of a network over a preprocessed volume, and labels mapped back
to the original geometry.

3D networks run MONAI sliding windows (Gaussian blending). 2D networks run slice by slice along
one or more orientations whose probabilities are averaged; networks with valid convolutions
(``valid_margin`` > 0) see each whole slice padded by the margin, so every output pixel has its
full receptive field: ``padding`` ``edge`` (ours) repeats the border pixels, ``zeros`` pads
with 0 (the authors' zero padding by half the receptive field, their ``utils.py:305, 477``).
Sliding windows that overhang the image are zero-padded by MONAI under both. Window outputs are
blended as softmax probabilities (as nnU-Net v1 did; v2 blends logits), so the blend is a
convex combination that still sums to one. At a temperature T != 1 every prediction (window,
slice orientation) is softened, ``softmax(z / T)``, before the blend: the authors' soft labels
(their networks end in ``softmax(z / T)``, ``networks.py:9-11, 111``, whose outputs they
average over orientations and shifted passes, ``testing_network.py:410-475, 1075-1097``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kdseg.errors import ConfigError
from kdseg.nets.registry import input_geometry

PADDINGS = ("edge", "zeros")
"""How an image is padded where a network's input reaches outside it (``training.padding``)."""
_TORCH_PAD = {"edge": "replicate", "zeros": "constant"}


def check_padding(padding: str, key: str = "padding") -> str:
    """``padding`` if it is one of :data:`PADDINGS`; else a one-line error naming ``key``."""
    if padding not in PADDINGS:
        raise ConfigError(f"{key}: {padding!r}; choose one of {list(PADDINGS)}")
    return padding


@dataclass
class InferenceSpec:
    """How a network is applied to a volume.

    ``patch`` is the training patch (3 sizes for 3D networks, 2 for 2D ones), used as the
    sliding-window ROI (rounded up to the network's size divisor); ``orientations`` are the
    array axes along which 2D slices are taken (0, 1, 2; ignored for 3D networks);
    ``padding`` how whole slices are padded by a valid margin (:data:`PADDINGS`; the training
    run's ``training.padding``).
    """

    spatial_dims: int
    patch: tuple[int, ...]
    orientations: tuple[int, ...] = (0, 1, 2)
    overlap: float = 0.5
    batch_size: int = 4
    padding: str = "edge"

    def __post_init__(self) -> None:
        check_padding(self.padding, "inference: padding")
        self.spatial_dims = int(self.spatial_dims)
        self.patch = tuple(int(p) for p in self.patch)
        self.orientations = tuple(int(o) for o in self.orientations)
        self.overlap = float(self.overlap)
        self.batch_size = int(self.batch_size)
        if self.spatial_dims not in (2, 3):
            raise ConfigError(f"inference: spatial_dims must be 2 or 3, not {self.spatial_dims}")
        if len(self.patch) != self.spatial_dims or min(self.patch) < 1:
            raise ConfigError(
                f"inference: patch {list(self.patch)} needs {self.spatial_dims} positive sizes"
            )
        if (
            not self.orientations
            or len(set(self.orientations)) != len(self.orientations)
            or not set(self.orientations) <= {0, 1, 2}
        ):
            raise ConfigError(
                f"inference: orientations {list(self.orientations)} must be distinct axes 0, 1, 2"
            )
        if not 0.0 <= self.overlap < 1.0:
            raise ConfigError(f"inference: overlap must be in [0, 1), not {self.overlap}")
        if self.batch_size < 1:
            raise ConfigError(f"inference: batch_size must be >= 1, not {self.batch_size}")

    def to_json(self) -> dict[str, Any]:
        """Plain dict (ints, floats, lists): safe for JSON and ``torch.load(weights_only=True)``."""
        return {
            "spatial_dims": self.spatial_dims,
            "patch": list(self.patch),
            "orientations": list(self.orientations),
            "overlap": self.overlap,
            "batch_size": self.batch_size,
            # the default is left out: model files of edge-padded runs stay as they were
            **({"padding": self.padding} if self.padding != "edge" else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InferenceSpec:
        """The inverse of :meth:`to_json` (missing optional keys take their defaults)."""
        return cls(**data)

    def with_settings(self, settings: Mapping[str, Any] | None) -> InferenceSpec:
        """This spec changed by an architecture's config ``inference`` section (``overlap``,
        ``batch_size``; ``patch``, the sliding window, for 3D networks only)."""
        changes = {k: settings[k] for k in ("overlap", "batch_size") if k in (settings or {})}
        if self.spatial_dims == 3 and "patch" in (settings or {}):
            changes["patch"] = tuple(settings["patch"])
        return dataclasses.replace(self, **changes)


def predict_probabilities(
    model: nn.Module,
    image: np.ndarray,
    spec: InferenceSpec,
    device: torch.device | str = "cpu",
    amp: bool = False,
    temperature: float = 1.0,
) -> np.ndarray:
    """Softmax probabilities (K, X, Y, Z) float32 of ``model`` on a (C, X, Y, Z) image
    (``temperature``: every prediction's ``softmax(z / T)`` blended, see the module).

    The model is moved to ``device`` and run in eval mode (its training flag is restored after);
    ``amp`` enables float16 autocast on CUDA only. The image may be a memmap: 2D networks read
    it in chunks of ``batch_size`` slices; 3D networks load it whole (in CPU memory, windows go
    to ``device``). The (K, X, Y, Z) result is accumulated on ``device`` (3D) or on the CPU (2D).
    """
    if image.ndim != 4:
        raise ValueError(f"image must be (C, X, Y, Z), got shape {tuple(image.shape)}")
    device = torch.device(device)
    margin, divisor = input_geometry(model)
    was_training = model.training
    model.to(device).eval()
    autocast = (
        torch.autocast("cuda", dtype=torch.float16)
        if amp and device.type == "cuda"
        else contextlib.nullcontext()
    )
    try:
        with torch.inference_mode(), autocast:
            if spec.spatial_dims == 3:
                if margin:
                    raise ConfigError("inference: 3D networks with a valid margin are unsupported")
                return _predict_3d(model, image, spec, device, divisor, temperature)
            return _predict_2d(model, image, spec, device, margin, divisor, temperature)
    finally:
        model.train(was_training)


def _round_up(sizes: Sequence[int], divisor: int) -> tuple[int, ...]:
    return tuple(divisor * math.ceil(n / divisor) for n in sizes)


def _softmax(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    logits = logits.float()
    return torch.softmax(logits if temperature == 1 else logits / temperature, dim=1)


def sliding_window_inference(*args: Any, **kwargs: Any) -> Any:
    """MONAI's ``sliding_window_inference``, imported at its first use: importing MONAI loads
    all of it (~1.2 s of a job's start-up), which a job applying a 2D network with a valid
    margin (whole slices) never needs."""
    from monai.inferers import sliding_window_inference as monai_sliding_window

    return monai_sliding_window(*args, **kwargs)


def _sliding(
    model: nn.Module,
    x: torch.Tensor,
    spec: InferenceSpec,
    device: torch.device,
    divisor: int,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Gaussian-blended sliding-window softmax; MONAI zero-pads inputs smaller than the ROI."""

    def predictor(window: torch.Tensor) -> torch.Tensor:
        return _softmax(model(window), temperature)

    return sliding_window_inference(
        x,
        roi_size=_round_up(spec.patch, divisor),
        sw_batch_size=spec.batch_size,
        predictor=predictor,
        overlap=spec.overlap,
        mode="gaussian",
        sw_device=device,
        device=device,
    )


def _predict_3d(
    model: nn.Module,
    image: np.ndarray,
    spec: InferenceSpec,
    device: torch.device,
    divisor: int,
    temperature: float = 1.0,
) -> np.ndarray:
    x = torch.from_numpy(np.array(image, dtype=np.float32))[None]
    return _sliding(model, x, spec, device, divisor, temperature)[0].float().cpu().numpy()


def _whole_slices(
    model: nn.Module,
    x: torch.Tensor,
    margin: int,
    divisor: int,
    padding: str = "edge",
    temperature: float = 1.0,
) -> torch.Tensor:
    """Softmax of a valid-convolution network on padded whole slices (N, C, H, W)."""
    h, w = x.shape[-2:]
    extra_h, extra_w = ((-(n + 2 * margin)) % divisor for n in (h, w))
    pads = (margin, margin + extra_w, margin, margin + extra_h)
    padded = F.pad(x, pads, mode=_TORCH_PAD[check_padding(padding)])
    logits = model(padded)
    if tuple(logits.shape[-2:]) != (h + extra_h, w + extra_w):
        raise ValueError(
            f"network output {tuple(logits.shape[-2:])} for input {tuple(padded.shape[-2:])} "
            f"does not match its declared valid_margin {margin}"
        )
    return _softmax(logits[..., :h, :w], temperature)


def _predict_2d(
    model: nn.Module,
    image: np.ndarray,
    spec: InferenceSpec,
    device: torch.device,
    margin: int,
    divisor: int,
    temperature: float = 1.0,
) -> np.ndarray:
    spatial = tuple(image.shape[1:])
    total: np.ndarray | None = None
    for axis in spec.orientations:
        slices = np.moveaxis(image, axis + 1, 0)  # (N, C, H, W) view
        for start in range(0, slices.shape[0], spec.batch_size):
            chunk = np.array(slices[start : start + spec.batch_size], dtype=np.float32)
            x = torch.from_numpy(chunk).to(device)
            if margin:
                probs = _whole_slices(model, x, margin, divisor, spec.padding, temperature)
            else:
                probs = _sliding(model, x, spec, device, divisor, temperature)
            probs_np = probs.float().cpu().numpy()
            if total is None:
                total = np.zeros((probs_np.shape[1], *spatial), dtype=np.float32)
            np.moveaxis(total, axis + 1, 0)[start : start + spec.batch_size] += probs_np
    assert total is not None
    total /= len(spec.orientations)
    return total
