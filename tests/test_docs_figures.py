"""Figures the docs repeat have one value. The demo's time, the test count and the CI time are
stated in docs/results.md (section Time); any other page that states one of them (README,
config/README.md, the workflow-catalog file, docs/*.md) must give the same value, at the
precision it is stated. docs/log.md, the dated history, keeps earlier values and is exempt."""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import REPO

RESULTS = REPO / "docs" / "results.md"
EXEMPT = {REPO / "docs" / "log.md"}
SUFFIXES = {".md", ".yml", ".yaml", ".cff", ".rst"}
SKIP_DIRS = {"results", "data", "tests", "src", "benchmarks", "rules", "workflow"}

# a time in minutes ("24 minutes", "23 min 57 s") in a sentence that names the demo
DEMO_CONTEXT = re.compile(r"make demo|default study")
MINUTES = re.compile(r"\b(\d+) min(?:utes)?\b(?: (\d+) s\b)?")
# "630 tests", "629–630 tests" (not the "75–105 tests" of a Holm family: two digits first)
TESTS = re.compile(r"(?<![\d–-])(\d{3,}(?:–\d{3,})?) tests\b")
CI = re.compile(r"(?<![\d–-])(\d{3}(?:–\d{3})?) s (of tests|with set-up)\b")


def pages() -> list[Path]:
    """Every documentation page of the repository, without generated or code folders."""
    found = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS]
        found += [Path(root) / f for f in files if Path(f).suffix in SUFFIXES]
    found.append(REPO / ".snakemake-workflow-catalog.yml")
    return sorted(p for p in set(found) if p not in EXEMPT and "config.yaml" not in p.name)


def sentences(text: str) -> list[str]:
    """Table rows and the sentences of each paragraph, with line breaks joined."""
    units = []
    for block in re.split(r"\n\s*\n", text):
        rows = [line for line in block.splitlines() if line.lstrip().startswith("|")]
        units += rows
        prose = " ".join(
            line.strip() for line in block.splitlines() if not line.lstrip().startswith("|")
        )
        units += re.split(r"(?<=[.;!?])\s+(?=[A-Z(*`\[])", prose)
    return [u for u in units if u]


def demo_minutes(text: str) -> list[int]:
    """Every demo time stated in the text, rounded to whole minutes."""
    found = []
    for unit in sentences(text):
        if DEMO_CONTEXT.search(unit):
            for minutes, seconds in MINUTES.findall(unit):
                found.append(int(minutes) + (int(seconds or 0) >= 30))
    return found


def figures(text: str) -> dict[str, list[str]]:
    """The figures a page states: demo minutes, test counts, CI seconds (tests, with set-up)."""
    joined = " ".join(text.split())
    ci = CI.findall(joined)
    return {
        "demo minutes": [str(m) for m in demo_minutes(text)],
        "tests": TESTS.findall(joined),
        "s of tests": [v for v, kind in ci if kind == "of tests"],
        "s with set-up": [v for v, kind in ci if kind == "with set-up"],
    }


def canonical() -> dict[str, str]:
    """The figures of docs/results.md's Time section, where each is stated in bold."""
    text = RESULTS.read_text()
    time = text[text.index("\n## Time\n") :]
    time = time[: time.index("\n## ", 1)]
    demo = re.search(r"\*\*(\d+) minutes\*\*", time)
    tests = re.search(r"\*\*(\S+) tests\b", time)
    ci = re.search(r"\*\*(\S+) s of tests, (\S+) s with set-up\*\*", time)
    assert demo and tests and ci, "docs/results.md#time must state the three figures in bold"
    return {
        "demo minutes": demo.group(1),
        "tests": tests.group(1),
        "s of tests": ci.group(1),
        "s with set-up": ci.group(2),
    }


def test_collector_finds_the_disagreement_issue_30_reported():
    readme = "CPU only (24 minutes on 2 cores from a fresh clone, `make demo`, 2026-11-30)."
    catalog = "the default study (synthetic phantoms; about 23 minutes on 2 cores)."
    other = "Such a study would train for 4,385 job seconds, about 37 minutes on 2 cores."
    assert demo_minutes(readme) == [24] and demo_minutes(catalog) == [23]
    assert demo_minutes(other) == []  # a duration in a sentence that is not about the demo
    assert demo_minutes("`make demo` took 23 min 57 s, then 24 min 13 s.") == [24, 24]
    stated = figures("CI: 523–543 s of tests for 629–630 tests; Holm over 75–105 tests.")
    assert stated["tests"] == ["629–630"] and stated["s of tests"] == ["523–543"]


def test_every_page_states_the_figures_of_results_md():
    truth = canonical()
    wrong = []
    for page in pages():
        for name, values in figures(page.read_text()).items():
            wrong += [f"{page.relative_to(REPO)}: {v} {name}, results.md#time says "
                      f"{truth[name]}" for v in values if v != truth[name]]  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_the_entry_pages_state_or_link_the_demo_time():
    truth = canonical()["demo minutes"]
    for name in ("README.md", ".snakemake-workflow-catalog.yml"):
        assert figures((REPO / name).read_text())["demo minutes"] == [truth], name
    assert "docs/results.md#time" in (REPO / "README.md").read_text()
    assert "docs/results.md#time" in (REPO / "config" / "README.md").read_text()
