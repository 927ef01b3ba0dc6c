"""Feature distillation with KL, Lovász and Dice (METHODS 2a; Ben Loussaief et al. 2023).

``loss = w_kl * KL(teacher_T || student_T) * T^2 + w_lovasz * Lovász-softmax(student, labels)
+ w_dice * soft Dice(student, labels) + w_feature * sum_l MSE(adapter_l(student_l), teacher_l)``

Feature maps are taken from named layers of both networks with forward hooks
(:class:`FeatureTap`); a 1x1 convolution per layer pair maps the student's channels to the
teacher's, and the adapted map is interpolated (trilinear/bilinear) to the teacher map's size.
The teacher is frozen: its features and probabilities are targets, never differentiated.
Layer names are ``torch.nn.Module.get_submodule`` paths. Which layers and weights the paper
used is not public in any text we could read: both are configurable (our defaults: all four
weights 1, T = 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from kdseg.distill.kd_loss import KDLoss, tempered_softmax
from kdseg.errors import ConfigError
from kdseg.models.losses import build_loss
from kdseg.models.lovasz import lovasz_softmax

TERMS = ("kl", "lovasz", "dice", "feature")


class FeatureTap:
    """Forward hooks that keep the outputs of named submodules of a network.

    Use as a context manager; ``features[name]`` holds the latest output of each layer.
    """

    def __init__(self, network: nn.Module, layers: Sequence[str]) -> None:
        self.network, self.layers = network, list(layers)
        self.features: dict[str, torch.Tensor] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def __enter__(self) -> FeatureTap:
        for name in self.layers:
            try:
                module = self.network.get_submodule(name)
            except AttributeError:
                raise ConfigError(
                    f"feature layer {name!r}: no such submodule in {type(self.network).__name__}"
                ) from None
            self._handles.append(module.register_forward_hook(self._keep(name)))
        return self

    def _keep(self, name: str):
        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            self.features[name] = output

        return hook

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def feature_channels(network: nn.Module, layers: Sequence[str], example: torch.Tensor) -> list[int]:
    """Channels of each named layer's output, from one forward pass of ``example``."""
    with torch.no_grad(), FeatureTap(network, layers) as tap:
        network(example)
    return [int(tap.features[name].shape[1]) for name in layers]


class FeatureKDLoss(nn.Module):
    """The four-term loss; holds the trainable 1x1 adapters (train them with the student)."""

    def __init__(
        self,
        num_classes: int,
        student_channels: Sequence[int],
        teacher_channels: Sequence[int],
        spatial_dims: int = 3,
        weights: Mapping[str, float] | None = None,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        weights = dict(weights or {})
        unknown = set(weights) - set(TERMS)
        if unknown:
            raise ConfigError(f"feature KD weights: unknown term(s) {sorted(unknown)} "
                              f"(known: {', '.join(TERMS)})")  # fmt: skip
        if len(student_channels) != len(teacher_channels):
            raise ConfigError("feature KD: one teacher layer per student layer is needed")
        self.weights = {term: float(weights.get(term, 1.0)) for term in TERMS}
        conv = nn.Conv3d if spatial_dims == 3 else nn.Conv2d
        self.adapters = nn.ModuleList(
            conv(s, t, kernel_size=1)
            for s, t in zip(student_channels, teacher_channels, strict=True)
        )
        self.kl = KDLoss("kl", temperature=temperature, hard_weight=0.0)
        self.dice = build_loss({"name": "dice"}, num_classes)

    def feature_term(
        self, student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """Sum over layer pairs of MSE(adapted, resized student map, teacher map)."""
        total = torch.zeros((), device=student[0].device)
        for adapter, s, t in zip(self.adapters, student, teacher, strict=True):
            adapted = adapter(s.float())
            if adapted.shape[2:] != t.shape[2:]:
                mode = "trilinear" if adapted.ndim == 5 else "bilinear"
                adapted = F.interpolate(adapted, size=t.shape[2:], mode=mode, align_corners=False)
            total = total + F.mse_loss(adapted, t.detach().float())
        return total

    def terms(
        self,
        student_logits: torch.Tensor,
        teacher_logits: torch.Tensor,
        labels: torch.Tensor,
        student_features: Sequence[torch.Tensor] = (),
        teacher_features: Sequence[torch.Tensor] = (),
    ) -> dict[str, torch.Tensor]:
        """Each term unweighted (for logging and tests); ``feature`` when features are given."""
        logits = student_logits.float()
        teacher_probs = tempered_softmax(teacher_logits.detach(), self.kl.temperature)
        out = {
            "kl": self.kl.soft(logits, teacher_probs),
            "lovasz": lovasz_softmax(logits.softmax(1), labels),
            "dice": self.dice(logits, labels),
        }
        if student_features or teacher_features:
            out["feature"] = self.feature_term(student_features, teacher_features)
        return out

    def forward(self, *args: object, **kwargs: object) -> torch.Tensor:
        terms = self.terms(*args, **kwargs)
        return sum(self.weights[name] * value for name, value in terms.items())
