"""Findings (b) and (c) of the paper over training seeds, from a statistics table with a
``seeds`` column (:mod:`kdseg.statistics.seeds`).

Per student with several seeds: (b) "the student is within 1 Dice point of its ensemble" and
(c) "the student is above its baseline", each on the mean over seeds (the test of the
per-patient values averaged over seeds) and on the worst seed (of the seed-by-seed tests, the
one with the lowest median difference student − other: the seed where the student comes off
worst; for (b) the student's lowest seed, for (c) the seed furthest below its baseline). (b)
holds when the median per-unit difference is within ±0.01, whatever the test says (the
paper's "comparable"; a student more than 1 point higher is reported as such); (c) holds when
the test finds the student higher (Holm p < 0.05).
"""

from __future__ import annotations

import pandas as pd

from kdseg.statistics.seeds import MEAN, split_seed

SEED_FINDINGS_HEADER = ("finding", "student", "compared with", "seeds", "n",
                        "median Dice student − other", "Holm p", "holds")  # fmt: skip
WITHIN = 0.01
"""(b)'s margin: 1 Dice point."""


def _within(test: pd.Series) -> str:
    d = test["median_difference"]
    if abs(d) <= WITHIN:
        return "yes"
    return "no: student higher" if d > 0 else "no: student lower"


def _above(test: pd.Series, alpha: float) -> str:
    p = test["p_holm"]
    if pd.isna(p):
        return f"not tested ({test['note'] or 'too few pairs'})"
    if p >= alpha:
        return "no: no significant difference"
    return "yes" if test["effect_size"] > 0 else "no: baseline higher"


def _row(label: str, finding: str, test: pd.Series, seeds: str, holds: str) -> list[str]:
    p = test["p_holm"]
    return [finding, label, str(test["model_b"]).removesuffix(f"/{MEAN}"), seeds,
            str(int(test["n"])), f"{test['median_difference']:+.3f}",
            "n/a" if pd.isna(p) else f"{p:.3g}", holds]  # fmt: skip


def seed_findings(statistics: pd.DataFrame, alpha: float = 0.05) -> list[list[str]]:
    """Rows of (b) and (c) per student with several seeds: on the mean over seeds, then on
    the worst seed (which, in column seeds). Empty without a ``seeds`` column."""
    if "seeds" not in statistics:
        return []
    dice = statistics[(statistics["metric"] == "dice") & (statistics["structure"] == "mean")]
    rows = []
    for _, mean in dice[dice["seeds"].astype(str) == "mean"].iterrows():
        name = mean["comparison"]
        if name.startswith("student vs ensemble"):
            finding, holds = "(b) within 1 point of its ensemble", _within
        elif name == "student vs baseline":
            finding, holds = "(c) above its baseline", lambda t: _above(t, alpha)
        else:
            continue
        kind = str(mean["model_a"]).removesuffix(f"/{MEAN}")
        seeds = dice[(dice["comparison"] == name) & (dice["family"] == mean["family"])
                     & (dice["seeds"].astype(str) != "mean")]  # fmt: skip
        seeds = seeds[[(split_seed(m) or ("",))[0] == kind for m in seeds["model_a"]]]
        rows.append(_row(kind, finding, mean, "mean", holds(mean)))
        if not seeds.empty:
            worst = seeds.loc[seeds["median_difference"].idxmin()]
            rows.append(_row(kind, finding, worst, f"worst: {worst['seeds']}", holds(worst)))
    return rows


def seed_findings_note(alpha: float = 0.05) -> str:
    """What the table of :func:`seed_findings` shows."""
    return (
        "Over training seeds: 'mean' tests each unit's Dice averaged over the student's seeds "
        "against the same average over the baseline's seeds (an ensemble: its one value); "
        "'worst: k' is seed k's own test, the seed where the student comes off worst "
        "(lowest median difference). (b) holds when the median difference is within "
        f"±{WITHIN:.2f}; (c) when the student is higher with Holm p < {alpha}. The tests over "
        "seeds share the Holm family of the seed-by-seed tests."
    )
