"""The paper's comparison per dataset: the results table (the statistics it marks:
:mod:`kdseg.statistics.findings`).

``write_study_table``: rows = models, columns = per-structure mean and sd of Dice, HD95 and
ASSD, parameters and seconds per case; CSV (all numbers), Markdown and LaTeX (mean ± sd), with
marks on the mean Dice of a row where a comparison involving it is significant after Holm:
``*`` member differs from its ensemble, ``†`` student differs from its ensemble, ``‡`` student
differs from its baseline; with the dataset's training table, ``§`` after the name of a model
with a network that did not settle by the curve rule (an ensemble: a member;
:mod:`kdseg.evaluation.settled`); optionally the same table as an HTML page (for the report).
After the seeds of a model trained at several seeds, its mean over seeds, worst seed and
spread over seeds (:func:`kdseg.statistics.seeds.with_summaries`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from kdseg.evaluation.settled import NOT_SETTLED, SETTLED_MARK, read_settled, unsettled_networks
from kdseg.runtime.atomic import atomic_path
from kdseg.runtime.html_table import markdown_table, write_html_tables
from kdseg.statistics.findings import METRICS, read_metrics
from kdseg.statistics.seeds import MEAN, SPREAD, WORST, summary_members, with_summaries
from kdseg.statistics.wilcoxon import describe_unit

MARKS = {"member": "*", "student vs ensemble": "†", "student vs baseline": "‡"}


def _marks(statistics: pd.DataFrame, model: str) -> str:
    sig = statistics[(statistics["metric"] == "dice") & (statistics["structure"] == "mean")]
    sig = sig[sig["significant"].astype(bool)]
    marks = ""
    if ((sig["model_b"] == model) & sig["comparison"].str.endswith("vs member")).any():
        marks += MARKS["member"]
    student = sig[sig["model_a"] == model]
    if student["comparison"].str.startswith("student vs ensemble").any():
        marks += MARKS["student vs ensemble"]
    if (student["comparison"] == "student vs baseline").any():
        marks += MARKS["student vs baseline"]
    return marks


def write_study_table(
    models: Sequence[str],
    metrics: Sequence[str | Path],
    predictions: Sequence[str | Path],
    statistics_csv: str | Path,
    dataset: str,
    out_csv: str | Path,
    out_md: str | Path,
    out_tex: str | Path,
    out_html: str | Path | None = None,
    training_table: str | Path | None = None,
    members: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """The per-dataset results table in CSV, Markdown, LaTeX and optionally HTML (``models``,
    ``metrics`` and ``predictions`` in the same order). With the dataset's ``training_table``
    (and each ensemble's ``members``), column ``unsettled`` names a model's networks that did
    not settle and the text tables mark such rows."""
    table = read_metrics(metrics)
    statistics = pd.read_csv(statistics_csv)
    settled = read_settled(training_table) if training_table is not None else None
    structures = list(dict.fromkeys(table["structure"]))
    rows = []
    for model, path in zip(models, predictions, strict=True):
        part = table[table["model"] == model]
        timing = json.loads((Path(path) / "inference.json").read_text())
        row: dict[str, object] = {"model": model}
        per_case = part.groupby("case")[list(METRICS)].mean()
        for metric in METRICS:
            for structure in [*structures, "mean"]:
                values = (
                    per_case[metric]
                    if structure == "mean"
                    else part[part["structure"] == structure][metric]
                )
                row[f"{metric}_{structure}_mean"] = float(values.mean())
                row[f"{metric}_{structure}_sd"] = (
                    float(values.std(ddof=1)) if len(values) > 1 else 0.0
                )
        row["parameters"] = timing.get("parameters")
        row["seconds_per_case"] = timing.get("mean_seconds_per_case")
        rows.append(row)
    lower = ("hd95", "assd")
    better = {c: -1 if c.startswith(lower) else 1 for c in rows[0] if c.endswith("_mean")}
    rows = with_summaries(rows, {**better, "seconds_per_case": -1}, keep=["parameters"])
    behind = {**(members or {}), **summary_members(models)}
    for row in rows:
        row["marks"] = _marks(statistics, row["model"])
        if settled is not None:
            row["unsettled"] = "; ".join(unsettled_networks(row["model"], settled, behind))
    out = pd.DataFrame(rows)
    with atomic_path(out_csv) as tmp:
        out.to_csv(tmp, index=False)
    _write_text_tables(out, statistics, structures, dataset, int(table["case"].nunique()),
                       out_md, out_tex, out_html)  # fmt: skip
    return out


def _cell(row: pd.Series, metric: str, structure: str, digits: int) -> str:
    mean, sd = row[f"{metric}_{structure}_mean"], row[f"{metric}_{structure}_sd"]
    if pd.isna(sd):  # a summary over seeds: one value
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _write_text_tables(
    out: pd.DataFrame,
    statistics: pd.DataFrame,
    structures: list[str],
    dataset: str,
    cases: int,
    out_md: str | Path,
    out_tex: str | Path,
    out_html: str | Path | None = None,
) -> None:
    header = ["model", *[f"Dice {s}" for s in structures], "Dice mean", "HD95 mean (mm)",
              "ASSD mean (mm)", "parameters", "s/case"]  # fmt: skip
    checked = "unsettled" in out.columns  # the training table was read
    body = []
    for _, row in out.iterrows():
        name = row["model"] + (SETTLED_MARK if checked and row["unsettled"] else "")
        body.append(
            [name, *[_cell(row, "dice", s, 3) for s in structures],
             _cell(row, "dice", "mean", 3) + row["marks"], _cell(row, "hd95", "mean", 1),
             _cell(row, "assd", "mean", 1), f"{int(row['parameters']):,}",
             f"{row['seconds_per_case']:.2f}"]
        )  # fmt: skip
    notes = _significance_note(statistics, cases)
    if out["model"].str.endswith(f"/{MEAN}").any():
        notes += (f" Rows '{MEAN}', '{WORST}' and '{SPREAD}' of a model trained at several "
                  "seeds: per column the mean, the worst (Dice: lowest; HD95, ASSD, s/case: "
                  "highest) and max − min of its seeds' values; marks on a mean row: the tests "
                  "of the values averaged over seeds.")  # fmt: skip
    if checked:
        notes += (f" {SETTLED_MARK} a network behind the row (an ensemble: a member) did not "
                  f"settle: {NOT_SETTLED}; comparisons with it do not count.")  # fmt: skip
    title = f"{dataset}: {cases} test cases, mean ± sd"
    if out_html is not None:
        write_html_tables(out_html, title, [("", header, body)], [notes])
    md = [f"### {title}", "", *markdown_table(header, body)]
    md += ["", notes]
    with atomic_path(out_md) as tmp:
        tmp.write_text("\n".join(md) + "\n")
    esc = lambda text: str(text).replace("_", r"\_").replace("±", r"$\pm$")  # noqa: E731
    tex = [r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\hline",
           " & ".join(esc(h) for h in header) + r" \\", r"\hline"]  # fmt: skip
    tex += [" & ".join(esc(c) for c in cells) + r" \\" for cells in body]
    tex += [r"\hline", r"\end{tabular}", "% " + notes]
    with atomic_path(out_tex) as tmp:
        tmp.write_text("\n".join(tex) + "\n")


def _significance_note(statistics: pd.DataFrame, cases: int) -> str:
    dice = statistics[statistics["metric"] == "dice"]
    tested = dice["p"].notna().sum()
    unit = describe_unit(statistics)
    legend = (f"Marks on mean Dice (Wilcoxon signed-rank, {unit}; Holm-corrected, "
              "p < 0.05): * member differs from its ensemble, † student differs from its "
              "ensemble, ‡ student differs from its baseline.")  # fmt: skip
    if tested == 0 and not statistics.empty:
        return legend + f" With {unit.split(', ')[-1]} no test can reach p < 0.05: none was run."
    return legend
