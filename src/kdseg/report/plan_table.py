"""A dataset's plan as files: ``plans.json`` (every planned value with its source and reason)
and the same as a Markdown and an HTML table (the report shows the HTML one)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kdseg.config.plan import plan_entries, plan_lines, shown_value
from kdseg.runtime.atomic import atomic_path
from kdseg.runtime.html_table import markdown_table, write_html_tables
from kdseg.runtime.provenance import provenance

log = logging.getLogger("kdseg")

HEADER = ["setting", "value", "source", "planned", "reason"]


def plan_rows(plan: Mapping[str, Any]) -> list[list[str]]:
    """One row per planned setting: key, value used, source, the plan's value, reason."""
    return [
        [
            f"{k} (mm)" if k == "target_spacing" else k,
            shown_value(k, e["value"]),
            e["source"],
            shown_value(k, e["planned"]),
            f"{e['reason']}; planned: {e['planned_reason']}"
            if "planned_reason" in e
            else e["reason"],
        ]
        for k, e in plan_entries(plan)
    ]


def geometry_note(plan: Mapping[str, Any]) -> str:
    """The architectures' geometry the plan used, in one line."""
    parts = []
    for name, planned in plan["architectures"].items():
        g = planned["geometry"]
        field = g["receptive_field"] if g["receptive_field"] is not None else "unknown"
        parts.append(
            f"{name}: {g['dims']}D, receptive field {field}, sizes multiple of "
            f"{g['size_divisor']}, valid margin {g['valid_margin']}"
        )
    return "Geometry: " + "; ".join(parts) + "."


def write_plan(
    plan: Mapping[str, Any], out_json: str | Path, out_md: str | Path, out_html: str | Path
) -> None:
    """Write the plan (JSON with provenance, Markdown and HTML tables) and log it line by line."""
    for line in plan_lines(plan):
        log.info("plan %s: %s", plan["dataset"], line)
    with atomic_path(out_json) as tmp:
        tmp.write_text(json.dumps({**plan, "provenance": provenance()}, indent=2) + "\n")
    fp = plan["fingerprint"]
    title = (
        f"{plan['dataset']}: plan from the fingerprint of {fp['cases']} cases (median spacing "
        f"{shown_value('', fp['median_spacing'])} mm, median shape after crop "
        f"{shown_value('', fp['median_shape_after_crop'])}; after resampling "
        f"{shown_value('', plan['median_shape'])})"
    )
    budget = ", ".join(f"{k} {v}" for k, v in plan["budget"].items())
    notes = [
        geometry_note(plan),
        f"Budget (config 'plan'): {budget}. A value the study file sets wins (source 'study "
        "file'); 'planned' is what the plan would have chosen.",
    ]
    rows = plan_rows(plan)
    write_html_tables(out_html, title, [("", HEADER, rows)], notes)
    lines = [f"### {title}", "", *markdown_table(HEADER, rows), "", *notes]
    with atomic_path(out_md) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
