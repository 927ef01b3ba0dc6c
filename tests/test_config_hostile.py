"""Hostile study files (issue 31): inverted windows, YAML alias bombs, yte code, names with a
newline, NaN and out-of-range numbers, unusable patterns and names; each refused before any job
with one line naming the key (or, for what only the data can tell, the case)."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import make_tiny
from test_workflow import teacher_config

from kdseg import config as kdcfg
from kdseg.data.splits import make_splits, patient_of
from kdseg.data.study_data import validate_study
from kdseg.errors import ConfigError, KdsegError


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    own = make_tiny(tmp_path_factory.mktemp("own") / "Dataset007_Own", "thorax", cases=5)
    return teacher_config(own)


def _refused(config: dict, edit) -> str:
    config = copy.deepcopy(config)
    edit(config)
    with pytest.raises(ConfigError) as err:
        validate_study(config)
    message = str(err.value)
    assert "\n" not in message
    return message


def _ct(c: dict, **ct) -> None:
    c["datasets"]["Own"]["preprocess"]["ct"] = ct


def _own(c: dict) -> dict:
    return c["datasets"]["Own"]


# -- 3: an intensity window or percentile pair with nothing between its ends ------------------


@pytest.mark.parametrize(
    ("ct", "key"),
    [
        ({"clip": "window", "window": [1000, -1000]}, "window"),
        ({"clip": "window", "window": [40, 40]}, "window"),
        ({"percentiles": [99.5, 0.5]}, "percentiles"),
        ({"percentiles": [50, 50]}, "percentiles"),
    ],
)
def test_an_inverted_or_empty_intensity_window_is_refused(study, ct, key):
    message = _refused(study, lambda c: _ct(c, **ct))
    assert f"config key 'datasets.Own.preprocess.ct.{key}'" in message
    assert "lower end must be below the upper" in message


def test_preprocessing_stops_when_a_training_image_becomes_constant(tmp_path):
    from kdseg.data.preprocess import preprocess_dataset
    from kdseg.data.splits import write_splits
    from kdseg.data.validate import validate_raw_dataset

    raw = make_tiny(tmp_path / "Dataset001_Tiny", cases=4)
    report, splits, out = tmp_path / "report.json", tmp_path / "splits.json", tmp_path / "pre"
    validate_raw_dataset(raw, report)
    write_splits(str(report), str(splits), seed=0, test=1, validation=1)
    # a window above every intensity of the phantom: every voxel is clipped to one value
    settings = {"target_spacing": [8.0, 8.0, 8.0], "ct": {"clip": "window", "window": [5e4, 6e4]}}
    with pytest.raises(KdsegError) as err:
        preprocess_dataset(raw, report, splits, out, settings, name="T")
    first_train = sorted(json.loads(splits.read_text())["train"])[0]
    assert str(err.value).startswith(f"case {first_train!r}")
    assert "constant after normalisation" in str(err.value) and "\n" not in str(err.value)
    assert not out.exists()


# -- 4 and 5: what YAML and Snakemake's yte could do while a study file is read ---------------


def _bomb(depth: int, sequence: bool = True) -> str:
    """A study file whose aliases nest ``depth`` levels of 10 copies (10**depth leaves)."""
    lines = ["study: bomb", "datasets:", "  S:", "    source: phantom", "    convert:"]
    if sequence:
        lines.append("      a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]")
        for i in range(1, depth):
            lines.append(f"      a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    else:
        lines.append("      a0: &a0 {" + ", ".join(f"k{j}: 1" for j in range(10)) + "}")
        for i in range(1, depth):
            inner = ", ".join(f"k{j}: *a{i - 1}" for j in range(10))
            lines.append(f"      a{i}: &a{i} {{{inner}}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("sequence", [True, False])
def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path, sequence):
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(9, sequence))  # 10**9 values once expanded: far beyond memory
    with pytest.raises(ConfigError) as err:
        kdcfg.read_study_file(path)
    message = str(err.value)
    assert message.startswith(f"{path}: its aliases expand it to more than 100000 values")
    assert "\n" not in message


def test_aliases_that_stay_small_are_read_as_before(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(_bomb(3) + "ensembles:\n  e: {datasets: &ds [S]}\n  f: {datasets: *ds}\n")
    config = kdcfg.read_study_file(path)
    assert config["datasets"]["S"]["convert"]["a2"][9][9] == [1] * 10
    assert config["ensembles"]["f"]["datasets"] == ["S"]


def test_an_alias_inside_itself_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("study: loop\nx: &x [1, *x]\n")
    with pytest.raises(ConfigError, match=r"loop.yaml: an alias refers to a value that holds it"):
        kdcfg.read_study_file(path)


def test_a_study_file_asking_for_yte_is_refused(tmp_path):
    path = tmp_path / "code.yaml"
    path.write_text("__use_yte__: true\nstudy: ?'co' + 'de'\ndatasets: {}\n")
    with pytest.raises(ConfigError) as err:
        kdcfg.read_study_file(path)
    assert str(err.value).startswith(f"{path}: '__use_yte__' asks Snakemake to run the file's")


# -- 6: names are matched whole ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda c: c.update(study="tiny\n"), "config key 'study': 'tiny\\n' does not match"),
        (
            lambda c: c["ensembles"].update({"e\n": c["ensembles"].pop("uniform")}),
            "config key 'ensembles': 'e\\n' does not match",
        ),
        (
            lambda c: c["datasets"].update({"Heart\n": c["datasets"].pop("Heart")}),
            "config key 'datasets': 'Heart\\n' does not match",
        ),
    ],
)
def test_a_name_with_a_trailing_newline_is_refused(study, edit, key):
    assert key in _refused(study, edit)


# -- 7: numbers that are not numbers, or beyond any use ----------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["training"].update(optimizer={"name": "adam", "lr": float("nan")}),
            "config key 'training.optimizer.lr': nan is not a finite number",
        ),
        (
            lambda c: c["students"]["kd"].update(temperature=float("nan")),
            "config key 'students.kd.temperature': nan is not a finite number",
        ),
        (
            lambda c: c["students"]["kd"].update(temperature=float("inf")),
            "config key 'students.kd.temperature': inf is not a finite number",
        ),
        (
            lambda c: _own(c)["preprocess"].update(target_spacing=[float("inf"), 1.0, 1.0]),
            "config key 'datasets.Own.preprocess.target_spacing.0': inf is not a finite number",
        ),
        (
            lambda c: _own(c)["preprocess"].update(target_spacing=[1.0, float("nan"), 1.0]),
            "config key 'datasets.Own.preprocess.target_spacing.1': nan is not a finite number",
        ),
        (
            lambda c: _own(c)["splits"].update(test=float("nan")),
            "config key 'datasets.Own.splits.test': nan is not a finite number",
        ),
        (
            lambda c: c.update(extract={"max_ratio": float("nan")}),
            "config key 'extract.max_ratio': nan is not a finite number",
        ),
        (
            lambda c: c.update(extract={"max_ratio": float("-inf")}),
            "config key 'extract.max_ratio': -inf is not a finite number",
        ),
        (
            lambda c: c["baselines"].update(budgets=[1, 100_000_000]),
            "config key 'baselines.budgets': budget 100000000 x 8 iterations (unet on Heart) "
            "is 800000000 iterations, more than 10000000",
        ),
        (
            lambda c: c["ensembles"]["uniform"].update(subsets=50),
            "config key 'ensembles.uniform.subsets': 50 subsets of the training patients of "
            "Heart, which has 2; at most 2",
        ),
    ],
)
def test_a_number_beyond_use_is_refused_naming_its_key(study, edit, message):
    assert message in _refused(study, edit)


def test_a_target_spacing_that_would_exhaust_memory_is_refused_at_plan_time():
    from test_plan import ISO
    from test_plan import study as plan_study

    config, written = plan_study(datasets={"Own": {"preprocess": {"target_spacing": [0.01] * 3}}})
    with pytest.raises(ConfigError) as err:
        kdcfg.plan_dataset(ISO, config, written, "Own")
    message = str(err.value)
    assert message.startswith("config key 'datasets.Own.preprocess.target_spacing': ")
    assert "more than 2147483648 voxels" in message and "\n" not in message
    fine, written = plan_study(datasets={"Own": {"preprocess": {"target_spacing": [1.0] * 3}}})
    kdcfg.plan_dataset(ISO, fine, written, "Own")


# -- 8: values that used to end in a traceback -------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: _own(c)["splits"].update(group_pattern="(unclosed"),
            "config key 'datasets.Own.splits.group_pattern': '(unclosed' is not a regular "
            "expression (missing ), unterminated subpattern at position 0)",
        ),
        (
            lambda c: _own(c)["splits"].update(group_pattern="^case"),
            "config key 'datasets.Own.splits.group_pattern': '^case' has no group",
        ),
        (
            lambda c: c.update(results_dir="out{dataset}"),
            "config key 'results_dir': 'out{dataset}' holds a brace",
        ),
        (lambda c: c.update(data_dir="out{x"), "config key 'data_dir': 'out{x' holds a brace"),
        (
            lambda c: c["baselines"].update(architectures=["nope"], budgets=[1, 2]),
            "config key 'baselines.architectures': 'nope' is not defined in 'architectures'",
        ),
        (
            lambda c: c["datasets"].update({123: c["datasets"].pop("Heart")}),
            "config key 'datasets': 123 is not of type 'string'",
        ),
        (
            lambda c: c["architectures"]["unet"]["kwargs"].update(features=[-4, 8]),
            "config key 'architectures.unet' (dataset Heart): architecture 'unet3d': bad "
            "arguments (features must be a list of positive integers, got [-4, 8])",
        ),
        (
            lambda c: c["architectures"]["dilated"]["kwargs"].update(dilations=[1, 0]),
            "architecture 'dilated2d': bad arguments (dilations must be a list of positive "
            "integers, got [1, 0])",
        ),
    ],
)
def test_values_that_ended_in_a_traceback_get_one_line(study, edit, message):
    assert message in _refused(study, edit)


# -- 9: a case outside the group pattern ------------------------------------------------------


def test_a_case_whose_optional_group_does_not_match_is_refused():
    assert patient_of("thorax_001", r"^thorax_00([0-2])?") == "1"
    with pytest.raises(ConfigError) as err:
        make_splits(["thorax_001", "thorax_005", "thorax_006"], 0, 1, 0, r"^thorax_00([0-2])?")
    assert str(err.value) == (
        "splits.group_pattern '^thorax_00([0-2])?' gives case 'thorax_005' no patient "
        "(its first group does not match)"
    )


def test_an_optional_group_that_misses_a_known_case_is_refused_while_the_config_is_read(study):
    message = _refused(study, lambda c: _own(c)["splits"].update(group_pattern=r"^(x)?"))
    assert message.startswith("config key 'datasets.Own.splits': splits.group_pattern '^(x)?'")


# -- Also seen: a study file's value in plans.json -------------------------------------------


def test_a_study_files_value_says_so_and_the_planned_value_keeps_its_own_reason():
    from test_plan import ISO
    from test_plan import study as plan_study

    config, written = plan_study(
        training={"batch_size": 8}, architectures={"unet": {"patch": [24, 24, 24]}}
    )
    unet = kdcfg.plan_dataset(ISO, config, written, "Own")["architectures"]["unet"]
    patch, batch = unet["patch"], unet["batch_size"]
    assert (patch["value"], patch["source"]) == ([24, 24, 24], "study file")
    assert patch["reason"] == "set in the study file"
    # what the plan would have chosen, for the batch the study file sets, and why
    assert patch["planned_reason"].startswith(
        "at most 3456 input voxels (3d budget 27648 / batch 8"
    )
    assert (batch["value"], batch["source"]) == (8, "study file")
    assert batch["reason"] == "set in the study file"
    # the plan's batch for the study file's patch (24^3 = 13824 voxels)
    assert batch["planned"] == 2
    assert batch["planned_reason"].startswith("3d budget 27648 voxels / patch 13824 = 2;")
    lines = kdcfg.plan_lines(kdcfg.plan_dataset(ISO, config, written, "Own"))
    shown = "unet.batch_size = 8 (study file; the plan's 2: 3d budget 27648 voxels"
    assert any(line.startswith(shown) for line in lines)
