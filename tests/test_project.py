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


def test_job_environment_holds_no_development_tools():
    reqs = {p.split("==")[0].lower() for p in
            _pins((REPO / "envs" / "requirements.txt").read_text().splitlines())}  # fmt: skip
    dev = _pins((REPO / "envs" / "requirements-dev.txt").read_text().splitlines())
    assert dev[0] == "-r requirements.txt"
    assert not reqs & {"pytest", "pytest-xdist", "ruff", "black", "snakefmt",
                       "snakemake-executor-plugin-slurm"}  # fmt: skip
    assert "snakemake" in reqs  # job scripts receive Snakemake's `snakemake` object
    assert not reqs & {p.split("==")[0].lower() for p in dev[1:]}  # each pin in one file


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


def test_paper_config_describes_the_paper_study():
    """config/paper.yaml passes the schema and the workflow's checks without any data."""
    from kdseg import config as kdcfg

    config = kdcfg.load_config(REPO / "config" / "paper.yaml")
    sources = {name: ds["source"] for name, ds in config["datasets"].items()}
    assert sources == {
        "SegTHOR": "segthor",
        "Brain": "mrbrains18",
        "ACDC": "acdc",
        "Prostate": "multisite_prostate",
        "Liver": "msd_liver",
    }
    assert len(kdcfg.ensemble_members(config, "diverse")) == 6
    assert len(kdcfg.ensemble_members(config, "uniform")) == 6
    teachers = {ds: kdcfg.teacher_models(kdcfg.dataset_view(config, ds)) for ds in sources}
    # 11 per paper dataset: unet-ce seed 1 is in both ensembles
    assert [len(teachers[ds]) for ds in ("SegTHOR", "Brain", "ACDC")] == [11, 11, 11]
    assert len(teachers["Prostate"]) == 1 + 3  # one teacher, three limit-trained
    assert teachers["Liver"] == ["teachers/unet-ce/seed1"]
    methods = {
        ds: {entry["method"] for entry in kdcfg.dataset_view(config, ds)["students"].values()}
        for ds in sources
    }
    assert methods["SegTHOR"] == {"kd", "online"}
    assert methods["Prostate"] == {"kd", "feature", "adaptive"}
    assert methods["Liver"] == {"kd", "assistant"}
    # the assistant method's students at about 8% and 2% of the teacher's parameters
    widths = {a: config["architectures"][a]["kwargs"]["features"] for a in ("unet_s8", "unet_s2")}
    assert widths == {"unet_s8": [9, 18, 36, 72], "unet_s2": [5, 10, 20, 40]}
    training = config["training"]
    assert (training["iterations"], training["batch_size"]) == (100000, 40)
    assert config["students"]["kd"]["soft_loss"] == "mse"
    assert config["students"]["kd"]["hard_weight"] == 0.1
    assert config["resources"]["train"]["gpu"] == 1
