"""What the builders of networks, optimisers and schedules accept, declared without torch so
that reading a config never imports it. Tests keep these tables equal to the constructors'
signatures (``tests/test_config_specs.py``); values are checked when a job builds them."""

from __future__ import annotations

import ast
import functools
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kdseg.errors import ConfigError

# registry name -> (spatial dimensions, keyword arguments of kdseg.nets.registry's builder)
_UNET = ("features", "norm")
_RESNET = ("features", "blocks", "dropout", "layout", "head_relu", "norm")
_DILATED = ("features", "dilations", "head", "dropout", "layout")
NETWORKS: dict[str, tuple[int, tuple[str, ...]]] = {
    "dilated2d": (2, _DILATED),
    "dilated2d_kdseg": (2, tuple(k for k in _DILATED if k != "layout")),
    "unet3d": (3, _UNET),
    "unet2d": (2, _UNET),
    "resnet3d": (3, _RESNET),
    "resnet2d": (2, _RESNET),
    "resnet3d_kdseg": (3, tuple(k for k in _RESNET if k != "layout")),
    "resnet2d_kdseg": (2, tuple(k for k in _RESNET if k != "layout")),
}
MONAI_PREFIX = "monai:"

# optimiser name -> its keyword arguments (besides the parameters)
OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "adam": ("lr", "betas", "eps", "weight_decay", "amsgrad", "foreach", "maximize",
             "capturable", "differentiable", "fused", "decoupled_weight_decay"),
    "adamw": ("lr", "betas", "eps", "weight_decay", "amsgrad", "foreach", "maximize",
              "capturable", "differentiable", "fused"),
    "sgd": ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach",
            "differentiable", "fused"),
}  # fmt: skip

# schedule name -> (required keys, optional keys)
SCHEDULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "constant": ((), ()),
    "poly": ((), ("power",)),
    "cosine": ((), ("min_lr",)),
    "step": (("step_size",), ("gamma",)),
}


@functools.cache
def monai_network_names() -> frozenset[str]:
    """The names ``monai.networks.nets`` exports, read from its source without importing
    MONAI (which imports torch)."""
    spec = importlib.util.find_spec("monai")
    if spec is None or spec.origin is None:
        return frozenset()
    init = Path(spec.origin).parent / "networks" / "nets" / "__init__.py"
    names = set()
    for node in ast.walk(ast.parse(init.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return frozenset(names)


def network_dims(network: str) -> int | None:
    """Spatial dimensions of a registry network (None: a MONAI network, not known here)."""
    return NETWORKS[network][0] if network in NETWORKS else None


def check_network_arguments(network: str, kwargs: Mapping[str, Any]) -> None:
    """The network is known and takes these keyword arguments (MONAI networks: by the job)."""
    if network.startswith(MONAI_PREFIX):
        if network[len(MONAI_PREFIX) :] not in monai_network_names():
            raise ConfigError(f"architecture {network!r}: no such network in monai.networks.nets")
        return  # its keyword arguments: checked by the job that builds it
    if network not in NETWORKS:
        raise ConfigError(
            f"architecture {network!r}: unknown (known: {', '.join(NETWORKS)}, or monai:<Name>)"
        )
    accepted = NETWORKS[network][1]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ConfigError(
            f"architecture {network!r}: bad arguments (unknown keyword {unknown[0]!r}; "
            f"accepted: {', '.join(accepted)})"
        )


def check_optimizer(section: Mapping[str, Any]) -> None:
    """A known optimiser with keyword arguments it takes."""
    name = section.get("name", "adam")
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimiser {name!r} (known: {', '.join(sorted(OPTIMIZERS))})")
    unknown = sorted(set(section) - {"name"} - set(OPTIMIZERS[name]))
    if unknown:
        raise ConfigError(
            f"bad arguments for {name} (unknown keyword {unknown[0]!r}; accepted: "
            f"{', '.join(OPTIMIZERS[name])})"
        )
    if section.get("nesterov") and (
        section.get("momentum", 0) <= 0 or section.get("dampening", 0) != 0
    ):  # torch.optim.SGD's own rule
        raise ConfigError("Nesterov momentum requires a momentum and zero dampening")


def check_schedule(section: Mapping[str, Any]) -> None:
    """A known schedule with its required keys and no keys of another schedule."""
    name = section.get("name", "constant")
    if name not in SCHEDULES:
        raise ConfigError(f"unknown schedule {name!r} (known: {', '.join(SCHEDULES)})")
    required, optional = SCHEDULES[name]
    missing = [k for k in required if k not in section]
    if missing:
        raise ConfigError(f"schedule {name!r} needs {missing[0]!r}")
    unused = sorted(set(section) - {"name"} - set(required) - set(optional))
    if unused:
        raise ConfigError(f"{unused[0]!r} is not used by schedule {name!r}")
