"""Results tables as small standalone HTML pages (the Snakemake report shows them in place,
where it offers Markdown files for download).

Every table writer builds its header and rows once and hands them to both the Markdown and
the HTML writer, so the two show the same cells. Cells are plain text; ``**text**`` (the
Markdown tables' emphasis) becomes bold.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

from kdseg.runtime.atomic import atomic_path

_CSS = """
body { font-family: system-ui, sans-serif; font-size: 13px; margin: 1em; color: #222; }
h3 { font-size: 15px; margin: 0.2em 0 0.6em 0; }
table { border-collapse: collapse; margin-bottom: 1em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; white-space: nowrap; }
th { background: #eee; position: sticky; top: 0; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { text-align: left; }
tr:nth-child(even) td { background: #f8f8f8; }
p.note { max-width: 70em; color: #444; }
"""

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _cell(text: object) -> str:
    return _BOLD.sub(r"<strong>\1</strong>", html.escape(str(text)))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of one Markdown table: a header row, its rule, one line per entry of ``rows``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cells) + " |" for cells in rows]


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """One ``<table>``: a header row and one row per entry of ``rows``."""
    lines = ["<table>", "<thead><tr>" + "".join(f"<th>{_cell(h)}</th>" for h in header)
             + "</tr></thead>", "<tbody>"]  # fmt: skip
    for row in rows:
        lines.append("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def write_html_tables(
    out_html: str | Path,
    title: str,
    tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[object]]]],
    notes: Sequence[str] = (),
) -> None:
    """A page of ``tables`` (each: heading (may be empty), header, rows) and ``notes``."""
    body = [f"<h3>{_cell(title)}</h3>"]
    for heading, header, rows in tables:
        if heading:
            body.append(f"<p>{_cell(heading)}</p>")
        body.append(html_table(header, rows))
    body += [f'<p class="note">{_cell(note)}</p>' for note in notes if note]
    page = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>", f"<style>{_CSS}</style>", "</head>",
            "<body>", *body, "</body>", "</html>"]  # fmt: skip
    with atomic_path(out_html) as tmp:
        tmp.write_text("\n".join(page) + "\n", encoding="utf-8")


def write_table_pages(
    out_md: str | Path,
    out_html: str | Path | None,
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
) -> None:
    """One table as a Markdown file (``### title`` and the table) and, where ``out_html`` is
    given, as an HTML page of the same cells."""
    if out_html is not None:
        write_html_tables(out_html, title, [("", header, rows)])
    with atomic_path(out_md) as tmp:
        tmp.write_text("\n".join([f"### {title}", "", *markdown_table(header, rows)]) + "\n")
