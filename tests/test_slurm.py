"""profiles/slurm: its settings from environment variables, seen by a fake ``sbatch``; and the
workflow on a real one-node SLURM (tests/slurm/setup.sh).

The real-SLURM tests run where root is available (CI: yes); elsewhere skipped with the reason.
Fake GPUs are declared to SLURM (gres on character devices), so GPU requests are scheduled for
real while the networks train on the CPU.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, make_tiny
from test_workflow import snakemake, snakemake_command, teacher_config

SLURM = REPO / "tests" / "slurm"
PROFILE = REPO / "profiles" / "slurm"
SETTINGS = ("KDSEG_SLURM_ACCOUNT", "KDSEG_SLURM_PARTITION", "KDSEG_SLURM_GPU_PARTITION")


@pytest.fixture(scope="module")
def slurm():
    """A running one-node SLURM (set up once for the module, torn down after); the profile's
    partitions set for it (its partition ``debug``) through the environment."""
    if os.geteuid() != 0:
        pytest.skip("needs root to install and start SLURM (tests/slurm/setup.sh)")
    setup = subprocess.run(["bash", str(SLURM / "setup.sh")], capture_output=True, text=True)
    if setup.returncode != 0:
        pytest.fail(f"tests/slurm/setup.sh failed:\n{setup.stdout}\n{setup.stderr}")
    with pytest.MonkeyPatch.context() as env:
        env.delenv("KDSEG_SLURM_ACCOUNT", raising=False)
        env.setenv("KDSEG_SLURM_PARTITION", "debug")
        env.setenv("KDSEG_SLURM_GPU_PARTITION", "debug")
        yield
    subprocess.run(["bash", str(SLURM / "teardown.sh")], capture_output=True)


def profile_copy(tmp_path: Path) -> Path:
    """profiles/slurm as it is: nothing to fill in, its settings come from the environment."""
    return PROFILE


# Stand-ins for SLURM's commands: sbatch writes its arguments to $FAKE_SLURM_LOG/<pid>.args and
# fails (nothing runs); the queries that the SLURM plugin makes answer as a small cluster.
FAKE_TOOLS = {
    "sbatch": """printf '%s\\n' "$@" > "$FAKE_SLURM_LOG/$$.args"
echo "fake sbatch: submission recorded" >&2
exit 1""",
    "sinfo": 'printf "PARTITION\\nsite-default*\\nother\\n"',
    "scontrol": 'printf "MaxArraySize = 1001\\nMinJobAge = 300 sec\\n"',
    "sacctmgr": 'printf "%s\\n" "${FAKE_SLURM_ACCOUNTS:-}"',
    "sshare": 'printf "%s\\n" "${FAKE_SLURM_ACCOUNTS:-}"',
    "sacct": "exit 0",
    "squeue": "exit 0",
    "scancel": "exit 0",
}

SNAKEFILE = """
rule all:
    input: "gpu.txt", "cpu.txt"

rule train_teacher:
    output: "gpu.txt"
    shell: "touch {output}"

rule preprocess:
    output: "cpu.txt"
    shell: "touch {output}"
"""


def fake_sbatch_calls(
    tmp_path: Path, env: dict[str, str], snakefile: str = SNAKEFILE
) -> list[list[str]]:
    """The sbatch arguments of each job of ``snakefile`` run with profiles/slurm under ``env``
    (added to a clean set of KDSEG_SLURM_*)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "sbatch"
    for folder in (bin_dir, log, tmp_path / "work"):
        folder.mkdir(parents=True)
    for name, body in FAKE_TOOLS.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    (tmp_path / "Snakefile").write_text(snakefile)
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    res = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "--snakefile",
         str(tmp_path / "Snakefile"), "--directory", str(tmp_path / "work"), "--profile",
         str(PROFILE), "--retries", "0", "--slurm-init-seconds-before-status-checks", "1"],
        capture_output=True, text=True,
        env={**clean, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
             "FAKE_SLURM_LOG": str(log), **env},
    )  # fmt: skip
    calls = [f.read_text().splitlines() for f in log.iterdir()]
    assert res.returncode != 0 and calls, (res.stdout + res.stderr)[-4000:]  # sbatch failed
    return calls


def fake_submissions(tmp_path: Path, env: dict[str, str]) -> dict[str, list[str]]:
    """{rule: its sbatch arguments} of a two-rule workflow (a GPU rule of the profile and a CPU
    rule) run with profiles/slurm under ``env``."""
    calls = fake_sbatch_calls(tmp_path, env)
    by_rule = {args[args.index("--comment") + 1]: args for args in calls}
    assert sorted(by_rule) == ["rule_preprocess", "rule_train_teacher"], calls
    return by_rule


