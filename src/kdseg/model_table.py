"""Per-dataset table of models: mean test metrics per structure, parameters, inference time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from kdseg.atomic import atomic_path
from kdseg.evaluate import model_summary


def write_model_table(
    metrics: Sequence[str | Path],
    inference: Sequence[str | Path],
    dataset: str,
    out_csv: str | Path,
    out_md: str | Path,
) -> pd.DataFrame:
    """Summaries of models (paired lists of metrics CSVs and inference.json) as CSV + Markdown."""
    rows = [model_summary(m, t) for m, t in zip(metrics, inference, strict=True)]
    table = pd.DataFrame(rows)
    table.insert(0, "dataset", dataset)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    shown = ["model"] + [c for c in table.columns if c.startswith("dice_")]
    shown += ["mean_dice", "mean_hd95", "mean_assd", "parameters", "seconds_per_case"]
    lines = [f"### {dataset}: mean over {int(table['cases'].max())} test cases", ""]
    lines.append("| " + " | ".join(c.replace("dice_", "Dice ") for c in shown) + " |")
    lines.append("|" + "---|" * len(shown))
    for _, row in table[shown].iterrows():
        cells = [_fmt(row[c]) for c in shown]
        lines.append("| " + " | ".join(cells) + " |")
    with atomic_path(out_md) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return table


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)
