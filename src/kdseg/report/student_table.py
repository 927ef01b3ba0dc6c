"""All student methods of a dataset side by side, against the baseline and each other.

Rows: every final student (each method's compared students) and the baselines. Columns: the
method, parameters, mean ± sd over test cases of Dice, IoU and HD95 (mean over structures),
pixel accuracy and Cohen's kappa (whole label map), and against the baseline of the student's
architecture and seed: the mean Dice difference and the Holm-corrected Wilcoxon p-value of the
study's statistics. A second table gives every pair of students (row minus column: mean Dice
difference, Holm p). A model trained at several seeds also gets its mean over seeds, worst
seed and spread over seeds (Dice − baseline: the same of the seed-by-seed differences; the
mean row's p: the test of the values averaged over seeds). Written as CSV, Markdown and
optionally HTML (for the report).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kdseg.runtime.atomic import atomic_path
from kdseg.runtime.html_table import markdown_table, write_html_tables
from kdseg.statistics.findings import read_metrics
from kdseg.statistics.seeds import MEAN, SPREAD, WORST, mean_id, split_seed, with_summaries
from kdseg.statistics.wilcoxon import describe_unit

PAIR_COMPARISONS = ("student vs student", "student vs baseline")
METRICS = ("dice", "iou", "hd95", "accuracy", "kappa")


def _per_case(table: pd.DataFrame, model: str) -> pd.DataFrame:
    part = table[table["model"] == model]
    return part.groupby("case")[["dice", "iou", "hd95", "accuracy", "kappa"]].mean()


def _holm(statistics: pd.DataFrame, a: str, b: str) -> tuple[float, bool] | None:
    """Holm p (and significance) of the mean-Dice test of a pair, in either order."""
    rows = statistics[
        (statistics["metric"] == "dice")
        & (statistics["structure"] == "mean")
        & (((statistics["model_a"] == a) & (statistics["model_b"] == b))
           | ((statistics["model_a"] == b) & (statistics["model_b"] == a)))
    ]  # fmt: skip
    if rows.empty:
        return None
    row = rows.iloc[0]
    return float(row["p_holm"]), bool(row["significant"])


def _p_text(result: tuple[float, bool] | None) -> str:
    if result is None:
        return "–"
    p, significant = result
    return "n/a" if np.isnan(p) else f"{p:.3g}{'*' if significant else ''}"


def write_student_table(
    models: Sequence[str],
    methods: Mapping[str, str],
    baselines: Mapping[str, str],
    metrics: Sequence[str | Path],
    predictions: Sequence[str | Path],
    statistics_csv: str | Path,
    dataset: str,
    out_csv: str | Path,
    out_md: str | Path,
    out_html: str | Path | None = None,
) -> pd.DataFrame:
    """The comparison table (``models`` and ``predictions`` in the same order; ``methods``:
    model -> method name; ``baselines``: student -> its baseline model id)."""
    table = read_metrics(metrics)
    statistics = pd.read_csv(statistics_csv)
    per_case = {m: _per_case(table, m) for m in models}
    rows = []
    for model, path in zip(models, predictions, strict=True):
        values = per_case[model]
        timing = json.loads((Path(path) / "inference.json").read_text())
        row: dict[str, object] = {"model": model, "method": methods.get(model, "baseline"),
                                  "parameters": timing.get("parameters")}  # fmt: skip
        for metric in METRICS:
            row[f"{metric}_mean"] = float(values[metric].mean())
            row[f"{metric}_sd"] = float(values[metric].std(ddof=1)) if len(values) > 1 else 0.0
        baseline = baselines.get(model)
        if baseline in per_case:
            diff = values["dice"] - per_case[baseline]["dice"].reindex(values.index)
            result = _holm(statistics, model, baseline)
            row.update(baseline=baseline, dice_vs_baseline=float(diff.mean()),
                       p_holm_vs_baseline=result[0] if result else np.nan,
                       significant_vs_baseline=bool(result and result[1]))  # fmt: skip
        rows.append(row)
    out = pd.DataFrame(_with_seed_summaries(rows, statistics))
    with atomic_path(out_csv) as tmp:
        out.to_csv(tmp, index=False)
    _write_text_tables(out, per_case, statistics, dataset, int(table["case"].nunique()),
                       out_md, out_html)  # fmt: skip
    return out


def _with_seed_summaries(rows: list[dict], statistics: pd.DataFrame) -> list[dict]:
    """``rows`` with the mean, worst seed and spread rows of each kind with several seeds
    (:func:`kdseg.statistics.seeds.with_summaries`); a student's rows against its baseline
    (Dice − baseline: the mean, lowest and max − min of the seed-by-seed differences), the
    mean row with the Holm p of the test averaged over seeds."""
    better = {f"{m}_mean": -1 if m == "hd95" else 1 for m in METRICS}
    out = with_summaries(rows, {**better, "dice_vs_baseline": 1}, keep=["method", "parameters"])
    kind_of = lambda m: (split_seed(m) or ("",))[0] if isinstance(m, str) else ""  # noqa: E731
    models = {r["model"] for r in rows}
    for row in out:
        kind, _, which = row["model"].rpartition("/")
        if row["model"] in models or pd.isna(row.get("dice_vs_baseline")):
            continue
        bases = {kind_of(r.get("baseline")) for r in rows if kind_of(r["model"]) == kind}
        if len(bases) != 1 or "" in bases:
            continue
        baseline = mean_id(bases.pop()) if which == MEAN else bases.pop()  # worst, spread: kind
        result = _holm(statistics, mean_id(kind), baseline) if which == MEAN else None
        diff = row.pop("dice_vs_baseline")
        row.update(baseline=baseline, dice_vs_baseline=diff,
                   p_holm_vs_baseline=result[0] if result else np.nan,
                   significant_vs_baseline=bool(result and result[1]))  # fmt: skip
    return out


def _write_text_tables(
    out: pd.DataFrame,
    per_case: Mapping[str, pd.DataFrame],
    statistics: pd.DataFrame,
    dataset: str,
    cases: int,
    out_md: str | Path,
    out_html: str | Path | None,
) -> None:
    def cell(r: pd.Series, m: str, d: int) -> str:
        if pd.isna(r[f"{m}_sd"]):  # a summary over seeds: one value
            return f"{r[f'{m}_mean']:.{d}f}"
        return f"{r[f'{m}_mean']:.{d}f} ± {r[f'{m}_sd']:.{d}f}"

    header = ["model", "method", "parameters", "Dice", "IoU", "HD95 (mm)", "accuracy", "kappa",
              "Dice − baseline", "Holm p vs baseline"]  # fmt: skip
    title = f"{dataset}: students of every method, {cases} test cases, mean ± sd"
    body = []
    for _, r in out.iterrows():
        has_baseline = isinstance(r.get("baseline"), str)
        p = r.get("p_holm_vs_baseline")
        significant = bool(r.get("significant_vs_baseline"))
        p_cell = "n/a" if not has_baseline or pd.isna(p) else f"{p:.3g}{'*' if significant else ''}"
        if has_baseline and r["model"] not in per_case and not r["model"].endswith(MEAN):
            p_cell = "–"  # worst seed, spread: no test of their own
        body.append([
            r["model"], r["method"], f"{int(r['parameters']):,}", cell(r, "dice", 3),
            cell(r, "iou", 3), cell(r, "hd95", 1), cell(r, "accuracy", 4), cell(r, "kappa", 3),
            f"{r['dice_vs_baseline']:+.3f}" if has_baseline else "–", p_cell,
        ])  # fmt: skip
    md = [f"### {title}", "", *markdown_table(header, body)]
    tables = [("", header, body)]
    students = [m for m, method in zip(out["model"], out["method"], strict=True)
                if method != "baseline" and m in per_case]  # fmt: skip
    if len(students) > 1:
        pair_title = "Pairs of students (row − column): mean Dice difference (Holm p)"
        pairs = []
        for a in students:
            cells = [a]
            for b in students:
                if a == b:
                    cells.append("")
                    continue
                diff = (per_case[a]["dice"] - per_case[b]["dice"].reindex(per_case[a].index)).mean()
                cells.append(f"{diff:+.3f} ({_p_text(_holm(statistics, a, b))})")
            pairs.append(cells)
        md += ["", pair_title, "", "| | " + " | ".join(students) + " |",
               "|" + "---|" * (len(students) + 1)]  # fmt: skip
        md += ["| " + " | ".join(cells) + " |" for cells in pairs]
        tables.append((pair_title, ["", *students], pairs))
    note = (f"Wilcoxon signed-rank ({describe_unit(statistics)}) on the mean Dice over "
            "structures, Holm-corrected over the dataset's primary family (all comparisons of the "
            "study); * p < 0.05; n/a: no test (too few pairs or identical); –: not "
            "compared.")  # fmt: skip
    if len(out) > len(per_case):
        note += (f" Rows '{MEAN}', '{WORST}' and '{SPREAD}' of a model trained at several seeds: "
                 "per column the mean, the worst (HD95: highest, else lowest) and max − min of "
                 "its seeds' values; Dice − baseline: the same of the seed-by-seed differences "
                 "(student seed s − baseline seed s); the mean row's p: the test of the values "
                 "averaged over seeds.")  # fmt: skip
    md += ["", note]
    if out_html is not None:
        write_html_tables(out_html, title, tables, [note])
    with atomic_path(out_md) as tmp:
        tmp.write_text("\n".join(md) + "\n")
