"""Plans from a dataset's fingerprint: target spacing, patch, batch, inference window and 2D
orientations per architecture, each with the reason it was chosen (after nnU-Net v2's
experiment planner, sized by a voxel budget instead of a GPU's memory); the numbers behind them
(spacing, shapes, slice axes, fitted patches) are :mod:`kdseg.config.plan_geometry`'s.

A value the study file sets (globally, per dataset or per architecture) always wins; the plan
records it as such beside what it would have chosen. :func:`plan_dataset` makes the plan from a
fingerprint (:mod:`kdseg.data.fingerprint`); :func:`apply_plan` writes the planned values into
a copy of the config as the dataset's own settings, so that every reader of the config
(training, prediction, preprocessing) sees them. Pure Python: no torch, read at parse time.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from kdseg.config.geometry import NetworkGeometry, network_geometry
from kdseg.config.plan_geometry import (
    drop_axis,
    fit_patch,
    median_shape,
    orientations,
    resampled_shapes,
    target_spacing,
)
from kdseg.config.settings import architecture_settings
from kdseg.errors import ConfigError

STUDY_FILE = "study file"
STUDY_FILE_REASON = "set in the study file"
PLAN = "plan"
# voxels of one resampled case (8 GiB as float32): more is a target spacing far too fine
MAX_CASE_VOXELS = 2**31


def _get(config: Mapping[str, Any] | None, *path: str) -> Any:
    """The value at ``path`` in nested mappings, or None where any step is absent."""
    node: Any = config
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def explicit_value(explicit: Mapping[str, Any], dataset: str, arch: str | None, *path: str) -> Any:
    """What the study file itself sets for ``path`` of a dataset (and architecture), the most
    specific place first; None where it sets nothing (schema defaults do not count).

    Architecture keys are looked up under ``datasets.<d>.architectures.<a>`` then
    ``architectures.<a>``; ``training`` keys also under ``datasets.<d>.training`` and
    ``training``; other keys under ``datasets.<d>``."""
    places: list[tuple[str, ...]] = []
    if arch is not None:
        places += [("datasets", dataset, "architectures", arch), ("architectures", arch)]
    if arch is None or path[0] == "training":
        places.append(("datasets", dataset))
        if path[0] == "training":
            places.append(())
    for place in places:
        value = _get(explicit, *place, *path)
        if value is not None:
            return value
    return None


def _entry(planned: Any, explicit: Any, reason: str) -> dict[str, Any]:
    """One planned key: the value used, what the plan chose, where the value came from and
    why; a value the study file sets says so, and the plan's value keeps its own reason."""
    if explicit is not None:
        return {
            "value": explicit,
            "planned": planned,
            "source": STUDY_FILE,
            "reason": STUDY_FILE_REASON,
            "planned_reason": reason,
        }
    return {"value": planned, "planned": planned, "source": PLAN, "reason": reason}


def _fmt(values: Sequence[float]) -> str:
    return " x ".join(f"{v:g}" for v in values)


def shown_value(key: str, value: Any) -> str:
    """A planned value as text: sizes as ``a x b x c``, slice axes as ``0, 1, 2``."""
    if not isinstance(value, list):
        return str(value)
    if key.endswith("orientations"):
        return ", ".join(str(v) for v in value)
    return _fmt(value)


def _patch_entry(
    plane_spacing: Sequence[float],
    plane_image: Sequence[int],
    where: str,
    geometry: NetworkGeometry,
    budget: Mapping[str, Any],
    batch: int,
    explicit_patch: Any,
) -> dict[str, Any]:
    """The training patch: the largest within the step budget shared by ``batch`` patches."""
    kind = f"{geometry.dims}d"
    step_voxels = float(budget["voxels_per_batch"][kind])
    per_patch = step_voxels / batch
    margin = f" plus 2 x {geometry.valid_margin} margin" if geometry.valid_margin else ""
    return _entry(
        fit_patch(plane_spacing, plane_image, per_patch, geometry),
        explicit_patch,
        f"at most {per_patch:g} input voxels ({kind} budget {step_voxels:g} / batch {batch}), "
        f"same extent in mm per axis, {where}, sizes multiples of {geometry.size_divisor}{margin}",
    )


