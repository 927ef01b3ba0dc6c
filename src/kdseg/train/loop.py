"""The training loop shared by teachers, baselines and students.

Fixed iterations; the batch of iteration ``i`` comes from ``sampler.batch(i)`` (prepared in a
background thread while the previous step runs), the torch RNG (dropout) is re-seeded from
(seed, i) at every step, so that a run resumed from a checkpoint continues bit for bit on CPU.
A resumable checkpoint (weights, optimiser, schedule, loss scaler, best weights, history,
iteration; the sampler's state *is* (seed, iteration)) is written atomically every
``checkpoint_every`` iterations and read back when the job is run again.

A checkpoint records the settings that shaped its weights (:func:`run_settings`: the loop
settings but ``log_every``, ``checkpoint_every`` and ``loader_workers``, the seed, and the
caller's ``fingerprint``: loss or method settings, network, data). Our choice when they differ
from the run's (a config edit after a kill), or when the checkpoint is of an older format that
recorded none: training starts afresh, with a WARNING naming each differing key (old -> new);
the stale checkpoint is overwritten by the next one. A checkpoint that cannot be read (cut
short, corrupt) or does not fit the network stops the run with a one-line error saying to
delete it.

SIGTERM (what SLURM sends at the time limit, ``KillWait`` seconds before SIGKILL) is acted on
at the next step boundary: a last checkpoint of that iteration is written (so the resumed run
is bit-identical), the loader's workers are shut down and :class:`TrainingStopped` is raised.
The loader's workers ignore SIGTERM: the training process decides when they stop.

Progress (``progress``, e.g. the live ``training.csv`` and curves of a running job) is handed
the history at every validation (without validation: at every checkpoint), and on resuming
from a checkpoint, so that what a killed run wrote past its checkpoint is replaced at once by
the rows the resumed run continues from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import multiprocessing as mp
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from kdseg.errors import ConfigError, KdsegError
from kdseg.evaluation.curve_rule import reference_iteration
from kdseg.models.model_file import first_line, weights_mismatch
from kdseg.runtime.atomic import atomic_path

log = logging.getLogger("kdseg")

CHECKPOINT_FORMAT = "kdseg-checkpoint/2"
UNRECORDED = ("log_every", "checkpoint_every", "loader_workers")  # do not change the weights


class BatchSource(Protocol):
    def batch(self, iteration: int) -> dict[str, np.ndarray]: ...


StepLoss = Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]
Validator = Callable[[nn.Module], "float | Mapping[str, float]"]
"""``validate(model)`` -> the mean validation Dice, or a mapping of scores whose
``validation_dice`` entry is the mean (other entries, e.g. per structure, are recorded in the
history beside it)."""
Progress = Callable[[list[dict[str, float]]], None]
"""``progress(history)``: the rows so far (read only; e.g. rewrite the history files)."""


@dataclass
class TrainSettings:
    """Training settings (config section ``training``); defaults follow the authors."""

    iterations: int = 1000
    batch_size: int = 4
    optimizer: dict[str, Any] = field(default_factory=lambda: {"name": "adam", "lr": 1e-3})
    schedule: dict[str, Any] = field(default_factory=lambda: {"name": "constant"})
    validate_every: int = 0
    checkpoint_every: int = 100
    log_every: int = 20
    weights: str = "final"
    amp: bool = True
    loader_workers: int = 1
    channels_last: bool = True


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
    name = section.get("name", "adam")
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
    name = section.get("name", "constant")
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


@dataclass
class TrainResult:
    """What a finished run hands back."""

    final_state: dict[str, torch.Tensor]
    best_state: dict[str, torch.Tensor] | None
    best_iteration: int | None
    best_score: float | None
    history: list[dict[str, float]]
    seconds: float = 0.0
    data_wait_seconds: float = 0.0


def _seed_step(seed: int, iteration: int) -> None:
    torch.manual_seed((seed * 1_000_003 + iteration) % (2**63))


class _Batches(torch.utils.data.IterableDataset):
    """The batches of iterations ``start..stop-1`` in order, shared out over loader workers."""

    def __init__(self, sampler: BatchSource, start: int, stop: int) -> None:
        self.sampler, self.start, self.stop = sampler, start, stop

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        info = torch.utils.data.get_worker_info()
        step, first = (1, 0) if info is None else (info.num_workers, info.id)
        for i in range(self.start + first, self.stop, step):
            yield self.sampler.batch(i)


def _loader(
    sampler: BatchSource, start: int, stop: int, workers: int, device: torch.device
) -> torch.utils.data.DataLoader:
    """Batches prepared by ``workers`` processes (0: in this process) while training runs.

    Worker processes sidestep the GIL: sampling and augmentation run on another core instead
    of competing with the training step's Python code. The round-robin order of PyTorch's
    loader over workers keeps the batches in iteration order, so results do not depend on
    the number of workers.
    """
    extra: dict[str, Any] = {}
    if workers > 0:
        extra = {
            "prefetch_factor": 2,
            "persistent_workers": False,
            "worker_init_fn": _ignore_sigterm,
        }
        if "fork" in mp.get_all_start_methods():  # memory maps are inherited, not pickled
            extra["multiprocessing_context"] = "fork"
    return torch.utils.data.DataLoader(
        _Batches(sampler, start, stop),
        batch_size=None,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        **extra,
    )


def _fmt_time(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


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


class TrainingStopped(KdsegError):
    """SIGTERM stopped training at a step boundary (after a last checkpoint)."""


def _read_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
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


def _stale(state: Mapping[str, Any], recorded: Mapping[str, str]) -> str | None:
    """Why a checkpoint is not one of this run (None: it is)."""
    if state["format"] != CHECKPOINT_FORMAT:
        if state["format"] == "kdseg-checkpoint/1":
            return "is of an older format without recorded settings"
        return f"is of format {state['format']!r}, not {CHECKPOINT_FORMAT!r}"
    differences = _differences(state.get("settings") or {}, recorded)
    return f"was written with other settings ({differences})" if differences else None


@contextlib.contextmanager
def _sigterm_noted() -> Iterator[list[int]]:
    """While training in the main thread, SIGTERM is only noted (the loop acts on it)."""
    noted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: noted.append(signum))
    try:
        yield noted
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _ignore_sigterm(_worker: int) -> None:
    """Loader workers outlive SIGTERM: their death would end the step before its checkpoint."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def exit_on_sigterm() -> None:
    """Outside the training loop, SIGTERM ends the process through ``SystemExit``, so that
    atomic writes remove their temporaries (for training jobs' entry points)."""

    def stop(signum: int, _frame: Any) -> None:
        log.error("stopped by SIGTERM")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def train(
    model: nn.Module,
    sampler: BatchSource,
    step_loss: StepLoss,
    settings: TrainSettings,
    seed: int,
    checkpoint: str | Path,
    device: torch.device | str = "cpu",
    validate: Validator | None = None,
    name: str = "model",
    fingerprint: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train ``model`` for ``settings.iterations`` steps, resuming from ``checkpoint``.

    ``fingerprint``: what else shapes the weights (loss or method settings, network, data
    identity); a checkpoint with other settings is not resumed (see the module docstring).
    ``progress``: called with the history at each validation (see the module docstring); an
    ``OSError`` it raises is logged as a warning, training goes on.
    Raises :class:`TrainingStopped` after a last checkpoint when SIGTERM arrives."""
    device = torch.device(device)
    model.to(device)
    if settings.channels_last:
        to_channels_last(model)
    optimizer = make_optimizer(model, settings.optimizer)
    schedule = make_schedule(optimizer, settings.schedule, settings.iterations)
    use_amp = settings.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"state": None, "iteration": None, "score": None}
    start = 0
    checkpoint = Path(checkpoint)
    recorded = run_settings(settings, seed, fingerprint)
    if checkpoint.exists():
        state = _read_checkpoint(checkpoint, device)
        why = _stale(state, recorded)
        if why is not None:
            log.warning("%s: checkpoint %s %s; starting afresh", name, checkpoint, why)
        else:
            try:
                mismatch = weights_mismatch(model, state["model"])
                if mismatch is not None:
                    raise ValueError(mismatch)
                model.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
                schedule.load_state_dict(state["schedule"])
                scaler.load_state_dict(state["scaler"])
                history, best, start = state["history"], state["best"], int(state["iteration"])
            except (KeyError, ValueError, RuntimeError, TypeError) as err:
                raise KdsegError(
                    f"{checkpoint}: checkpoint does not fit this run ({first_line(err)}); "
                    "delete it to restart training"
                ) from None
            log.info("%s: resuming from %s at iteration %d", name, checkpoint, start)

    def report(iteration: int) -> None:
        if progress is None:
            return
        try:
            progress(history)
        except OSError as err:  # e.g. a full disk: the final files are written at the end
            log.warning("%s: progress files not written at iteration %d (%s)",
                        name, iteration, first_line(err))  # fmt: skip

    if start > 0:
        report(start)

    def save_checkpoint(iteration: int) -> None:
        with atomic_path(checkpoint) as tmp:
            torch.save(
                {
                    "format": CHECKPOINT_FORMAT,
                    "settings": recorded,
                    "seed": seed,
                    "iteration": iteration,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "scaler": scaler.state_dict(),
                    "history": history,
                    "best": best,
                },
                tmp,
            )

    def run_validation(iteration: int) -> dict[str, float]:
        scores = validate(model)  # type: ignore[misc]
        scores = dict(scores) if isinstance(scores, Mapping) else {"validation_dice": scores}
        score = float(scores["validation_dice"])
        model.train()
        if best["score"] is None or score > best["score"]:
            best.update(
                state={k: v.detach().clone() for k, v in model.state_dict().items()},
                iteration=iteration,
                score=score,
            )
        log.info("%s: iteration %d validation Dice %.4f (best %.4f at %d)",
                 name, iteration, score, best["score"], best["iteration"])  # fmt: skip
        return {k: float(v) for k, v in scores.items()}

    def stop(iteration: int, saved: bool) -> TrainingStopped:
        if iteration > 0 and not saved:
            save_checkpoint(iteration)
        where = f"checkpoint {checkpoint} written" if iteration > 0 else "no checkpoint yet"
        return TrainingStopped(
            f"{name}: stopped by SIGTERM at iteration {iteration} ({where}); run the job "
            "again to resume"
        )

    model.train()
    total = settings.iterations
    validating = validate is not None and bool(settings.validate_every)
    reference = reference_iteration(total)  # the curve rule's point: always validated
    t0, wait, window_loss, window_n = time.perf_counter(), 0.0, 0.0, 0
    done_at_start = start
    with _sigterm_noted() as sigterm:
        batches = iter(_loader(sampler, start, total, settings.loader_workers, device))
        try:
            if sigterm:
                raise stop(start, True)
            for i in range(start, total):
                t_wait = time.perf_counter()
                batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}
                wait += time.perf_counter() - t_wait
                _seed_step(seed, i)
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device_type=device.type, enabled=use_amp):
                    loss = step_loss(model, batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"{name}: loss is {loss.item()} at iteration {i + 1}")
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                lr = optimizer.param_groups[0]["lr"]
                schedule.step()
                value = float(loss.detach())
                window_loss, window_n = window_loss + value, window_n + 1
                row: dict[str, float] = {"iteration": i + 1, "loss": value, "lr": lr}
                it = i + 1
                validated = validating and (
                    it % settings.validate_every == 0 or it in (reference, total)
                )
                if validated:
                    row.update(run_validation(it))
                history.append(row)
                if it % settings.log_every == 0 or it == total:
                    elapsed = time.perf_counter() - t0
                    rate = (it - done_at_start) / elapsed
                    log.info(
                        "%s: iter %d/%d loss %.4f | %.2f it/s | data wait %.0f%% | ETA %s",
                        name, it, total, window_loss / window_n, rate,
                        100 * wait / elapsed, _fmt_time((total - it) / rate),
                    )  # fmt: skip
                    window_loss, window_n = 0.0, 0
                saved = it % settings.checkpoint_every == 0 and it < total
                if saved:
                    save_checkpoint(it)
                if validated or (saved and not validating):
                    report(it)
                if sigterm:  # a step boundary: the checkpoint resumes bit for bit
                    raise stop(it, saved)
        finally:
            del batches  # shuts the loader's workers down now, also when stopping
    return TrainResult(
        final_state={k: v.detach().cpu() for k, v in model.state_dict().items()},
        best_state=best["state"],
        best_iteration=best["iteration"],
        best_score=best["score"],
        history=history,
        seconds=time.perf_counter() - t0,
        data_wait_seconds=wait,
    )
