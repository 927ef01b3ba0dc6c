"""Models trained at several seeds: their summaries over seeds and the comparisons of the
students' values averaged over seeds.

A seeded model id ends in ``/seed<k>`` (teachers, students, baselines); its kind is the id
without it (``students/kd/uniform/unet``). A kind with several seeds gets, in the tables, the
rows ``<kind>/mean over seeds``, ``<kind>/worst seed`` and ``<kind>/spread over seeds`` (per
column: the mean, the worst and max − min of its seeds' values), and, in the statistics, the
model ``<kind>/mean over seeds`` whose value per case and structure is the mean over its seeds
(so per patient: the mean over seeds of the patient's values). A study whose students and
baselines have one seed each has none of these (not even for the teachers of a uniform
ensemble, which have several).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

SEEDED = re.compile(r"(?P<kind>.+)/seed(?P<seed>\d+)")
MEAN, WORST, SPREAD = "mean over seeds", "worst seed", "spread over seeds"
COMPARED = ("students/", "baselines/")
"""The kinds of model whose seeds make a study one over seeds."""


def split_seed(model: str) -> tuple[str, int] | None:
    """(kind, seed) of a seeded model id, or None."""
    match = SEEDED.fullmatch(model)
    return (match["kind"], int(match["seed"])) if match else None


def kind_of(model: str) -> str:
    """A seeded model id's kind (the id without ``/seed<k>``); any other id unchanged."""
    seeded = split_seed(model)
    return seeded[0] if seeded else model


def mean_id(kind: str) -> str:
    """The id of a kind's mean over its seeds (``<kind>/mean over seeds``)."""
    return f"{kind}/{MEAN}"


def seeds_label(model: str) -> str:
    """What a statistics row's model stands for: ``mean``, its seed, or '' (no seed)."""
    if model.endswith(f"/{MEAN}"):
        return "mean"
    seeded = split_seed(model)
    return str(seeded[1]) if seeded else ""


def seed_groups(models: Iterable[str]) -> dict[str, list[str]]:
    """{kind: its models} of every kind with several seeds among ``models`` (in their order),
    in a study over seeds: where a student or a baseline has several seeds (else none, so
    that the teachers of a uniform ensemble alone change no table)."""
    groups: dict[str, list[str]] = {}
    for model in dict.fromkeys(models):
        if seeded := split_seed(model):
            groups.setdefault(seeded[0], []).append(model)
    groups = {kind: seeds for kind, seeds in groups.items() if len(seeds) > 1}
    compared = any(kind.startswith(COMPARED) for kind in groups)
    return groups if compared else {}


def summary_members(models: Iterable[str]) -> dict[str, list[str]]:
    """{summary row id: the seeds' models} of every kind with several seeds."""
    return {
        f"{kind}/{which}": seeds
        for kind, seeds in seed_groups(models).items()
        for which in (MEAN, WORST, SPREAD)
    }


def _summaries(kind: str, rows: Sequence[Mapping], better: Mapping[str, int],
               keep: Sequence[str]) -> list[dict]:  # fmt: skip
    out = []
    for which in (MEAN, WORST, SPREAD):
        row: dict[str, object] = {column: rows[0].get(column) for column in keep}
        row["model"] = f"{kind}/{which}"
        for column, sign in better.items():
            values = np.array([r.get(column, np.nan) for r in rows], float)
            if np.isnan(values).all():
                row[column] = np.nan
            elif which == MEAN:
                row[column] = float(np.nanmean(values))
            elif which == WORST:
                row[column] = float(np.nanmin(values) if sign > 0 else np.nanmax(values))
            else:
                row[column] = float(np.nanmax(values) - np.nanmin(values))
        out.append(row)
    return out


def with_summaries(rows: Sequence[Mapping], better: Mapping[str, int],
                   keep: Sequence[str] = ()) -> list[dict]:  # fmt: skip
    """``rows`` (one per model, key ``model``) with, after the last seed of each kind with
    several seeds, its rows ``mean over seeds``, ``worst seed`` and ``spread over seeds``:
    for each column of ``better`` (column -> 1: higher is better, -1: lower) the mean, the
    worst (lowest; -1: highest) and max − min of the seeds' values; the columns in ``keep``
    as the first seed's; any other column absent (the caller fills it). Unchanged without a
    kind with several seeds."""
    groups = seed_groups(r["model"] for r in rows)
    last = {seeds[-1]: kind for kind, seeds in groups.items()}
    by_model = {r["model"]: r for r in rows}
    out: list[dict] = []
    for row in rows:
        out.append(dict(row))
        if (kind := last.get(row["model"])) is not None:
            out += _summaries(kind, [by_model[m] for m in groups[kind]], better, keep)
    return out


def averaged_pairs(
    pairs: Sequence[tuple[str, ...]], models: Iterable[str]
) -> tuple[list[tuple[str, ...]], dict[str, list[str]]]:
    """``pairs`` with, after the last pair of each set of a student's comparisons that
    differ only in seed (same name and family; the other model of the same kind, or the
    same unseeded model), the comparison of their means over seeds; and {mean id: the
    seeds' models} over ``models`` (each kind's seeds in the study, not only the compared
    ones). Unchanged when no student has several seeds."""
    groups = seed_groups(models)
    sets: dict[tuple[str, ...], list[int]] = {}
    for i, (name, a, b, *rest) in enumerate(pairs):
        if name.startswith("student") and kind_of(a) in groups:
            sets.setdefault((name, kind_of(a), kind_of(b), *rest), []).append(i)
    after: dict[int, tuple[str, ...]] = {}
    means: dict[str, list[str]] = {}
    for (name, kind_a, kind_b, *rest), members in sets.items():
        if len(members) < 2:
            continue
        b = mean_id(kind_b) if kind_b in groups else kind_b
        after[members[-1]] = (name, mean_id(kind_a), b, *rest)
        means[mean_id(kind_a)] = groups[kind_a]
        if kind_b in groups:
            means[mean_id(kind_b)] = groups[kind_b]
    out: list[tuple[str, ...]] = []
    for i, pair in enumerate(pairs):
        out.append(tuple(pair))
        if i in after:
            out.append(after[i])
    return out, means


def with_seed_means(metrics: pd.DataFrame, means: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """``metrics`` (rows per model, case and structure) with the rows of each mean over seeds:
    per case and structure, the mean of its seeds' values (cases that every seed has)."""
    if not means:
        return metrics
    parts = [metrics]
    numbers = [c for c in metrics.select_dtypes("number").columns if c != "model"]
    for model, seeds in means.items():
        part = metrics[metrics["model"].isin(seeds)]
        cases = part.groupby(["case", "structure"])["model"].nunique()
        complete = cases[cases == len(seeds)].index
        mean = part.groupby(["case", "structure"])[numbers].mean().loc[complete]
        parts.append(mean.reset_index().assign(model=model))
    return pd.concat(parts, ignore_index=True)