def _batch_entry(
    patch: Sequence[int],
    kind: str,
    training_voxels: int,
    budget: Mapping[str, Any],
    explicit_batch: Any,
) -> dict[str, Any]:
    """Patches per step: the step budget's share, capped by the dataset's size (nnU-Net)."""
    step_voxels = float(budget["voxels_per_batch"][kind])
    patch_voxels = math.prod(patch)
    fraction, min_batch = float(budget["max_dataset_fraction"]), int(budget["min_batch_size"])
    by_budget = int(step_voxels // patch_voxels)
    by_data = int(fraction * training_voxels // patch_voxels)
    return _entry(
        max(min_batch, min(by_budget, by_data)),
        explicit_batch,
        f"{kind} budget {step_voxels:g} voxels / patch {patch_voxels} = {by_budget}; at most "
        f"{fraction:g} of the dataset's {training_voxels} voxels per batch = {by_data}; at "
        f"least {min_batch}",
    )


def _window_entry(
    arch: Mapping[str, Any],
    geometry: NetworkGeometry,
    patch: Sequence[int],
    spacing: Sequence[float],
    image: Sequence[int],
    voxels: float,
    explicit_window: Any,
) -> dict[str, Any]:
    """A 3D network's sliding window: the training patch where normalisation statistics depend
    on the window (instance norm) or are unknown (MONAI); else the median image within
    ``voxels``, at least the training patch."""
    if (arch.get("kwargs") or {}).get("norm") == "instance":
        why = "the training patch: instance normalisation's statistics depend on the window"
        return _entry(list(patch), explicit_window, why)
    if arch["network"].startswith("monai:"):
        why = "the training patch (a MONAI network's normalisation is not known here)"
        return _entry(list(patch), explicit_window, why)
    window = fit_patch(spacing, image, voxels, geometry)
    window = [max(w, p) for w, p in zip(window, patch, strict=True)]
    why = (
        f"the median image ({_fmt(image)}) within {voxels:g} voxels, same extent in mm per "
        "axis, at least the training patch"
    )
    return _entry(window, explicit_window, why)


def plan_architecture(
    name: str,
    arch: Mapping[str, Any],
    spacing: Sequence[float],
    image: Sequence[int],
    training_voxels: int,
    budget: Mapping[str, Any],
    explicit: Mapping[str, Any],
    dataset: str,
) -> dict[str, Any]:
    """The planned entries of one architecture on one dataset (see :func:`plan_dataset`):
    2D slice axes, patch, batch, inference window (3D) and windows or slices per pass."""
    geometry = network_geometry(arch["network"], arch.get("kwargs") or {})
    kind = f"{geometry.dims}d"
    entries: dict[str, Any] = {"geometry": dataclasses.asdict(geometry)}

    def explicit_of(*path: str) -> Any:
        return explicit_value(explicit, dataset, name, *path)

    if geometry.dims == 2:
        chosen, why = orientations(spacing, float(budget["anisotropy_threshold"]))
        entries["orientations"] = _entry(chosen, explicit_of("orientations"), why)
        used = entries["orientations"]["value"]
        axis = 2 if 2 in used else used[0]  # the plane the patch is shaped for
        plane_spacing, plane_image = drop_axis(spacing, axis), drop_axis(image, axis)
        where = (
            f"slices along axis {axis}, {_fmt(plane_spacing)} mm pixels, image {_fmt(plane_image)}"
        )
    else:
        plane_spacing, plane_image = list(spacing), list(image)
        where = f"{_fmt(spacing)} mm voxels, median image {_fmt(image)}"
    explicit_batch = explicit_of("training", "batch_size")
    batch = int(explicit_batch or budget["min_batch_size"])
    entries["patch"] = _patch_entry(
        plane_spacing, plane_image, where, geometry, budget, batch, explicit_of("patch")
    )
    patch = entries["patch"]["value"]
    entries["batch_size"] = _batch_entry(patch, kind, training_voxels, budget, explicit_batch)
    infer_voxels = float(budget["inference_voxels"])
    if geometry.dims == 3:
        entries["inference_patch"] = _window_entry(
            arch, geometry, patch, spacing, image, infer_voxels, explicit_of("inference", "patch")
        )
        window_voxels, what = math.prod(entries["inference_patch"]["value"]), "windows"
    else:
        window_voxels, what = math.prod(plane_image), "slices"
    entries["inference_batch_size"] = _entry(
        max(1, int(infer_voxels // window_voxels)),
        explicit_of("inference", "batch_size"),
        f"{what} of {window_voxels} voxels within the inference budget {infer_voxels:g}",
    )
    return entries


def plan_dataset(
    fingerprint: Mapping[str, Any],
    config: Mapping[str, Any],
    explicit: Mapping[str, Any],
    dataset: str,
) -> dict[str, Any]:
    """The plan of a dataset: for each planned key its value, what the plan chose, where the
    value came from (``plan`` or ``study file``) and why.

    ``config``: the validated study config (defaults filled); ``explicit``: the config as the
    study file (and ``--config``) wrote it, before defaults, which decides what was set."""
    budget = config["plan"]
    spacing_planned, why = target_spacing(fingerprint, float(budget["anisotropy_threshold"]))
    explicit_spacing = explicit_value(explicit, dataset, None, "preprocess", "target_spacing")
    spacing_entry = _entry(spacing_planned, explicit_spacing, why)
    spacing = spacing_entry["value"]
    own_grid = spacing == "original"  # no case resampled: each keeps its cropped shape
    if spacing in ("median", "original"):
        spacing = [float(v) for v in fingerprint["median_spacing"]]
    shapes = (
        fingerprint["shapes_after_crop"] if own_grid else resampled_shapes(fingerprint, spacing)
    )
    _check_case_size(shapes, spacing, spacing_entry, dataset)
    image = median_shape(shapes)
    training_voxels = sum(math.prod(s) for s in shapes)
    architectures = {
        name: plan_architecture(
            name,
            architecture_settings(config, dataset, name),
            spacing,
            image,
            training_voxels,
            budget,
            explicit,
            dataset,
        )
        for name in sorted(config["architectures"])
    }
    return {
        "dataset": dataset,
        "budget": dict(budget),
        "fingerprint": {
            "cases": fingerprint["cases"],
            "median_spacing": fingerprint["median_spacing"],
            "median_shape_after_crop": fingerprint["median_shape_after_crop"],
        },
        "target_spacing": spacing_entry,
        "median_shape": image,
        "architectures": architectures,
    }


def _check_case_size(
    shapes: Sequence[Sequence[int]],
    spacing: Sequence[float],
    entry: Mapping[str, Any],
    dataset: str,
) -> None:
    """A case resampled to ``spacing`` must fit in memory: at most MAX_CASE_VOXELS voxels."""
    largest = max(shapes, key=math.prod)
    if math.prod(largest) <= MAX_CASE_VOXELS:
        return
    where = "set in the study file" if entry["source"] == STUDY_FILE else "planned"
    raise ConfigError(
        f"config key 'datasets.{dataset}.preprocess.target_spacing': {_fmt(spacing)} mm "
        f"({where}) resamples a case to {_fmt(largest)} voxels, more than {MAX_CASE_VOXELS} "
        "voxels (8 GiB as float32); choose a coarser spacing"
    )


# where each planned key lives in a dataset's config entry
_ARCH_PATHS = {
    "patch": ("patch",),
    "orientations": ("orientations",),
    "batch_size": ("training", "batch_size"),
    "inference_patch": ("inference", "patch"),
    "inference_batch_size": ("inference", "batch_size"),
}


def _put(node: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = copy.deepcopy(value)


def apply_plan(config: Mapping[str, Any], plan: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` in which the plan's own values (source ``plan``) are the dataset's
    settings; values the study file set are left where they are."""
    out = copy.deepcopy(dict(config))
    entry = out["datasets"][plan["dataset"]]
    if plan["target_spacing"]["source"] == PLAN:
        _put(entry, ("preprocess", "target_spacing"), plan["target_spacing"]["value"])
    for name, planned in plan["architectures"].items():
        for key, path in _ARCH_PATHS.items():
            if key in planned and planned[key]["source"] == PLAN:
                _put(entry, ("architectures", name, *path), planned[key]["value"])
    return out


def plan_entries(plan: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every planned setting as (key, entry): the target spacing, then each architecture's in
    the order they were planned."""
    yield "target_spacing", plan["target_spacing"]
    for name, planned in plan["architectures"].items():
        for key, entry in planned.items():
            if key != "geometry":
                yield f"{name}.{key}", entry


def plan_lines(plan: Mapping[str, Any]) -> list[str]:
    """One line per planned value (for logs): key, value, source, reason."""
    return [_line(key, entry) for key, entry in plan_entries(plan)]


def _line(key: str, entry: Mapping[str, Any]) -> str:
    shown = shown_value(key, entry["value"])
    if entry["source"] == STUDY_FILE:
        planned = shown_value(key, entry["planned"])
        why = entry.get("planned_reason", entry["reason"])  # plans written before it existed
        return f"{key} = {shown} (study file; the plan's {planned}: {why})"
    return f"{key} = {shown} (plan: {entry['reason']})"


def apply_study_plans(config: Mapping[str, Any], study: str | Path) -> dict[str, Any]:
    """``config`` with the plan of every dataset that ``study`` (its results folder) has
    planned (``<study>/<dataset>/plans.json``) applied: what tools outside the workflow (the
    benchmarks) need to see the settings its jobs used."""
    out = dict(config)
    for dataset in config["datasets"]:
        path = Path(study) / dataset / "plans.json"
        if path.exists():
            out = apply_plan(out, json.loads(path.read_text()))
    return out