def option(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


def test_account_and_partitions_come_from_the_environment(tmp_path):
    calls = fake_submissions(
        tmp_path,
        {"KDSEG_SLURM_ACCOUNT": "proj-42", "KDSEG_SLURM_PARTITION": "cpu-q",
         "KDSEG_SLURM_GPU_PARTITION": "gpu-q", "FAKE_SLURM_ACCOUNTS": "proj-42"},
    )  # fmt: skip
    gpu, cpu = calls["rule_train_teacher"], calls["rule_preprocess"]
    assert (option(gpu, "-A"), option(gpu, "-p")) == ("proj-42", "gpu-q")
    assert (option(cpu, "-A"), option(cpu, "-p")) == ("proj-42", "cpu-q")


def test_without_the_environment_slurm_decides_and_gpu_jobs_follow_the_cpu_partition(
    tmp_path,
):
    calls = fake_submissions(tmp_path / "unset", {})  # no account to guess: none given
    for args in calls.values():
        assert option(args, "-A") is None and option(args, "-p") == "site-default"
    calls = fake_submissions(tmp_path / "one", {"KDSEG_SLURM_PARTITION": "shared"})
    assert {option(args, "-p") for args in calls.values()} == {"shared"}


# predict and evaluate as the workflow declares them (predict's resources: the study file's)
PREDICT_EVALUATE = """
rule all:
    input: "metrics/a.csv", "metrics/b.csv"

rule predict:
    output: directory("predictions/{model}")
    threads: 4
    resources: gpu=1, mem_mb=1000, runtime=30
    shell: "mkdir {output}"

rule evaluate:
    input: "predictions/{model}"
    output: "metrics/{model}.csv"
    resources: mem_mb=4000, runtime=30
    shell: "touch {output}"
"""


PARTITIONS = {"KDSEG_SLURM_PARTITION": "cpu-q", "KDSEG_SLURM_GPU_PARTITION": "gpu-q"}


def test_by_default_predict_and_evaluate_are_jobs_of_their_own(tmp_path):
    """Each predict job is submitted alone, on the GPU partition (its evaluate would follow as
    a CPU job; the fake sbatch fails, so none does)."""
    calls = fake_sbatch_calls(tmp_path, PARTITIONS, PREDICT_EVALUATE)
    wraps = [next(arg for arg in args if arg.startswith("--wrap=")) for args in calls]
    jobs = sorted(re.search(r"--target-jobs (.*?) --", w).group(1) for w in wraps)
    assert jobs == ["'predict:model=a'", "'predict:model=b'"], jobs
    for args in calls:
        assert option(args, "-p") == "gpu-q" and "--gpus=1" in args, args


def test_a_wrong_group_switch_is_named(tmp_path):
    res = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "--profile", str(PROFILE), "-n"],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "KDSEG_SLURM_GROUP_EVALUATE": "maybe"},
    )  # fmt: skip
    assert res.returncode != 0
    assert "KDSEG_SLURM_GROUP_EVALUATE='maybe': use 1 (on) or 0 (off)" in res.stderr, res.stderr


def test_grouped_a_models_predict_and_evaluate_are_one_job_with_one_gpu(tmp_path):
    calls = fake_sbatch_calls(
        tmp_path, {**PARTITIONS, "KDSEG_SLURM_GROUP_EVALUATE": "1"}, PREDICT_EVALUATE
    )
    wraps = [next(arg for arg in args if arg.startswith("--wrap=")) for args in calls]
    jobs = sorted(sorted(re.search(r"--target-jobs (.*?) --", w).group(1).split()) for w in wraps)
    assert jobs == [
        ["'evaluate:model=a'", "'predict:model=a'"],
        ["'evaluate:model=b'", "'predict:model=b'"],
    ]  # one job per model, nothing else submitted
    for args in calls:
        assert (option(args, "-p"), option(args, "--mem"), option(args, "-t")) == (
            "gpu-q", "4000", "60"  # the larger memory, the runtimes added
        )  # fmt: skip
        assert "--gpus=1" in args and "--cpus-per-gpu=4" in args, args


SLURM_ARGS = (
    "--slurm-no-account",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "1",
)


