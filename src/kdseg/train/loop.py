"""The training loop shared by teachers, baselines and students.

Fixed iterations; the batch of iteration ``i`` comes from ``sampler.batch(i)`` (prepared in a
background thread while the previous step runs), the torch RNG (dropout) is re-seeded from
(seed, i) at every step, so that a run resumed from a checkpoint continues bit for bit on CPU.
A resumable checkpoint (weights, optimiser, schedule, loss scaler, best weights, history,
iteration; the sampler's state *is* (seed, iteration)) is written atomically every
``checkpoint_every`` iterations and read back when the job is run again.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from kdseg.atomic import atomic_path
from kdseg.errors import ConfigError

log = logging.getLogger("kdseg")

CHECKPOINT_FORMAT = "kdseg-checkpoint/1"


class BatchSource(Protocol):
    def batch(self, iteration: int) -> dict[str, np.ndarray]: ...


StepLoss = Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]
Validator = Callable[[nn.Module], float]


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
        extra = {"prefetch_factor": 2, "persistent_workers": False}
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
) -> TrainResult:
    """Train ``model`` for ``settings.iterations`` steps, resuming from ``checkpoint``."""
    device = torch.device(device)
    model.to(device)
    optimizer = make_optimizer(model, settings.optimizer)
    schedule = make_schedule(optimizer, settings.schedule, settings.iterations)
    use_amp = settings.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"state": None, "iteration": None, "score": None}
    start = 0
    checkpoint = Path(checkpoint)
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state.get("format") != CHECKPOINT_FORMAT or state.get("seed") != seed:
            raise ConfigError(f"{checkpoint}: not a checkpoint of this run (delete it to restart)")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        scaler.load_state_dict(state["scaler"])
        history, best, start = state["history"], state["best"], int(state["iteration"])
        log.info("%s: resuming from %s at iteration %d", name, checkpoint, start)

    def save_checkpoint(iteration: int) -> None:
        with atomic_path(checkpoint) as tmp:
            torch.save(
                {
                    "format": CHECKPOINT_FORMAT,
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

    def run_validation(iteration: int) -> float:
        score = float(validate(model))  # type: ignore[misc]
        model.train()
        if best["score"] is None or score > best["score"]:
            best.update(
                state={k: v.detach().clone() for k, v in model.state_dict().items()},
                iteration=iteration,
                score=score,
            )
        log.info("%s: iteration %d validation Dice %.4f (best %.4f at %d)",
                 name, iteration, score, best["score"], best["iteration"])  # fmt: skip
        return score

    model.train()
    total = settings.iterations
    t0, wait, window_loss, window_n = time.perf_counter(), 0.0, 0.0, 0
    done_at_start = start
    batches = iter(_loader(sampler, start, total, settings.loader_workers, device))
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
        if (
            validate is not None
            and settings.validate_every
            and (it % settings.validate_every == 0 or it == total)
        ):
            row["validation_dice"] = run_validation(it)
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
        if it % settings.checkpoint_every == 0 and it < total:
            save_checkpoint(it)
    return TrainResult(
        final_state={k: v.detach().cpu() for k, v in model.state_dict().items()},
        best_state=best["state"],
        best_iteration=best["iteration"],
        best_score=best["score"],
        history=history,
        seconds=time.perf_counter() - t0,
        data_wait_seconds=wait,
    )
