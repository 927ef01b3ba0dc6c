"""The training loop shared by teachers, baselines and students.

Fixed iterations; the batch of iteration ``i`` comes from ``sampler.batch(i)`` (prepared in a
background thread while the previous step runs, :mod:`kdseg.train.batches`), the torch RNG
(dropout) is re-seeded from (seed, i) at every step, so that a run resumed from a checkpoint
continues bit for bit on CPU. A resumable checkpoint (:mod:`kdseg.train.checkpoint`) is written
atomically every ``checkpoint_every`` iterations and read back when the job is run again.

SIGTERM (:mod:`kdseg.train.signals`) is acted on at the next step boundary: a last checkpoint
of that iteration is written (so the resumed run is bit-identical), the loader's workers are
shut down and :class:`TrainingStopped` is raised.

Progress (``progress``, e.g. the live ``training.csv`` and curves of a running job) is handed
the history at every validation (without validation: at every checkpoint), and on resuming
from a checkpoint, so that what a killed run wrote past its checkpoint is replaced at once by
the rows the resumed run continues from.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdseg.evaluation.curve_rule import reference_iteration
from kdseg.models.model_file import first_line
from kdseg.train.batches import BatchSource, batch_loader
from kdseg.train.checkpoint import read_checkpoint, restore, run_settings, stale, write_checkpoint
from kdseg.train.optim import make_optimizer, make_schedule, to_channels_last
from kdseg.train.settings import TrainSettings
from kdseg.train.signals import TrainingStopped, exit_on_sigterm, sigterm_noted

__all__ = [
    "BatchSource", "Progress", "StepLoss", "TrainResult", "TrainSettings", "TrainingStopped",
    "Validator", "exit_on_sigterm", "train",
]  # fmt: skip

log = logging.getLogger("kdseg")

StepLoss = Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]
Validator = Callable[[nn.Module], "float | Mapping[str, float]"]
"""``validate(model)`` -> the mean validation Dice, or a mapping of scores whose
``validation_dice`` entry is the mean (other entries, e.g. per structure, are recorded in the
history beside it)."""
OnDevice = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]
"""``on_device(batch)``: what is done to a batch once on the training device (e.g. the
authors' rotation, :mod:`kdseg.train.device_rotation`); its time counts as data wait."""
Progress = Callable[[list[dict[str, float]]], None]
"""``progress(history)``: the rows so far (read only; e.g. rewrite the history files)."""


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


def _fmt_time(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Trainer:
    """One run: the model and its optimiser, schedule and scaler, history and best weights."""

    def __init__(
        self,
        model: nn.Module,
        step_loss: StepLoss,
        settings: TrainSettings,
        seed: int,
        checkpoint: Path,
        device: torch.device,
        validate: Validator | None,
        name: str,
        recorded: dict[str, str],
        progress: Progress | None,
        on_device: OnDevice | None = None,
    ) -> None:
        self.on_device = on_device
        self.model, self.step_loss, self.settings, self.seed = model, step_loss, settings, seed
        self.checkpoint, self.device, self.validate, self.name = checkpoint, device, validate, name
        self.recorded, self.progress = recorded, progress
        model.to(device)
        if settings.channels_last:
            to_channels_last(model)
        self.optimizer = make_optimizer(model, settings.optimizer)
        self.schedule = make_schedule(self.optimizer, settings.schedule, settings.iterations)
        self.use_amp = settings.amp and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.history: list[dict[str, float]] = []
        self.best: dict[str, Any] = {"state": None, "iteration": None, "score": None}
        self.wait, self.window_loss, self.window_n = 0.0, 0.0, 0

    @property
    def parts(self) -> dict[str, Any]:
        return {"model": self.model, "optimizer": self.optimizer, "schedule": self.schedule,
                "scaler": self.scaler}  # fmt: skip

    def resume(self) -> int:
        """The iteration to start from: that of the checkpoint of this run (0: none)."""
        if not self.checkpoint.exists():
            return 0
        state = read_checkpoint(self.checkpoint, self.device)
        why = stale(state, self.recorded)
        if why is not None:
            log.warning("%s: checkpoint %s %s; starting afresh", self.name, self.checkpoint, why)
            return 0
        self.history, self.best, start = restore(self.checkpoint, state, self.parts)
        log.info("%s: resuming from %s at iteration %d", self.name, self.checkpoint, start)
        return start

    def report(self, iteration: int) -> None:
        if self.progress is None:
            return
        try:
            self.progress(self.history)
        except OSError as err:  # e.g. a full disk: the final files are written at the end
            log.warning("%s: progress files not written at iteration %d (%s)",
                        self.name, iteration, first_line(err))  # fmt: skip

    def save(self, iteration: int) -> None:
        write_checkpoint(self.checkpoint, self.recorded, self.seed, iteration, self.parts,
                         self.history, self.best)  # fmt: skip

    def validation(self, iteration: int) -> dict[str, float]:
        scores = self.validate(self.model)  # type: ignore[misc]
        scores = dict(scores) if isinstance(scores, Mapping) else {"validation_dice": scores}
        score = float(scores["validation_dice"])
        self.model.train()
        best = self.best
        if best["score"] is None or score > best["score"]:
            best.update(
                state={k: v.detach().clone() for k, v in self.model.state_dict().items()},
                iteration=iteration,
                score=score,
            )
        log.info("%s: iteration %d validation Dice %.4f (best %.4f at %d)",
                 self.name, iteration, score, best["score"], best["iteration"])  # fmt: skip
        return {k: float(v) for k, v in scores.items()}

    def stopped(self, iteration: int, saved: bool) -> TrainingStopped:
        if iteration > 0 and not saved:
            self.save(iteration)
        where = f"checkpoint {self.checkpoint} written" if iteration > 0 else "no checkpoint yet"
        return TrainingStopped(
            f"{self.name}: stopped by SIGTERM at iteration {iteration} ({where}); run the job "
            "again to resume"
        )

    def step(self, i: int, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """Optimisation step ``i`` (0-based): its history row without validation."""
        _seed_step(self.seed, i)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, enabled=self.use_amp):
            loss = self.step_loss(self.model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{self.name}: loss is {loss.item()} at iteration {i + 1}")
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        lr = self.optimizer.param_groups[0]["lr"]
        self.schedule.step()
        value = float(loss.detach())
        self.window_loss, self.window_n = self.window_loss + value, self.window_n + 1
        return {"iteration": i + 1, "loss": value, "lr": lr}

    def log_progress(self, it: int, done_at_start: int, t0: float) -> None:
        total = self.settings.iterations
        if not (it % self.settings.log_every == 0 or it == total):
            return
        elapsed = time.perf_counter() - t0
        rate = (it - done_at_start) / elapsed
        log.info(
            "%s: iter %d/%d loss %.4f | %.2f it/s | data wait %.0f%% | ETA %s",
            self.name, it, total, self.window_loss / self.window_n, rate,
            100 * self.wait / elapsed, _fmt_time((total - it) / rate),
        )  # fmt: skip
        self.window_loss, self.window_n = 0.0, 0

    def run(self, sampler: BatchSource, start: int, t0: float) -> None:
        """Iterations ``start..`` to the end (raises :class:`TrainingStopped` on SIGTERM)."""
        settings, total = self.settings, self.settings.iterations
        validating = self.validate is not None and bool(settings.validate_every)
        reference = reference_iteration(total)  # the curve rule's point: always validated
        with sigterm_noted() as sigterm:
            batches = iter(batch_loader(sampler, start, total, settings.loader_workers,
                                        self.device))  # fmt: skip
            try:
                if sigterm:
                    raise self.stopped(start, True)
                for i in range(start, total):
                    t_wait = time.perf_counter()
                    batch = {k: v.to(self.device, non_blocking=True)
                             for k, v in next(batches).items()}  # fmt: skip
                    if self.on_device is not None:
                        batch = self.on_device(batch)
                    self.wait += time.perf_counter() - t_wait
                    row = self.step(i, batch)
                    it = i + 1
                    validated = validating and (
                        it % settings.validate_every == 0 or it in (reference, total)
                    )
                    if validated:
                        row.update(self.validation(it))
                    self.history.append(row)
                    self.log_progress(it, start, t0)
                    saved = it % settings.checkpoint_every == 0 and it < total
                    if saved:
                        self.save(it)
                    if validated or (saved and not validating):
                        self.report(it)
                    if sigterm:  # a step boundary: the checkpoint resumes bit for bit
                        raise self.stopped(it, saved)
            finally:
                del batches  # shuts the loader's workers down now, also when stopping


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
    on_device: OnDevice | None = None,
) -> TrainResult:
    """Train ``model`` for ``settings.iterations`` steps, resuming from ``checkpoint``.

    ``fingerprint``: what else shapes the weights (loss or method settings, network, data
    identity); a checkpoint with other settings is not resumed (:mod:`kdseg.train.checkpoint`).
    ``progress``: called with the history at each validation (see the module docstring); an
    ``OSError`` it raises is logged as a warning, training goes on. ``on_device``: applied
    to every batch right after it is moved to ``device`` (:data:`OnDevice`).
    Raises :class:`TrainingStopped` after a last checkpoint when SIGTERM arrives."""
    device = torch.device(device)
    recorded = run_settings(settings, seed, fingerprint)
    trainer = _Trainer(model, step_loss, settings, seed, Path(checkpoint), device, validate,
                       name, recorded, progress, on_device)  # fmt: skip
    start = trainer.resume()
    if start > 0:
        trainer.report(start)
    model.train()
    t0 = time.perf_counter()
    trainer.run(sampler, start, t0)
    best = trainer.best
    return TrainResult(
        final_state={k: v.detach().cpu() for k, v in model.state_dict().items()},
        best_state=best["state"],
        best_iteration=best["iteration"],
        best_score=best["score"],
        history=trainer.history,
        seconds=time.perf_counter() - t0,
        data_wait_seconds=trainer.wait,
    )
