"""Every script in benchmarks/ runs on a tiny input, so that none silently rots (nothing is
timed: the outputs' shape is checked, not their numbers)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, make_tiny, own_dataset

from kdseg import config as kdcfg

pytestmark = pytest.mark.workflow
BENCHMARKS = REPO / "benchmarks"
TESTED = {
    "demo_stages.py",
    "evaluate_scale.py",
    "gpu_check.py",
    "inference.py",
    "learning_curves.py",
    "loader.py",
    "memory_layout.py",
    "study_cost.py",
    "train_throughput.py",
    "workflow_parse.py",
}
STUDENT = "Own/students/kd/diverse/unet/seed1/model.pt"


def run(script: str, *args: str, cwd: Path = REPO) -> str:
    """Run a benchmark script with this checkout's kdseg; its standard output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, str(BENCHMARKS / script), *args]
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"{script}: {res.stderr[-3000:]}"
    return res.stdout


def table_rows(out: str) -> list[list[str]]:
    """The rows of a printed Markdown table (without its header and rule)."""
    rows = [line.strip("|").split(" | ") for line in out.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[1:]]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(work folder, study file) of a finished tiny study: two teachers, their ensemble's
    soft labels and its student, run through the Snakemake CLI."""
    work = tmp_path_factory.mktemp("bench_study")
    own = make_tiny(work / "Dataset007_Own", "thorax", cases=5)
    config = {
        "study": "tiny",
        "threads": 1,
        "datasets": {"Own": own_dataset(own)},
        "training": {
            "iterations": 4,
            "batch_size": 2,
            "validate_every": 2,
            "checkpoint_every": 2,
            "log_every": 2,
        },
        "architectures": {
            "dilated": {
                "network": "dilated2d",
                "kwargs": {"features": 4, "dilations": [1, 2, 1], "head": [8]},
                "patch": [13, 13],
            },
            "unet": {"network": "unet3d", "kwargs": {"features": [4, 8]}, "patch": [16, 16, 16]},
        },
        "ensembles": {
            "diverse": {"architectures": ["dilated", "unet"], "losses": ["ce"], "seeds": [1]}
        },
        "students": {"kd": {"ensembles": ["diverse"], "architecture": "unet"}},
        "baselines": {"architectures": ["unet"], "loss": "ce", "seeds": [1]},
    }
    study = work / "study.yaml"
    study.write_text(yaml.safe_dump(config))
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    cmd = [snakemake, "--snakefile", str(REPO / "Snakefile"), "--directory", str(work),
           "--configfile", str(study), "--cores", "2", f"results/tiny/{STUDENT}"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-4000:]
    return work, study


def test_every_benchmark_script_has_a_tiny_run():
    assert {p.name for p in BENCHMARKS.glob("*.py")} == TESTED


def test_train_throughput_covers_the_three_architectures_with_the_default_settings():
    out = run("train_throughput.py", "--tiny")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line.strip()}
    assert set(rows) == {"dilated", "unet", "resnet"}, out
    assert [rows[a][1] for a in ("dilated", "unet", "resnet")] == [
        "dilated2d", "unet3d", "resnet3d"]  # fmt: skip
    for row in rows.values():
        plain, ours = float(row[4]), float(row[5])
        assert plain > 0 and ours > 0
        assert re.fullmatch(r"\d+\.\d%", row[7]), row


def test_train_throughput_compares_loader_worker_counts():
    out = run("train_throughput.py", "--tiny", "--workers", "0,1", "--architectures", "dilated")
    assert out.splitlines()[1].endswith("with loader workers 0, 1"), out
    row = out.splitlines()[2]
    assert re.fullmatch(r"dilated +dilated2d +[\d.]+ \(1\.00\) +[\d.]+ \([\d.]+\)", row), out


def test_loader_prints_workers_for_every_paper_network():
    out = run("loader.py", "--tiny")
    assert "expected_epoch_times.md" in out  # the GPU step's source is named
    rows = {row[0]: row for row in table_rows(out)}
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    assert set(paper["architectures"]) <= set(rows), out
    assert "rotated on the training device, here timed on" in out
    for row in rows.values():
        plain, rotated, cut = float(row[5]), float(row[6]), float(row[7])
        rotation, step = float(row[8]), float(row[9])
        assert plain > 0 and rotated > 0 and cut > 0 and rotation > 0 and step > 0
        assert all(int(workers) >= 1 for workers in row[10:13])


def test_memory_layout_runs_each_network():
    out = run("memory_layout.py", "--steps", "1", "--repeats", "1")
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == ["unet3d", "resnet3d", "dilated2d"], out


def test_study_cost_counts_the_paper_jobs_and_says_what_is_unplanned():
    out = run("study_cost.py", "--steps", "1", "--batch-size", "1", "--device", "cpu")
    assert "networks to train" in out and "total:" in out
    assert "not planned yet" in out  # no plans.json of the paper study here
    assert re.search(r"dilated\s+88,069\s+\d+", out), out


def test_study_cost_of_a_planned_study(tiny_study):
    work, study = tiny_study
    out = run("study_cost.py", "--configfile", str(study), "--steps", "1", "--device", "cpu",
              cwd=work)  # fmt: skip
    assert "not planned yet" not in out
    assert re.search(r"Own\s+unet\s+[\d,]+\s+\d+\s+[\d.]+", out), out


def test_gpu_check_rehearses_on_the_cpu(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    cmd = [str(BENCHMARKS / "gpu_check"), "--device", "cpu", "--tiny", "--out", str(tmp_path)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["ok"] and report["environment"]["device"] == "cpu"
    study = report["study"]
    for arch in ("dilated", "unet"):  # the same study on the same device: the same run
        assert study["device"][arch]["losses"] == study["cpu"][arch]["losses"]
        assert len(study["cpu"][arch]["losses"]) == 4
        assert study["device"][arch]["gpu_slot"] == "0"  # claimed through the profile
        assert study["cpu"][arch]["gpu_slot"] is None
        job = study["device"][arch]["predict_job"]  # the fixed cost of a prediction job
        assert job["startup"] > 0 and job["warmup"] > 0 and job["startup"] < job["seconds"], job
    paper = kdcfg.load_config(str(REPO / "config" / "paper.yaml"))
    rows = {r["architecture"]: r for r in report["networks"]}
    assert set(rows) == set(paper["architectures"])
    for r in rows.values():
        assert r["step_s"] > 0 and r["loop_s_per_it"] > 0 and 0 <= r["data_wait"] < 1
    hours = report["hours"]
    assert hours["jobs"] == sum(e["jobs"] for e in hours["per_architecture"].values()) > 0
    assert hours["loop_hours"] > 0 and hours["step_hours"] > 0
    tables = table_rows((tmp_path / "gpu_check.md").read_text())
    assert len(tables) == 2 + 1 + len(rows), tables  # teachers; the second table's header; nets
    assert res.stdout.endswith((tmp_path / "gpu_check.md").read_text() + "\n")


def test_workflow_parse_times_the_four_dry_runs():
    out = run("workflow_parse.py", "--repeats", "1")
    assert len(table_rows(out)) == 4, out


def test_demo_stages_reads_a_finished_run(tiny_study):
    """Every job of the tiny study is timed to 0.01 s by its own log; a newer log without jobs
    (a report's, a dry run's) is passed over."""
    work, _ = tiny_study
    newer = work / ".snakemake" / "log" / "9999-12-31T000000.000000.snakemake.log"
    newer.write_text("Building DAG of jobs...\nNothing to be done.\n")
    try:
        out = run("demo_stages.py", "--workdir", str(work), "--import-repeats", "1")
    finally:
        newer.unlink()
    # rule, jobs, jobs timed by their own logs: the tiny study's two teachers, its student
    assert re.search(r"^train_teacher\s+2\s+2\s", out, re.M), out
    assert re.search(r"^train_student\s+1\s+1\s", out, re.M), out
    timed = re.search(r"job seconds \d+ \(summed over jobs; (\d+) of (\d+) timed to 0.01 s", out)
    assert timed and timed[1] == timed[2], out
    assert re.search(r"start-up \d+ s = [\d.]+%; with warm-up [\d.]+%", out), out


def test_evaluate_scale_prints_the_fixed_share():
    out = run("evaluate_scale.py", "--shape", "32", "32", "12", "--spacing", "3", "3", "3",
              "--cases", "4", "--repeats", "1")  # fmt: skip
    assert "case 32x32x12 at 3.0x3.0x3.0 mm" in out, out
    assert re.search(r"work per case [\d.]+ s; .* over 4 cases the fixed share is [\d.]+%", out)


def test_inference_compares_the_student_with_its_ensemble(tiny_study):
    work, study = tiny_study
    out = run("inference.py", "--configfile", str(study), "--dataset", "Own", "--steps", "2",
              "--repeats", "1", "--device", "cpu", cwd=work)  # fmt: skip
    assert "inference over 1 test cases (2 members)" in out, out
    assert re.search(r"distillation [\d.]+ ms/step {2}ratio [\d.]+", out), out


def test_learning_curves_trains_the_baseline_and_the_student(tiny_study):
    work, study = tiny_study
    csv = work / "curves.csv"
    run("learning_curves.py", "--study", str(work / "results" / "tiny"), "--configfile",
        str(study), "--budgets", "2", "--out", str(csv), cwd=work)  # fmt: skip
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("dataset,model")
    models = [line.split(",")[1] for line in lines[1:]]
    assert models == ["ensemble diverse", "baseline", "student"], lines
