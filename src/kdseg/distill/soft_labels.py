"""An ensemble's (or one model's) soft labels for the training and validation cases.

What is stored depends on what the students reading them need
(:func:`kdseg.config.students.soft_label_storage`):

- ``uint8`` (every reader at temperature T = 1): the mean probabilities quantised to
  ``round(255 p)``, a quarter of float32's size, scaled by 1/255 when read;
- ``float16_log_members`` (a reader softens each member, ``soften: members``, the authors'
  rule, at T != 1): every member's log-probabilities, (M x K, ...) float16;
- ``float16_log_mean`` (readers at T != 1 that soften the average, or soft labels of one
  model): the log of the mean probabilities, (K, ...) float16;
- ``float16_softened_T<T>`` (readers that soften every prediction, ``soften: predictions``,
  the authors' rule, at T != 1): per member ``T log(mean_i softmax(z_i / T))`` over its
  predictions i (2D orientations, sliding windows), (M x K, ...) float16, so that the
  ``members`` rule at T gives back ``mean_m mean_i softmax(z_mi / T)``, their target. It serves
  that temperature only (``soft_labels.json``: ``temperature``).

8 bits lose every probability below 1/510, which softening at T > 1 raises again (a target
error of 0.08 at T = 2 and 0.33 at T = 4 on random logits; tested); log-probabilities in float16
keep it below 1e-3. Log-probabilities are a member's logits up to a per-voxel constant, so
``softmax(log p / T) == softmax(z / T)`` (the members' probabilities are blended over sliding
windows and 2D orientations before the logarithm; the authors blended their members' softened
outputs, ``src/testing_network.py:1075-1097``: the same where one window covers a voxel).
The stored form depends on the temperature only through ``T == 1``, so a changed temperature
re-makes soft labels only when the stored form changes.

Every file is a (C, X, Y, Z) ``.npy`` that the students' sampler memory-maps and cuts like the
images. ``soft_labels.json`` records the storage and what it costs per case: the largest error of
the T = 1 target against float32 (``max_abs_error``), for float16 storage the largest error of the
targets at T = 2 and 4 of each rule it supports (``target_error``), and the Dice (against the
reference labels) of the arg-max of the float32 and of the stored probabilities.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kdseg.config.students import SOFTENED_STORAGE, softened_storage
from kdseg.data.preprocess import load_manifest, open_case
from kdseg.distill.kd_loss import SOFTEN_RULES, TINY, soften, tempered_target
from kdseg.ensemble.networks import Ensemble
from kdseg.errors import ConfigError, KdsegError
from kdseg.evaluation.metrics import mean_dice
from kdseg.models.model_file import first_line
from kdseg.runtime.atomic import atomic_dir
from kdseg.runtime.device import choose_device
from kdseg.runtime.provenance import provenance

log = logging.getLogger("kdseg")

SCALE = 1.0 / 255.0
STORAGES = ("uint8", "float16_log_mean", "float16_log_members")
SOFTENED = SOFTENED_STORAGE  # softened per prediction at one temperature
REPORT_TEMPERATURES = (2.0, 4.0)  # the temperatures soft_labels.json reports errors at
_SLAB = 8  # slices per step of the per-member work (bounds its temporaries)


def quantise(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities in [0, 1] as uint8 (``round(255 p)``)."""
    return np.rint(np.clip(probabilities, 0.0, 1.0) * 255.0).astype(np.uint8)


def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """``log(max(p, tiny))`` in float32 (tiny: float32's smallest normal number)."""
    return np.log(np.maximum(np.asarray(probabilities, dtype=np.float32), np.float32(TINY)))


def parse_storage(storage: str) -> tuple[str, float]:
    """(storage form, temperature its predictions are softened at: 1 unless softened)."""
    if storage in STORAGES:
        return storage, 1.0
    prefix = f"{SOFTENED}_T"
    if storage.startswith(prefix):
        try:
            temperature = float(storage[len(prefix) :])
        except ValueError:
            temperature = 0.0
        if temperature > 0:
            return SOFTENED, temperature
    known = ", ".join((*STORAGES, f"{SOFTENED}_T<T>"))
    raise ConfigError(f"soft-label storage {storage!r}: unknown (known: {known})")


