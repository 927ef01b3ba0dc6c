"""Per-dataset table of models: mean test metrics per structure, parameters, inference time
(CSV, Markdown and optionally HTML for the report)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from kdseg.evaluation.evaluate import model_summary
from kdseg.runtime.atomic import atomic_path
from kdseg.runtime.html_table import write_table_pages


def write_teacher_table(
    metrics: Sequence[str | Path],
    inference: Sequence[str | Path],
    dataset: str,
    out_csv: str | Path,
    out_md: str | Path,
    out_html: str | Path | None = None,
) -> pd.DataFrame:
    """Summaries of models (paired lists of metrics CSVs and inference.json) as CSV, Markdown
    and optionally HTML."""
    rows = [model_summary(m, t) for m, t in zip(metrics, inference, strict=True)]
    table = pd.DataFrame(rows)
    table.insert(0, "dataset", dataset)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    shown = ["model"] + [c for c in table.columns if c.startswith("dice_")]
    shown += ["mean_dice", "mean_hd95", "mean_assd", "parameters", "seconds_per_case"]
    title = f"{dataset}: mean over {int(table['cases'].max())} test cases"
    header = [c.replace("dice_", "Dice ") for c in shown]
    body = [[_fmt(row[c]) for c in shown] for _, row in table[shown].iterrows()]
    write_table_pages(out_md, out_html, title, header, body)
    return table


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)
