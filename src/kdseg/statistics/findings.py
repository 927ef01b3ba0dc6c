"""The statistics rule: Wilcoxon signed-rank tests of a dataset's comparisons and their
findings.

``write_statistics``: the paper's comparisons (see :func:`kdseg.config.paper_comparisons`) for
Dice, HD95 and ASSD, per structure and for the mean over structures; Holm's correction runs per
metric over two families of the dataset: the tests of the mean over structures (primary) and the
per-structure tests. A student with several seeds is also compared on the per-unit values
averaged over its seeds (:mod:`kdseg.statistics.seeds`; column ``seeds``: ``mean``, else the
seed of the row's networks); these tests join the Holm family of their seed-by-seed tests, so
that every claim the findings draw from one comparison (on the mean over seeds and on the worst
seed) is corrected for the others.

``findings``: one row per comparison of the mean Dice over structures: median difference,
Holm p and what it says (which model is better, or no significant difference), and the
structures where the per-structure tests differ, and the networks behind either model that
did not settle by the curve rule (:mod:`kdseg.evaluation.settled`: such a comparison does not
count); with several seeds, findings (b) and (c) on the mean over seeds and on the worst seed
(:mod:`kdseg.statistics.seed_findings`); written as an HTML page for the report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from kdseg.evaluation.settled import NOT_SETTLED, read_settled, unsettled_in_comparison
from kdseg.runtime.atomic import atomic_path
from kdseg.runtime.html_table import write_html_tables
from kdseg.statistics.seed_findings import (
    SEED_FINDINGS_HEADER,
    seed_findings,
    seed_findings_note,
)
from kdseg.statistics.seeds import averaged_pairs, seeds_label, with_seed_means
from kdseg.statistics.wilcoxon import compare_models, describe_unit

METRICS = ("dice", "hd95", "assd")
FINDINGS_HEADER = ("comparison", "model a", "model b", "n", "median Dice a − b", "Holm p",
                   "finding (mean Dice)", "structures where Dice differs (Holm)",
                   "networks not settled")  # fmt: skip


def read_metrics(paths: Sequence[str | Path]) -> pd.DataFrame:
    """All models' per-case metric rows of one dataset."""
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def write_statistics(
    metrics: Sequence[str | Path],
    comparisons: Sequence[Sequence[str]],
    out_csv: str | Path,
    alpha: float = 0.05,
    splits: str | Path | None = None,
    unit: str = "case",
    dataset: str = "",
    out_findings_html: str | Path | None = None,
    training_table: str | Path | None = None,
    members: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Tests of every comparison, per metric family; written as CSV (and the findings as an
    HTML page). ``unit: patient`` pairs the means over each patient's test cases (patients
    from ``splits``), ``case`` every case. With the dataset's ``training_table`` (and each
    ensemble's ``members``), column ``unsettled`` names the networks behind either model that
    did not settle ("; "-separated; empty: none); without it the column is absent."""
    table = read_metrics(metrics)
    pairs, means = averaged_pairs([tuple(c) for c in comparisons], table["model"])
    table = with_seed_means(table, means)
    units = None
    if unit == "patient":
        if splits is None:
            raise ValueError("statistics per patient need the splits (case -> patient)")
        units = json.loads(Path(splits).read_text())["patient_of"]
    parts = [compare_models(table, pairs, metric, alpha, units, unit) for metric in METRICS]
    result = pd.concat(parts, ignore_index=True)
    if means:  # several seeds: which seed each row compares (mean: the means over seeds)
        pairs_ab = zip(result["model_a"], result["model_b"], strict=True)
        result.insert(3, "seeds", [seeds_label(a) or seeds_label(b) for a, b in pairs_ab])
    if training_table is not None:
        settled = read_settled(training_table)
        behind = {**(members or {}), **means}
        result["unsettled"] = [
            "; ".join(unsettled_in_comparison(a, b, settled, behind))
            for a, b in zip(result["model_a"], result["model_b"], strict=True)
        ]
    with atomic_path(out_csv) as tmp:
        result.to_csv(tmp, index=False)
    if out_findings_html is not None:
        write_findings(result, dataset, out_findings_html)
    return result


def findings(statistics: pd.DataFrame, alpha: float = 0.05) -> list[list[str]]:
    """Per comparison: the test of the mean Dice over structures, what it says, the
    structures whose own test is significant (+: a higher, −: a lower), and the networks
    behind it that did not settle ("not checked" without a training table)."""
    dice = statistics[statistics["metric"] == "dice"]
    rows = []
    for _, test in dice[dice["structure"] == "mean"].iterrows():
        a, b, p = test["model_a"], test["model_b"], test["p_holm"]
        if pd.isna(p):
            verdict = f"not tested ({test['note'] or 'too few pairs'})"
        elif p < alpha:
            better, worse = (a, b) if test["effect_size"] > 0 else (b, a)
            verdict = f"{better} higher than {worse}"
        else:
            verdict = "no significant difference"
        part = dice[(dice["model_a"] == a) & (dice["model_b"] == b)
                    & (dice["structure"] != "mean") & (dice["p_holm"] < alpha)]  # fmt: skip
        structures = ", ".join(
            f"{r['structure']} {'+' if r['effect_size'] > 0 else '−'}" for _, r in part.iterrows()
        )
        if "unsettled" not in test:
            unsettled = "not checked"
        else:
            unsettled = test["unsettled"] if isinstance(test["unsettled"], str) else ""
        rows.append([test["comparison"], a, b, str(int(test["n"])),
                     f"{test['median_difference']:+.3f}", "n/a" if pd.isna(p) else f"{p:.3g}",
                     verdict, structures or "none", unsettled or "none"])  # fmt: skip
    return rows


def write_findings(statistics: pd.DataFrame, dataset: str, out_html: str | Path) -> None:
    """The findings of the paper's comparisons on ``dataset`` as an HTML page."""
    note = (f"Wilcoxon signed-rank ({describe_unit(statistics)}), two-sided, Holm-corrected "
            "per metric over the dataset's tests of the mean over structures (primary) and, "
            "separately, over its per-structure tests; a finding needs Holm p < 0.05. "
            "Every test of Dice, HD95 and ASSD: tables/statistics_<dataset>.csv. A comparison "
            "counts only between networks whose validation curves settled: 'networks not "
            "settled' names those behind either model (an ensemble: its members) where "
            f"{NOT_SETTLED}.")  # fmt: skip
    rows = findings(statistics)
    if not rows:
        note = "No comparison of the paper applies to the models of this study. " + note
    tables, notes = [("", FINDINGS_HEADER, rows)], [note]
    if over_seeds := seed_findings(statistics):
        tables.append(("Findings (b) and (c) over training seeds", SEED_FINDINGS_HEADER,
                       over_seeds))  # fmt: skip
        notes.append(seed_findings_note())
    write_html_tables(out_html, f"{dataset}: the paper's comparisons, test Dice", tables, notes)