@dataclass(frozen=True)
class SoftLabelLayout:
    """How a soft-label folder is stored: ``storage`` (one of :data:`STORAGES`), ``groups``
    (stored sets of K channels: the members for ``float16_log_members``, else 1) and
    ``members`` (the models whose soft labels they are); ``temperature``: the one temperature
    that :data:`SOFTENED` soft labels serve (1 for the others, which serve every one)."""

    storage: str = "uint8"
    groups: int = 1
    members: int = 1
    temperature: float = 1.0

    @classmethod
    def read(cls, folder: str | Path) -> SoftLabelLayout:
        """The layout ``soft_labels.json`` records (uint8 where it predates the key)."""
        summary = json.loads((Path(folder) / "soft_labels.json").read_text())
        return cls(
            summary.get("storage", "uint8"),
            int(summary.get("groups", 1)),
            len(summary.get("members", [None])),
            float(summary.get("temperature", 1.0)),
        )

    def supports(self, temperature: float, rule: str) -> bool:
        """Whether targets at ``temperature`` by ``rule`` can be made from this storage."""
        if self.storage == SOFTENED:
            return temperature == self.temperature and rule == "predictions"
        if temperature == 1:
            return True
        if self.storage == "uint8" or rule == "predictions":
            return False
        return rule == "average" or self.groups == self.members

    def require(self, temperature: float, rule: str, folder: str | Path) -> None:
        """One-line error where a student's setting cannot be served by this storage."""
        if rule not in SOFTEN_RULES:
            raise ConfigError(f"soften {rule!r}: unknown (known: {', '.join(SOFTEN_RULES)})")
        if not self.supports(temperature, rule):
            stored = self.storage
            if stored == SOFTENED:
                stored = softened_storage(self.temperature)
            raise KdsegError(
                f"{folder}: soft labels stored as {stored} cannot give targets at "
                f"temperature {temperature:g} (soften: {rule}); re-make them (the workflow "
                "does when a student's temperature or soften changes the stored form)"
            )

    def log_probabilities(self, stored: torch.Tensor) -> torch.Tensor:
        """A batch of stored soft labels (N, C, ...) as log-probabilities (N, S, K, ...)."""
        logp = stored.float()
        if self.storage == "uint8":
            logp = torch.log((logp * SCALE).clamp_min(TINY))
        n, channels = logp.shape[:2]
        return logp.reshape(n, self.groups, channels // self.groups, *logp.shape[2:])

    def target(self, stored: torch.Tensor, temperature: float = 1.0, rule: str = "members"):
        """The target (N, K, ...) at ``temperature`` of a batch of stored soft labels."""
        if self.storage == SOFTENED and temperature != self.temperature:
            raise KdsegError(
                f"soft labels softened at T = {self.temperature:g} cannot give targets at "
                f"T = {temperature:g}"
            )
        return tempered_target(self.log_probabilities(stored), temperature, rule)


def write_soft_labels(
    model_files: Sequence[str | Path],
    preprocessed: str | Path,
    out_dir: str | Path,
    splits: Sequence[str] = ("train", "validation"),
    device: str = "auto",
    amp: bool = True,
    threads: int = 1,
    inference: Sequence[Mapping[str, Any]] | None = None,
    storage: str = "uint8",
) -> dict[str, Any]:
    """Soft labels of every case of ``splits`` as ``<case>.npy`` in ``storage`` form."""
    storage, temperature = parse_storage(storage)
    torch.set_num_threads(threads)
    ensemble = Ensemble(model_files, choose_device(device), amp, inference)
    members = len(ensemble.members)
    if members == 1 and storage == "float16_log_members":
        storage = "float16_log_mean"  # one model: its log-probabilities are the mean's
    groups = members if storage in ("float16_log_members", SOFTENED) else 1
    manifest = load_manifest(preprocessed)
    num_classes = len(manifest["dataset"]["labels"])
    cases = [c["case"] for c in manifest["cases"] if c["split"] in splits]
    rows = []
    stored_bytes = float32_bytes = 0
    with atomic_dir(out_dir) as tmp:
        for i, case in enumerate(cases, 1):
            image, label = open_case(preprocessed, case)
            path = tmp / f"{case}.npy"
            if storage == SOFTENED:
                probs, restored, errors = _write_softened(ensemble, image, path, temperature)
            else:
                probs, restored, errors = _write_case(ensemble, image, path, storage, groups)
            stored_bytes += path.stat().st_size
            float32_bytes += 4 * probs.size
            rows.append(
                {
                    "case": case,
                    "max_abs_error": float(np.abs(restored - probs).max()),
                    "target_error": errors,
                    "dice_float32": mean_dice(probs.argmax(0), np.asarray(label), num_classes),
                    "dice_stored": mean_dice(restored.argmax(0), np.asarray(label), num_classes),
                    "label_agreement": float((restored.argmax(0) == probs.argmax(0)).mean()),
                }
            )
            log.info("soft labels %d/%d: %s", i, len(cases), case)
        dice_change = [r["dice_stored"] - r["dice_float32"] for r in rows]
        summary = {
            "members": [str(p) for p in model_files],
            "storage": storage,
            "dtype": "uint8" if storage == "uint8" else "float16",
            "groups": groups,
            **({"temperature": temperature} if storage == SOFTENED else {}),
            "classes": num_classes,
            **({"scale": SCALE} if storage == "uint8" else {}),
            "bytes_stored": stored_bytes,
            "bytes_float32_equivalent": float32_bytes,
            "max_abs_error": max((r["max_abs_error"] for r in rows), default=0.0),
            "max_target_error": {
                rule: {t: max(r["target_error"][rule][t] for r in rows) for t in by_t}
                for rule, by_t in (rows[0]["target_error"] if rows else {}).items()
            },
            "mean_dice_change": float(np.mean(dice_change)) if rows else 0.0,
            "max_abs_dice_change": float(np.max(np.abs(dice_change))) if rows else 0.0,
            "cases": rows,
            "provenance": provenance(),
        }
        (tmp / "soft_labels.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info(
        "soft labels (%s): largest target error %.2e at T = 1, %s above; Dice change %.2e (mean)",
        storage, summary["max_abs_error"], summary["max_target_error"] or "none",
        summary["mean_dice_change"],
    )  # fmt: skip
    return summary


def _slabs(size: int) -> Iterator[slice]:
    for start in range(0, size, _SLAB):
        yield slice(start, min(start + _SLAB, size))


def _t(array: np.ndarray) -> torch.Tensor:
    """(K, ...) as a (1, 1, K, ...) float32 tensor: one member of a batch of one."""
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None, None]


