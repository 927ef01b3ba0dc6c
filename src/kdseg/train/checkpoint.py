"""Resumable training checkpoints: written atomically, read back with one-line errors, and
compared with the run's settings.

A checkpoint holds the weights, optimiser, schedule, loss scaler, best weights, history and
iteration (the sampler's state *is* (seed, iteration)) and records the settings that shaped
its weights (:func:`run_settings`: the loop settings but :data:`UNRECORDED`, the seed, and the
caller's ``fingerprint``: loss or method settings, network, data). Our choice when they differ
from the run's (a config edit after a kill), or when the checkpoint is of an older format that
recorded none: training starts afresh, with a WARNING naming each differing key (old -> new);
the stale checkpoint is overwritten by the next one. A checkpoint that cannot be read (cut
short, corrupt) or does not fit the network stops the run with a one-line error saying to
delete it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdseg.config.settings import RUNTIME_TRAINING
from kdseg.errors import KdsegError
from kdseg.models.model_file import first_line, weights_mismatch
from kdseg.runtime.atomic import atomic_path
from kdseg.train.settings import TrainSettings

CHECKPOINT_FORMAT = "kdseg-checkpoint/2"
UNRECORDED = RUNTIME_TRAINING  # where a job runs and how it reports: not the weights
PARTS = ("model", "optimizer", "schedule", "scaler")
"""The stateful parts of a run, by their checkpoint keys (each has ``state_dict``)."""


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """``{dotted key: canonical JSON}`` of nested mappings (key order does not matter)."""
    if isinstance(value, Mapping) and (value or not prefix):
        flat: dict[str, str] = {}
        for key in sorted(value, key=str):
            flat.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: json.dumps(value, sort_keys=True, default=str)}


def run_settings(
    settings: TrainSettings, seed: int, fingerprint: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """What shapes the weights, as recorded in a checkpoint: the loop settings but
    :data:`UNRECORDED`, the seed and the caller's ``fingerprint``, flattened."""
    loop = {k: v for k, v in dataclasses.asdict(settings).items() if k not in UNRECORDED}
    return {**_flatten(dict(fingerprint or {})), **_flatten({**loop, "seed": seed})}


def _short(value: str | None, limit: int = 60) -> str:
    if value is None:
        return "(none)"
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _differences(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"{k}: {_short(old.get(k))} -> {_short(new.get(k))}" for k in keys)


def read_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """A checkpoint's content, or a one-line error when it is unreadable."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # cut short, corrupt, or a foreign pickle
        raise KdsegError(
            f"{path}: unreadable training checkpoint (truncated or corrupt: {first_line(err)});"
            " delete it to restart training"
        ) from None
    if not isinstance(state, dict) or not str(state.get("format", "")).startswith(
        "kdseg-checkpoint/"
    ):
        raise KdsegError(f"{path}: not a kdseg training checkpoint; delete it to restart training")
    return state


def stale(state: Mapping[str, Any], recorded: Mapping[str, str]) -> str | None:
    """Why a checkpoint is not one of this run (None: it is)."""
    if state["format"] != CHECKPOINT_FORMAT:
        if state["format"] == "kdseg-checkpoint/1":
            return "is of an older format without recorded settings"
        return f"is of format {state['format']!r}, not {CHECKPOINT_FORMAT!r}"
    differences = _differences(state.get("settings") or {}, recorded)
    return f"was written with other settings ({differences})" if differences else None


def restore(
    path: Path, state: Mapping[str, Any], parts: Mapping[str, Any]
) -> tuple[list[dict[str, float]], dict[str, Any], int]:
    """Load a checkpoint's ``state`` into the run's ``parts`` (:data:`PARTS`); its history,
    best weights and iteration, or a one-line error when it does not fit the run."""
    try:
        mismatch = weights_mismatch(parts["model"], state["model"])
        if mismatch is not None:
            raise ValueError(mismatch)
        for key in PARTS:
            parts[key].load_state_dict(state[key])
        return state["history"], state["best"], int(state["iteration"])
    except (KeyError, ValueError, RuntimeError, TypeError) as err:
        raise KdsegError(
            f"{path}: checkpoint does not fit this run ({first_line(err)}); "
            "delete it to restart training"
        ) from None


def write_checkpoint(
    path: Path,
    recorded: Mapping[str, str],
    seed: int,
    iteration: int,
    parts: Mapping[str, nn.Module | Any],
    history: list[dict[str, float]],
    best: dict[str, Any],
) -> None:
    """Write a checkpoint of iteration ``iteration`` atomically."""
    with atomic_path(path) as tmp:
        torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                "settings": recorded,
                "seed": seed,
                "iteration": iteration,
                **{key: parts[key].state_dict() for key in PARTS},
                "history": history,
                "best": best,
            },
            tmp,
        )
