"""The command line as users type it: nested --config overrides, a study file without a name,
a study that trains nothing (dry-runs of the real Snakemake CLI, and the helpers they use)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kdseg import config as kdcfg

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def test_nested_override_scalars_are_typed_as_yaml_types_them():
    given = {"iterations": "10", "optimizer": {"lr": "0.01", "name": "adam"}, "amp": "true",
             "patch": ["24", "24", "8"], "seed": 3, "label": "1e-3"}  # fmt: skip
    assert kdcfg.typed_override(given) == {
        "iterations": 10, "optimizer": {"lr": 0.01, "name": "adam"}, "amp": True,
        "patch": [24, 24, 8], "seed": 3, "label": "1e-3",  # YAML 1.1: no float without a dot
    }  # fmt: skip


def test_overrides_merge_key_by_key():
    config = {"training": {"iterations": 800, "batch_size": 2}, "study": "demo"}
    kdcfg.apply_overrides(config, {"training": {"iterations": "10"}})
    assert config == {"training": {"iterations": 10, "batch_size": 2}, "study": "demo"}


def test_a_study_file_without_a_name_is_named_after_itself():
    config: dict = {}
    kdcfg.default_study_name(config, ["/x/y/my-study.yaml"])
    assert config == {"study": "my-study"}
    named = {"study": "kept"}
    kdcfg.default_study_name(named, ["/x/other.yaml"])
    assert named == {"study": "kept"}


def _dry_run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, "-n", "--cores", "1", *args], cwd=cwd,
                          capture_output=True, text=True)  # fmt: skip


@pytest.mark.workflow
def test_nested_config_override_on_the_command_line_is_accepted():
    out = _dry_run("--config", 'training={"iterations": 10, "optimizer": {"lr": 0.02}}')
    assert out.returncode == 0, out.stderr
    bad = _dry_run("--config", 'training={"iterations": "ten"}')
    assert bad.returncode != 0
    assert "config key 'training.iterations': 'ten' is not of type 'integer'" in (
        bad.stdout + bad.stderr
    )


@pytest.mark.workflow
def test_unnamed_study_writes_under_its_file_name_and_says_it_trains_nothing(tmp_path):
    study = tmp_path / "tiny-study.yaml"
    study.write_text(
        "datasets:\n  T:\n    source: phantom\n    phantom: {kind: thorax, cases: 6, seed: 1}\n"
    )
    out = _dry_run("--configfile", str(study), "--directory", str(tmp_path),
                   "--snakefile", str(REPO / "Snakefile"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "results/tiny-study/T/raw" in text
    assert "results/demo" not in text
    assert "study 'tiny-study' trains no network: it defines no 'ensembles'" in text


def test_an_override_of_a_mapping_the_study_file_leaves_out_merges_into_its_default():
    config = {"training": {"iterations": 800}}
    kdcfg.apply_overrides(config, {"training": {"iterations": "10", "optimizer": {"lr": "0.02"}}})
    assert config == {"training": {"iterations": 10, "optimizer": {"name": "adam", "lr": 0.02}}}
    kdcfg.validate_config({**config, "datasets": {"T": {"source": "phantom"}}})
    # a mapping the study file sets keeps its keys: no default is merged under it
    sgd = {"training": {"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}}}
    kdcfg.apply_overrides(sgd, {"training": {"optimizer": {"lr": "0.02"}}})
    assert sgd["training"]["optimizer"] == {"name": "sgd", "lr": 0.02, "momentum": 0.9}


@pytest.mark.workflow
def test_the_documented_override_works_on_a_study_file_without_an_optimizer(tmp_path):
    study = tmp_path / "plain.yaml"
    study.write_text(
        "datasets:\n  T:\n    source: phantom\n    phantom: {kind: thorax, cases: 6, seed: 1}\n"
    )
    override = 'training={"iterations": 10, "optimizer": {"lr": 0.02}}'
    out = _dry_run("--configfile", str(study), "--directory", str(tmp_path),
                   "--snakefile", str(REPO / "Snakefile"), "--config", override)  # fmt: skip
    assert out.returncode == 0, out.stderr


@pytest.mark.workflow
def test_an_alias_bomb_and_yte_code_stop_the_run_in_one_line(tmp_path):
    from test_config_hostile import _bomb

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_bomb(9))  # aliased lists: Snakemake keeps them shared, kdseg refuses them
    code = tmp_path / "code.yaml"
    code.write_text("__use_yte__: true\nstudy: ?'co' + 'de'\ndatasets:\n  T: {source: phantom}\n")
    for study, message in (
        (bomb, f"invalid config: {bomb}: its aliases expand it to more than 100000 values"),
        (code, f"invalid config: {code}: '__use_yte__' asks Snakemake to run the file's"),
    ):
        out = _dry_run("--configfile", str(study), "--directory", str(tmp_path),
                       "--snakefile", str(REPO / "Snakefile"))  # fmt: skip
        assert out.returncode != 0
        assert message in out.stdout + out.stderr
    assert not (tmp_path / "results").exists()
