"""Project hygiene that CI must keep: pinned environments agree, lint is clean."""

import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO

BIN = Path(sys.executable).parent


def _pins(lines):
    return sorted(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def test_conda_env_pins_equal_requirements():
    reqs = _pins((REPO / "envs" / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((REPO / "envs" / "kdseg.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(pip) == reqs
    assert "torch==2.13.0" in reqs


def test_ruff_and_snakefmt_clean():
    paths = [
        str(REPO / p) for p in ("src", "tests", "workflow", "benchmarks") if (REPO / p).exists()
    ]
    assert subprocess.run([BIN / "ruff", "check", *paths], capture_output=True).returncode == 0
    res = subprocess.run(
        [BIN / "ruff", "format", "--check", *paths], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout
    res = subprocess.run(
        [BIN / "snakefmt", "--check", REPO / "Snakefile", REPO / "rules"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr


def test_snakemake_lint_clean(tmp_path):
    res = subprocess.run(
        [
            BIN / "snakemake",
            "--lint",
            "--snakefile",
            REPO / "Snakefile",
            "--directory",
            tmp_path,
            "--configfile",
            REPO / "config" / "config.yaml",
            "--cores",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and "Congratulations" in res.stdout + res.stderr, res.stdout[-3000:]


def test_paper_config_describes_the_paper_study(tmp_path):
    """config/paper.yaml passes the schema and the workflow's checks (datasets stubbed)."""
    from kdseg import config as kdcfg

    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    for name, ds in paper["datasets"].items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "dataset.json").write_text("{}")
        ds["path"] = str(tmp_path / name)
    stubbed = tmp_path / "paper.yaml"
    stubbed.write_text(yaml.safe_dump(paper))
    config = kdcfg.load_config(stubbed)
    assert set(config["datasets"]) == {"SegTHOR", "Brain", "ACDC"}
    assert len(kdcfg.ensemble_members(config, "diverse")) == 6
    assert len(kdcfg.ensemble_members(config, "uniform")) == 6
    # 11 (unet-ce seed 1 is in both ensembles, and is the other methods' teacher) + 3 limit-trained
    assert len(kdcfg.teacher_models(config)) == 14
    methods = {entry["method"] for entry in config["students"].values()}
    assert methods == {"kd", "feature", "adaptive", "online", "assistant"}
    # the assistant method's students at about 8% and 2% of the teacher's parameters
    widths = {a: config["architectures"][a]["kwargs"]["features"] for a in ("unet_s8", "unet_s2")}
    assert widths == {"unet_s8": [9, 18, 36, 72], "unet_s2": [5, 10, 20, 40]}
    training = config["training"]
    assert (training["iterations"], training["batch_size"]) == (100000, 40)
    assert config["students"]["kd"]["soft_loss"] == "mse"
    assert config["students"]["kd"]["hard_weight"] == 0.1
    assert config["resources"]["train"]["gpu"] == 1
