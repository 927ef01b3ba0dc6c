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


FILE_LINE = re.compile(r"\b[\w.]+\.(py|md):\d+|`:\d+")


def all_rows(path: Path = TABLE) -> dict[str, list[str]]:
    """Setting cell (backticks stripped) -> the row's five cells, for every row of the tables."""
    rows = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("setting", "---"):
            rows[cells[0].strip("`")] = cells
    return rows


def test_every_row_names_the_authors_file_and_line_or_says_unknown_or_none():
    rows = all_rows()
    assert len(rows) >= 100
    vague = [
        key
        for key, cells in rows.items()
        if not FILE_LINE.search(cells[2])
        and "unknown" not in cells[2]
        and not cells[2].startswith("none")
    ]
    assert vague == []


@pytest.mark.parametrize(
    ("setting", "authors", "ours"),
    [
        ("training.padding", "utils.py:305, 477", "zeros"),
        ("datasets.SegTHOR.preprocess.target_spacing", "testing_network.py:339-343", "[0.97"),
        ("datasets.SegTHOR.preprocess.smoothing", "resample_images.py:29-34", "authors"),
        ("datasets.Brain.preprocess.target_spacing", "testing_network.py:1111-1112", "original"),
        ("datasets.ACDC.preprocess.target_spacing", "testing_network.py:377-378", "original"),
        ("students.kd.soften", "networks.py:9-11, 111", "predictions"),
        ("students.kd.architecture", "README.md:123", "unet"),
        ("datasets.ACDC.convert", "utils.py:342", "frames: [ED]"),
        ("datasets.Brain.convert", "utils.py:367-374", "channels: [T1]"),
        ("datasets.Brain.splits.folds", "unknown", "5"),
        ("post-processing", "testing_network.py:532-545", "none"),
        ("sampler seed", "utils.py:665, 909", "run seed"),
        ("training.sampling.class_ratios", "utils.py:698-702", "null"),
        ("image interpolation", "data_augmentation.py:57", "grid_sample"),
    ],
)
def test_the_rows_of_issue_29_cite_the_authors(setting, authors, ours):
    """The authors' data protocol (issue 29): each row cites their code and gives ours."""
    cells = all_rows()[setting]
    assert authors in cells[2] and ours in cells[3], cells


def test_no_row_of_a_known_difference_says_same():
    """The brain modality is ours; the student's architecture is the paper's, not their
    README's; the class ratios of 4+ classes are ours."""
    rows = all_rows()
    for setting in ("datasets.Brain.convert", "students.kd.architecture"):
        assert not rows[setting][4].startswith("same"), setting
    assert "unknown" in rows["training.sampling.class_ratios"][4]
    assert "4.1e-5" in rows["image interpolation"][4]  # measured, not the former 1e-5