def _write_case(
    ensemble: Ensemble, image: np.ndarray, path: Path, storage: str, groups: int
) -> tuple[np.ndarray, np.ndarray, dict[str, dict[str, float]]]:
    """Write one case; (float32 mean probabilities, the stored ones restored at T = 1,
    {rule: {T: largest target error}} at :data:`REPORT_TEMPERATURES`)."""
    members = len(ensemble.members)
    if storage == "uint8":
        probs, _ = ensemble(image)
        q = quantise(probs)
        np.save(path, q)
        return probs, q.astype(np.float32) * SCALE, {}
    temps = REPORT_TEMPERATURES
    mean = restored = out = None
    member_error = {}  # the members rule: sum over members of (float32 - stored) targets
    for m, p in enumerate(ensemble.member_probabilities(image)):
        if mean is None:
            mean, restored = np.zeros_like(p), np.zeros_like(p)
            member_error = {t: np.zeros_like(p) for t in temps}
            if storage == "float16_log_members":
                shape = (groups * p.shape[0], *p.shape[1:])
                out = np.lib.format.open_memmap(path, "w+", np.float16, shape)
        mean += p / members
        if out is None:
            continue
        k = p.shape[0]
        for s in _slabs(p.shape[1]):
            exact = log_probabilities(p[:, s])
            kept = exact.astype(np.float16)
            out[m * k : (m + 1) * k, s] = kept
            restored[:, s] += tempered_target(_t(kept))[0].numpy() / members
            for t in temps:
                member_error[t][:, s] += (
                    tempered_target(_t(exact), t)[0] - tempered_target(_t(kept), t)[0]
                ).numpy() / members
    if out is not None:
        out.flush()
        del out
    else:  # the log of the mean
        kept = log_probabilities(mean).astype(np.float16)
        np.save(path, kept)
        restored = tempered_target(_t(kept))[0].numpy()
    errors: dict[str, dict[str, float]] = {"average": {}}
    for t in temps:
        exact = soften(torch.from_numpy(mean)[None], t)[0]
        kept_t = soften(torch.from_numpy(restored)[None], t)[0]
        errors["average"][f"{t:g}"] = float((exact - kept_t).abs().max())
    if storage == "float16_log_members" or members == 1:
        if storage == "float16_log_members":
            errors["members"] = {f"{t:g}": float(np.abs(member_error[t]).max()) for t in temps}
        else:
            errors["members"] = dict(errors["average"])  # one model: the rules agree
    return mean, restored, errors


def _write_softened(
    ensemble: Ensemble, image: np.ndarray, path: Path, temperature: float
) -> tuple[np.ndarray, np.ndarray, dict[str, dict[str, float]]]:
    """Write one case softened per prediction at ``temperature``; (the float32 target at T,
    the stored one restored at T, {"predictions": {T: largest error}})."""
    members = len(ensemble.members)
    mean = restored = out = None
    for m, p in enumerate(ensemble.member_probabilities(image, temperature)):
        if mean is None:
            mean, restored = np.zeros_like(p), np.zeros_like(p)
            shape = (members * p.shape[0], *p.shape[1:])
            out = np.lib.format.open_memmap(path, "w+", np.float16, shape)
        mean += p / members
        k = p.shape[0]
        for s in _slabs(p.shape[1]):
            kept = (temperature * log_probabilities(p[:, s])).astype(np.float16)
            out[m * k : (m + 1) * k, s] = kept
            restored[:, s] += tempered_target(_t(kept), temperature)[0].numpy() / members
    assert out is not None and mean is not None and restored is not None
    out.flush()
    del out
    return (
        mean,
        restored,
        {"predictions": {f"{temperature:g}": float(np.abs(restored - mean).max())}},
    )


def open_soft_labels(folder: str | Path, cases: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """Memory-mapped soft labels per case, as extra sampler targets (key ``soft``); their
    :class:`SoftLabelLayout` says how to read them."""
    folder = Path(folder)
    return {c: {"soft": _load_soft(folder / f"{c}.npy")} for c in cases}


def _load_soft(path: Path) -> np.ndarray:
    """One case's soft labels, memory-mapped; a missing, corrupt or pickled file is a one-line
    error naming it (never loaded unsafely)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise KdsegError(f"{path}: soft labels not found (re-run their job)") from None
    except (ValueError, OSError, EOFError) as err:
        raise KdsegError(
            f"{path}: not a readable soft-label array ({first_line(err)}); delete it and re-run "
            "the soft-label job"
        ) from None