def on_slurm(tmp_path: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    return snakemake(tmp_path, config, "--profile", str(profile_copy(tmp_path)), *SLURM_ARGS, *args)


def gpu_config(tmp_path: Path, iterations: int = 8) -> dict:
    config = teacher_config(make_tiny(tmp_path / "own"))
    config["datasets"].pop("Own")
    config["training"]["iterations"] = iterations
    config["resources"] = {
        "train": {"gpu": 1, "mem_mb": 1000, "runtime": 30},
        "predict": {"gpu": 1, "mem_mb": 1000, "runtime": 30},
    }
    return config


def prepare_data(work: Path, config: dict) -> None:
    """The data stages, run locally (each SLURM round trip costs seconds; the GPU jobs are
    what these tests send to SLURM)."""
    res = snakemake(work, config, "results/tiny/Heart/preprocessed")
    assert res.returncode == 0, res.stderr[-2000:]


STUDENT = "results/tiny/Heart/students/kd/uniform/unet/seed1/model.pt"


def test_gpu_jobs_of_a_tiny_study_run_on_slurm(slurm, tmp_path):
    """Two teachers, their ensemble's soft labels and the student, as SLURM jobs."""
    config = gpu_config(tmp_path)
    config["ensembles"] = {"uniform": config["ensembles"]["uniform"]}
    config["students"] = {"kd": {"ensembles": ["uniform"], "architecture": "unet"}}
    prepare_data(tmp_path, config)
    res = on_slurm(tmp_path, config, STUDENT)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    study = tmp_path / "results" / "tiny"
    assert (tmp_path / STUDENT).is_file()
    assert (study / "Heart" / "ensembles" / "uniform" / "soft_labels").is_dir()
    # GPU jobs ran as SLURM jobs with one of the declared GPUs each
    logs = list((study / "logs" / "train").rglob("*.log"))
    assert len(logs) == 3  # two teachers and the student
    for log in logs:
        assert "SLURM job" in log.read_text(), log
        assert "CUDA_VISIBLE_DEVICES=0" in log.read_text() or "CUDA_VISIBLE_DEVICES=1" in (
            log.read_text()
        )


def test_predict_and_evaluate_of_a_model_run_as_one_slurm_job(slurm, tmp_path, monkeypatch):
    """Grouped (KDSEG_SLURM_GROUP_EVALUATE=1): each teacher's predict and evaluate, one SLURM
    job with one GPU; the ensemble's predictions and their evaluation: jobs of their own (its
    members stay apart)."""
    config = gpu_config(tmp_path)
    config["ensembles"] = {"uniform": config["ensembles"]["uniform"]}
    config["students"] = {}
    prepare_data(tmp_path, config)
    monkeypatch.setenv("KDSEG_SLURM_GROUP_EVALUATE", "1")
    teachers = ["teachers/unet-ce/seed1", "teachers/unet-ce/seed2"]
    trained = snakemake(tmp_path, config, *[f"results/tiny/Heart/{t}/model.pt" for t in teachers])
    assert trained.returncode == 0, trained.stderr[-2000:]  # trained here: not what is tested
    models = [*teachers, "ensembles/uniform"]
    res = on_slurm(tmp_path, config, *[f"results/tiny/Heart/metrics/{m}.csv" for m in models])
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    for model in models:
        assert (tmp_path / f"results/tiny/Heart/metrics/{model}.csv").is_file()

    def slurm_job(step: str, model: str) -> str:
        log = (tmp_path / f"results/tiny/logs/{step}/Heart/{model}.log").read_text()
        found = re.findall(r"SLURM job (\d+) on \S+, CUDA_VISIBLE_DEVICES=(\S*)", log)
        assert len(found) == 1, log
        return found[0]

    groups = set()
    for teacher in teachers:
        (job, gpus), evaluated = slurm_job("predict", teacher), slurm_job("evaluate", teacher)
        assert evaluated[0] == job and gpus in ("0", "1")
        groups.add(job)
        request = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True)
        assert "TresPerJob=gres:gpu:1" in request.stdout, request.stdout  # kept: MinJobAge
        assert "CpusPerTres=gres:gpu:4" in request.stdout, request.stdout
    ensemble = {slurm_job(step, "ensembles/uniform")[0] for step in ("predict", "evaluate")}
    assert len(groups) == 2 and len(ensemble) == 2 and not groups & ensemble


def _model_weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_cancelled_training_resumes_and_ends_with_uninterrupted_weights(slurm, tmp_path):
    """scancel a teacher's training mid-way; the re-run resumes from its checkpoint and ends
    with the weights of a run that was never interrupted (CPU: bit for bit)."""
    config = gpu_config(tmp_path / "slurm", iterations=200)
    config["training"].update({"checkpoint_every": 10, "validate_every": 100, "log_every": 20})
    target = "results/tiny/Heart/teachers/unet-ce/seed1/model.pt"
    work = tmp_path / "slurm"
    prepare_data(work, config)
    first = subprocess.Popen(
        snakemake_command(
            work,
            config,
            "--profile",
            str(profile_copy(tmp_path)),
            *SLURM_ARGS,
            "--retries",
            "0",
            target,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    checkpoint = work / "results/tiny/Heart/teachers/unet-ce/seed1/checkpoint.pt"
    while not checkpoint.exists() and first.poll() is None:  # no time limit: SLURM may be slow
        time.sleep(0.2)
    assert checkpoint.exists(), "the training never wrote a checkpoint"
    jobs = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True)
    assert jobs.stdout.split(), "no SLURM job to cancel"
    subprocess.run(["scancel", *jobs.stdout.split()], check=True)
    out, _ = first.communicate()
    assert first.returncode != 0, out[-2000:]
    assert not (work / target).exists()
    assert checkpoint.exists()

    again = on_slurm(work, config, target)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    log = (work / "results/tiny/logs/train/Heart/teachers/unet-ce/seed1.log").read_text()
    assert "resuming from" in log

    plain = tmp_path / "plain"
    plain.mkdir()
    reference = snakemake(plain, config, target)
    assert reference.returncode == 0, reference.stderr[-2000:]
    resumed, whole = _model_weights(work / target), _model_weights(plain / target)
    assert resumed.keys() == whole.keys()
    for key in whole:
        assert torch.equal(resumed[key], whole[key]), key
