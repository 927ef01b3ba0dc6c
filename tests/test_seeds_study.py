"""The seeds study (config/seeds.yaml): the default study with students and baselines at
several seeds; and a tiny seeds study through the real Snakemake CLI to its tables over seeds."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import REPO, make_tiny
from test_workflow import snakemake, teacher_config


def _leaves(value, path=()):
    """{key path: value} of every leaf of a nested mapping (lists are leaves)."""
    if isinstance(value, dict):
        return {k: v for key, sub in value.items() for k, v in _leaves(sub, (*path, key)).items()}
    return {path: value}


def test_the_seeds_study_is_the_default_study_with_students_and_baselines_at_seeds_1_to_3():
    """(and the abdomen phantom, a dataset unlike the default study's)"""
    default = _leaves(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    seeds = _leaves(yaml.safe_load((REPO / "config" / "seeds.yaml").read_text()))
    # plus one dataset unlike the phantoms of the default study
    added = {path for path in seeds if path[:2] == ("datasets", "Abdomen")}
    assert seeds[("datasets", "Abdomen", "phantom", "kind")] == "abdomen"
    seeds = {path: value for path, value in seeds.items() if path not in added}
    assert set(default) == set(seeds)
    differ = {path for path in default if default[path] != seeds[path]}
    students = {p for p in differ if len(p) == 3 and p[0] == "students" and p[2] == "seeds"}
    assert differ == {("study",), ("baselines", "seeds"), *students}
    assert students == {("students", name, "seeds") for name in seeds_study()["students"]}
    assert all(seeds[path] == [1, 2, 3] for path in differ - {("study",)})


def seeds_study() -> dict:
    return yaml.safe_load((REPO / "config" / "seeds.yaml").read_text())


@pytest.mark.workflow
def test_a_tiny_seeds_study_runs_to_its_tables_over_seeds(tmp_path):
    """One tiny phantom; a uniform ensemble of two U-Net-CE seeds, its kd student and the
    baseline at seeds 1 and 2 (the baselines are the ensemble's teachers, reused)."""
    config = teacher_config(make_tiny(tmp_path / "Dataset007_Own", "thorax", cases=5))
    del config["datasets"]["Heart"]
    del config["architectures"]["dilated"]
    config["training"]["iterations"] = 4
    config["ensembles"] = {"uniform": {"architectures": ["unet"], "losses": ["ce"],
                                       "seeds": [1, 2]}}  # fmt: skip
    config["students"]["kd"].update(ensembles=["uniform"], seeds=[1, 2])
    config["baselines"]["seeds"] = [1, 2]
    res = snakemake(tmp_path, config)
    assert res.returncode == 0, res.stderr[-4000:]
    tables = tmp_path / "results" / "tiny" / "tables"
    student, baseline = "students/kd/uniform/unet", "baselines/unet-ce"
    summaries = ["mean over seeds", "worst seed", "spread over seeds"]
    study = pd.read_csv(tables / "study_Own.csv")["model"].tolist()
    for kind in (student, baseline, "teachers/unet-ce"):
        assert [m for m in study if m.startswith(kind + "/")] == [
            f"{kind}/seed1", f"{kind}/seed2", *(f"{kind}/{s}" for s in summaries)]  # fmt: skip
    students = pd.read_csv(tables / "students_Own.csv").set_index("model")
    assert students.loc[f"{student}/mean over seeds", "baseline"] == f"{baseline}/mean over seeds"
    assert f"{baseline}/spread over seeds" in students.index
    statistics = pd.read_csv(tables / "statistics_Own.csv", dtype={"seeds": str})
    dice = statistics[(statistics["structure"] == "mean") & (statistics["metric"] == "dice")]
    versus = dice[dice["comparison"] == "student vs baseline"]
    assert versus["seeds"].tolist() == ["1", "2", "mean"]
    assert versus["model_a"].tolist()[-1] == f"{student}/mean over seeds"
    assert "over training seeds" in (tables / "findings_Own.html").read_text()
    again = snakemake(tmp_path, config, "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr
