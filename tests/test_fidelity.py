"""docs/fidelity.md and config/paper.yaml agree: every keyed row's "ours" is the study's value,
and every setting of the paper's recipe has a row."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from kdseg import config as kdcfg

TABLE = REPO / "docs" / "fidelity.md"
PAPER = REPO / "config" / "paper.yaml"
KEY = re.compile(r"^`([A-Za-z_][\w.]*)`$")
# sections of paper.yaml that are not the paper's recipe (see the table's last paragraph)
NOT_THE_RECIPE = (
    "study", "results_dir", "data_dir", "threads", "resources", "sources", "download",
    "extract", "figures", "architectures.unet_s8", "architectures.unet_s2", "ensembles.unet1",
    "ensembles.limit", "students.kd_s8", "students.kd_s2", "students.assistant_s8",
    "students.assistant_s2", "students.feature", "students.adaptive", "students.online",
    "datasets.Prostate", "datasets.Liver", "datasets.ACDC.architectures.unet_s8",
    "datasets.ACDC.architectures.unet_s2",
)  # fmt: skip


def table_rows(path: Path = TABLE) -> dict[str, str]:
    """Config key -> the "ours" cell (inside its backticks) of every keyed row."""
    rows = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not KEY.match(cells[0]):
            continue
        key = KEY.match(cells[0])[1]
        assert key not in rows, f"{key}: two rows"
        ours = cells[3]
        assert ours.startswith("`") and ours.endswith("`"), f"{key}: 'ours' is not a value"
        rows[key] = ours.strip("`")
    return rows


def value_at(config: dict, key: str):
    value = config
    for part in key.split("."):
        assert isinstance(value, dict) and part in value, f"{key}: not in config/paper.yaml"
        value = value[part]
    return value


def leaves(value, prefix: str = ""):
    """Dotted keys of every non-mapping value (lists are values)."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from leaves(v, f"{prefix}.{k}" if prefix else str(k))
    else:
        yield prefix


@pytest.fixture(scope="module")
def paper() -> dict:
    return kdcfg.load_config(PAPER)  # with the schema's defaults, as the workflow sees it


def test_every_keyed_row_gives_the_value_of_the_study(paper):
    rows = table_rows()
    assert len(rows) > 80
    for key, ours in rows.items():
        assert yaml.safe_load(ours) == value_at(paper, key), key


def test_every_setting_of_the_recipe_has_a_row(paper):
    rows = table_rows()
    raw = yaml.safe_load(PAPER.read_text())
    defaults = ["training.sampling", "training.augmentation", "students.kd"]
    missing = [
        leaf
        for leaf in [*leaves(raw), *(f"{d}.{k}" for d in defaults for k in value_at(paper, d))]
        if not leaf.startswith(NOT_THE_RECIPE)
        and not any(leaf == key or leaf.startswith(key + ".") for key in rows)
    ]
    assert missing == []


def test_the_check_fails_on_a_stale_row(tmp_path, paper):
    stale = tmp_path / "fidelity.md"
    stale.write_text(TABLE.read_text().replace("| `100000` |", "| `250000` |"))
    key, ours = "training.iterations", table_rows(stale)["training.iterations"]
    assert yaml.safe_load(ours) != value_at(paper, key)
