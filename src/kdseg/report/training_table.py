"""Per-dataset table of training curves: each trained network's final validation Dice (mean
and per structure), what its last quarter of training gained, and whether it settled
(:mod:`kdseg.evaluation.curve_rule`); with the budget-doubling check (:mod:`kdseg.config.doubling`)
also what the same network trained with twice the iterations reached, and whether that gain
stayed below the rule's 1 point. CSV, Markdown and optionally HTML (for the report)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from kdseg.evaluation.curve_rule import SETTLED_GAIN, last_quarter_gain, read_history, settles
from kdseg.runtime.atomic import atomic_path
from kdseg.runtime.html_table import write_table_pages


def curve_summary(model: str, history_csv: str | Path) -> dict[str, object]:
    """One row: the model, its iterations, final validation scores, last-quarter gain."""
    history = read_history(history_csv)
    final = next((r for r in reversed(history) if r.get("validation_dice")), {})
    gain = last_quarter_gain(history)
    row: dict[str, object] = {
        "model": model,
        "iterations": int(float(history[-1]["iteration"])) if history else 0,
    }
    row.update({k: float(v) for k, v in final.items() if k.startswith("validation_dice") and v})
    row["last_quarter_gain"] = gain
    row["settled"] = settles(gain)
    return row


def doubling_summary(row: Mapping[str, object], doubled_history: str | Path) -> dict[str, object]:
    """The doubling check of one network (its table ``row``): the doubled run's iterations,
    final mean validation Dice and last-quarter gain, what doubling gained, and whether that
    stayed below the rule's threshold."""
    doubled = curve_summary(str(row["model"]), doubled_history)
    dice, twice = row.get("validation_dice"), doubled.get("validation_dice")
    gain = float(twice) - float(dice) if dice is not None and twice is not None else float("nan")
    return {
        "doubled_iterations": doubled["iterations"],
        "doubled_validation_dice": float("nan") if twice is None else twice,
        "doubled_last_quarter_gain": doubled["last_quarter_gain"],
        "doubling_gain": gain,
        "passes_doubling": settles(gain),
    }


def write_training_table(
    models: Sequence[str],
    histories: Sequence[str | Path],
    dataset: str,
    out_csv: str | Path,
    out_md: str | Path,
    out_html: str | Path | None = None,
    doubled: Mapping[str, str | Path] | None = None,
) -> pd.DataFrame:
    """The table of ``models`` (paired with their ``training.csv``) as CSV, Markdown and
    optionally HTML; ``doubled``: {model: training.csv of its doubled run} for the networks
    the doubling check covers (columns ``doubled_iterations``, ``doubled_validation_dice``,
    ``doubled_last_quarter_gain``, ``doubling_gain``, ``passes_doubling``; empty for the
    others)."""
    rows = [curve_summary(m, h) for m, h in zip(models, histories, strict=True)]
    for row in rows:
        if doubled and row["model"] in doubled:
            row.update(doubling_summary(row, doubled[str(row["model"])]))
    table = pd.DataFrame(rows)
    if "doubled_iterations" in table:
        table["doubled_iterations"] = table["doubled_iterations"].astype("Int64")
    table.insert(0, "dataset", dataset)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    unsettled = int((~table["settled"]).sum()) if len(table) else 0
    title = (
        f"{dataset}: training curves ({len(table)} networks, {unsettled} not settled: "
        f"a network is settled when its mean validation Dice gained less than "
        f"{SETTLED_GAIN:.2f} over the last quarter of training)"
    )
    if "passes_doubling" in table:
        checked = table["passes_doubling"].notna()
        failed = int((~table.loc[checked, "passes_doubling"].astype(bool)).sum())
        both = int((table["settled"] & (table["passes_doubling"] == True)).sum())  # noqa: E712
        title += (
            f"; doubling check: {int(checked.sum())} networks trained again with twice the "
            f"iterations, {failed} gained {SETTLED_GAIN:.2f} or more; {both} of {len(table)} "
            "settled and passed the doubling check"
        )
    shown = [c for c in table.columns if c != "dataset"]
    header = [c.replace("validation_dice_", "") for c in shown]
    body = [[_fmt(row[c]) for c in shown] for _, row in table[shown].iterrows()]
    write_table_pages(out_md, out_html, title, header, body)
    return table


def _fmt(value: object) -> str:
    if value is None or value is pd.NA:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.3f}"
    return str(value)
