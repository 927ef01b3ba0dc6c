"""Paired comparisons of models over test cases: Wilcoxon signed-rank, Holm correction.

Each comparison pairs two models' per-case values of a metric (for one structure, or the mean
over structures). Reported with the p-value: the number of pairs, the median difference and
the matched-pairs rank-biserial correlation (effect size in [-1, 1]: the share of the signed
rank sum in favour of the first model minus that against it). With n pairs the smallest
two-sided p-value the exact test can give is ``2 / 2**n``; when that is above the significance
level, the row says "too few cases" and carries no p-value, instead of a p-value that could
never be significant. Holm's step-down correction (statsmodels) runs within each family of
tests of a dataset that have a p-value (families: the study's question, see
:func:`kdseg.config.paper_comparisons`, and primary/secondary, see :func:`compare_models`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests


def smallest_p(n: int) -> float:
    """The smallest two-sided p-value of the exact signed-rank test with ``n`` non-zero pairs."""
    return 2.0 / 2**n if n > 0 else 1.0


def rank_biserial(differences: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation of paired differences (zeros dropped)."""
    d = differences[differences != 0]
    if len(d) == 0:
        return 0.0
    ranks = stats.rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def paired_test(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> dict:
    """Wilcoxon signed-rank test of ``a - b`` (two-sided), with median difference and effect."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in number: {len(a)} and {len(b)}")
    diff = a - b
    nonzero = int((diff != 0).sum())
    row = {
        "n": len(diff),
        "median_difference": float(np.median(diff)) if len(diff) else float("nan"),
        "effect_size": rank_biserial(diff),
        "p": float("nan"),
        "note": "",
    }
    if nonzero == 0:
        row["note"] = "identical"
    elif smallest_p(nonzero) > alpha:
        row["note"] = f"too few cases (n={nonzero}, smallest possible p {smallest_p(nonzero):.3g})"
    else:
        row["p"] = float(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)
    return row


def holm(p_values: Sequence[float], alpha: float = 0.05) -> np.ndarray:
    """Holm-adjusted p-values; NaN entries (no test) stay NaN and do not count."""
    p = np.asarray(p_values, float)
    out = np.full_like(p, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        out[tested] = multipletests(p[tested], alpha=alpha, method="holm")[1]
    return out


COLUMNS = ["comparison", "model_a", "model_b", "family", "structure", "metric", "unit", "n",
           "median_difference", "effect_size", "p", "note"]  # fmt: skip


def per_unit(metrics: pd.DataFrame, units: Mapping[str, str] | None) -> pd.DataFrame:
    """``metrics`` with one row per model, unit and structure: the mean over the unit's cases
    (``units``: case -> unit, e.g. its patient; None: every case is its own unit)."""
    if units is None:
        return metrics.assign(unit=metrics["case"])
    missing = sorted(set(metrics["case"]) - set(units))
    if missing:
        raise ValueError(f"cases {missing[:3]} have no unit (patient) in the split")
    table = metrics.assign(unit=metrics["case"].map(units))
    values = table.select_dtypes("number").columns
    return table.groupby(["model", "unit", "structure"], as_index=False)[list(values)].mean()


def compare_models(
    metrics: pd.DataFrame,
    pairs: Sequence[tuple[str, ...]],
    metric: str = "dice",
    alpha: float = 0.05,
    units: Mapping[str, str] | None = None,
    unit: str = "case",
) -> pd.DataFrame:
    """Tests for ``(comparison, model_a, model_b[, family])`` pairs, per structure and mean.

    ``metrics`` has columns model, case, structure and ``metric`` (one row per case and
    structure). The pairs are independent units: with ``units`` (case -> patient) one pair
    per patient, the mean over its cases (named ``unit`` in the result), else one per case.
    Returns one row per comparison and structure (``structure == "mean"`` for the mean over
    structures; no pairs: no rows, same columns). Holm's correction runs over two
    families: the tests of the mean over structures (the primary comparison, one per pair)
    and the per-structure tests, within each ``family`` of comparisons (default: one family).
    """
    rows = []
    metrics = per_unit(metrics, units)
    for name, model_a, model_b, *rest in pairs:
        family = rest[0] if rest else "all"
        a = metrics[metrics["model"] == model_a].pivot(index="unit", columns="structure",
                                                       values=metric)  # fmt: skip
        b = metrics[metrics["model"] == model_b].pivot(index="unit", columns="structure",
                                                       values=metric)  # fmt: skip
        if a.empty or b.empty:
            missing = model_a if a.empty else model_b
            raise ValueError(f"comparison {name!r}: no metrics for model {missing!r}")
        cases = a.index.intersection(b.index)
        a, b = a.loc[cases], b.loc[cases]
        a["mean"], b["mean"] = a.mean(axis=1), b.mean(axis=1)
        for structure in a.columns:
            result = paired_test(a[structure].to_numpy(), b[structure].to_numpy(), alpha)
            rows.append({"comparison": name, "model_a": model_a, "model_b": model_b,
                         "family": family, "structure": structure, "metric": metric,
                         "unit": unit if units is not None else "case", **result})  # fmt: skip
    table = pd.DataFrame(rows, columns=COLUMNS)
    primary = table["structure"] == "mean"
    table["p_holm"] = np.nan
    for family in table["family"].unique():
        for part in (primary, ~primary):
            group = part & (table["family"] == family)
            if group.any():
                table.loc[group, "p_holm"] = holm(table.loc[group, "p"].to_numpy(), alpha)
    table["significant"] = table["p_holm"] < alpha
    return table


def describe_unit(statistics: pd.DataFrame) -> str:
    """The statistical unit and n of a statistics table, e.g. 'one pair per patient, n = 6
    patients' (the largest n of its tests)."""
    if statistics.empty or "unit" not in statistics:
        return "no test"
    unit = str(statistics["unit"].iloc[0])
    n = int(statistics["n"].max())
    if unit == "patient":
        return f"one pair per patient (the mean over its test cases), n = {n} patients"
    return f"one pair per test case, n = {n} cases"
