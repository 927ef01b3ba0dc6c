"""The GPU check: everything a first GPU machine should tell the project, in one call.

1. Environment: Python, torch (against the pin in envs/requirements.txt), its CUDA build, the
   device, snakemake and monai. ``--wheels DIR`` first installs the wheels in DIR (no index,
   no dependencies) into a temporary folder put before everything else on the path: the way to
   bring kdseg's pinned packages to a machine without internet (``--download-wheels DIR``
   fetches them on a machine with PyPI: the pins that the GPU machine's image lacks, see
   GPU_IMAGE_HAS; torch stays the image's CUDA build, since the pinned CUDA wheel and its
   NVIDIA libraries are gigabytes).
2. A tiny study (two teachers on a phantom, their predictions and metrics) through the
   Snakemake CLI twice: on the CPU without a profile, and on ``--device`` with AMP through the
   gpu-workstation profile (``--resources gpu=N``; every training job claims a GPU slot and
   logs it). Their loss histories and test Dice agree within ``--loss-tolerance`` (relative)
   and ``--dice-tolerance`` (absolute), and both training jobs logged a GPU slot and the device.
3. The paper networks (config/paper.yaml, planned for a SegTHOR-sized stand-in as
   benchmarks/loader.py plans it) at their batch (40): seconds per training step on random
   input (benchmarks/study_cost.py's timing), and kdseg's training loop with the real sampler,
   the authors' rotation batched on the device (``training.rotate_on: device``) and the
   config's loader workers on one synthetic case (seconds per iteration, data wait, peak
   memory: CUDA's allocator on a GPU, the process's RSS on a CPU).
4. The paper study's training hours: its training jobs (study_cost.py's count, as the dry run)
   x iterations x the measured seconds per iteration (loop and step), each network's time
   applied to every dataset (the stand-in's plan, not each dataset's own).

Writes ``<out>/gpu_check.md`` (tables) and ``<out>/gpu_check.json`` and prints the tables;
exits 1 if a check failed (outputs written all the same).

    benchmarks/gpu_check --device cuda --wheels .whl --out OUT     # the GPU machine
    benchmarks/gpu_check --device cpu --out OUT [--tiny]            # the rehearsal on a CPU
    benchmarks/gpu_check --download-wheels .whl                      # here, with PyPI

``--tiny``: a 64 x 64 x 32 stand-in, batches of 2, 2 loop iterations, 4 training iterations in
the study (a check that it runs, not a measurement).
"""

from __future__ import annotations

import argparse
import atexit
import csv
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PINS = REPO / "envs" / "requirements.txt"
SITE_VAR = "KDSEG_GPU_CHECK_SITE"
# Pins of envs/requirements.txt that the GPU machine's image already holds (in other versions;
# /work/.library/device/KINDS.md, read 2026-11-17): not carried. Torch is its CUDA build there.
GPU_IMAGE_HAS = {
    "attrs", "certifi", "charset-normalizer", "contourpy", "cycler", "filelock", "fonttools",
    "formulaic", "fsspec", "idna", "interface-meta", "jinja2", "kiwisolver", "markupsafe",
    "matplotlib", "mpmath", "narwhals", "networkx", "numpy", "packaging", "pandas", "patsy",
    "pillow", "psutil", "pyparsing", "python-dateutil", "pyyaml", "requests", "scipy",
    "statsmodels", "sympy", "tabulate", "torch", "typing-extensions", "urllib3", "wrapt",
}  # fmt: skip
PLATFORM = ["--python-version", "3.12", "--implementation", "cp"] + [
    a for p in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                "manylinux2014_x86_64", "manylinux1_x86_64") for a in ("--platform", p)
]  # fmt: skip
LOSS_CHECKED = 10  # iterations whose losses must agree (later ones may drift apart)
STUDY_TARGETS = [
    f"results/check/Thorax/metrics/teachers/{a}-ce/seed1.csv" for a in ("dilated", "unet")
]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned() -> dict[str, str]:
    """Package -> pinned version (envs/requirements.txt)."""
    pins = {}
    for line in PINS.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("#")[0].strip().split("==")
            pins[norm(name)] = version
    return pins


def download_wheels(folder: Path) -> None:
    """Wheels of the pins the GPU image lacks, for Python 3.12 on x86-64 Linux; a pin without
    a wheel on PyPI is built into one here (pure Python)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = [f"{n}=={v}" for n, v in pinned().items() if n not in GPU_IMAGE_HAS]
    pip = [sys.executable, "-m", "pip"]
    for spec in wanted:
        got = subprocess.run([*pip, "download", "-q", "--no-deps", "--only-binary=:all:",
                              *PLATFORM, "-d", str(folder), spec])  # fmt: skip
        if got.returncode:
            subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(folder), spec], check=True)
    size = sum(p.stat().st_size for p in folder.glob("*.whl"))
    print(f"{folder}: {len(wanted)} pins, {size / 2**20:.1f} MiB of wheels")


def install_wheels(folder: Path) -> None:
    """Install the wheels into a temporary folder and run this script again with it first on
    the path (for this process and every Snakemake job it starts)."""
    wheels = sorted(str(p) for p in folder.glob("*.whl"))
    if not wheels:
        raise SystemExit(f"{folder}: no wheels to install")
    site = tempfile.mkdtemp(prefix="kdseg-site-")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                    "--no-compile", "--target", site, *wheels], check=True)  # fmt: skip
    env = dict(os.environ, **{SITE_VAR: site})
    env["PYTHONPATH"] = os.pathsep.join([site, str(REPO / "src"), env.get("PYTHONPATH", "")])
    os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], env)


def environment(device) -> dict:
    import torch

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "missing"

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_pin": pinned().get("torch"),
        "torch_cuda_build": torch.version.cuda,
        "snakemake": version("snakemake"),
        "monai": version("monai"),
        "device": str(device),
        "device_name": torch.cuda.get_device_name()
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "wheels_site": os.environ.get(SITE_VAR),
    }
    env["torch_matches_pin"] = env["torch"].split("+")[0] == env["torch_pin"]
    return env


# --- 2. the tiny study through the CLI -------------------------------------------------------


def study_config(device: str, iterations: int, gpu: int) -> dict:
    return {
        "study": "check",
        "threads": 1,
        "datasets": {
            "Thorax": {
                "source": "phantom",
                "phantom": {
                    "kind": "thorax",
                    "cases": 5,
                    "shape": [24, 24, 16],
                    "spacing": [6.0, 6.0, 6.0],
                },
                "preprocess": {"target_spacing": [6, 6, 6]},
                "splits": {"test": 1, "validation": 1},
            }
        },
        "training": {
            "iterations": iterations,
            "batch_size": 2,
            # lr 0.01: after 100 iterations the U-Net found the heart (Dice 0.82; CPU, 2026-12-07)
            "optimizer": {"name": "adam", "lr": 0.01},
            "validate_every": iterations,
            "checkpoint_every": iterations,
            "log_every": 1,
            "device": device,
            "amp": True,
            "loader_workers": 0,
        },
        "architectures": {
            "dilated": {
                "network": "dilated2d",
                "patch": [13, 13],
                "kwargs": {"features": 4, "dilations": [1, 2, 1], "head": [8]},
            },
            "unet": {"network": "unet3d", "kwargs": {"features": [4, 8]}, "patch": [16, 16, 16]},
        },
        "losses": {"ce": {"name": "ce"}},
        "ensembles": {
            "diverse": {"architectures": ["dilated", "unet"], "losses": ["ce"], "seeds": [1]}
        },
        "students": {},
        "baselines": {"architectures": [], "loss": "ce", "seeds": [1]},
        "resources": {"train": {"gpu": gpu}, "predict": {"gpu": gpu}},
    }


def run_study(work: Path, config: dict, profile: bool, gpus: int, env: dict) -> dict:
    """Run the tiny study in ``work``; its seconds, losses, Dice and jobs' device lines."""
    import yaml

    work.mkdir(parents=True)
    (work / "study.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", *STUDY_TARGETS, "--snakefile",
           str(REPO / "Snakefile"), "--directory", str(work), "--configfile",
           str(work / "study.yaml")]  # fmt: skip
    if profile:
        cmd += ["--profile", str(REPO / "profiles" / "gpu-workstation"), "--resources",
                f"gpu={gpus}"]  # fmt: skip
    cmd += ["--cores", str(min(4, os.cpu_count() or 1))]
    start = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    out = {"seconds": time.perf_counter() - start, "returncode": res.returncode}
    if res.returncode:
        out["error"] = res.stderr[-2000:]
        return out
    study = work / "results" / "check"
    for arch in ("dilated", "unet"):
        model = f"teachers/{arch}-ce/seed1"
        with open(study / "Thorax" / model / "training.csv") as f:
            losses = [float(r["loss"]) for r in csv.DictReader(f) if r["loss"]]
        with open(study / "Thorax" / "metrics" / f"{model}.csv") as f:
            dice = [float(r["dice"]) for r in csv.DictReader(f)]
        logs = study / "logs"
        log = (logs / "train" / "Thorax" / f"{model}.log").read_text()
        slot = re.search(r"GPU slot: CUDA_VISIBLE_DEVICES=(\S+)", log)
        on = re.search(r"parameters\) on (\S+),", log)
        out[arch] = {"losses": losses, "dice": sum(dice) / len(dice),
                     "gpu_slot": slot.group(1) if slot else None,
                     "trained_on": on.group(1) if on else None,
                     "predict_job": job_times(logs / "predict" / "Thorax" / f"{model}.log")
                     }  # fmt: skip
    return out


def job_times(log: Path) -> dict[str, float]:
    """A job's start-up, warm-up and whole life (s) as its own log states them (0 if absent)."""
    from kdseg.runtime.steps import TIMED_LINES, logged_times

    return {key: 0.0 for key in TIMED_LINES} | logged_times(log.read_text())


def study_check(args, device, work: Path) -> dict:
    """The tiny study on the CPU (reference) and on the device through the profile."""
    import torch

    iterations = 4 if args.tiny else args.study_iterations
    gpus = torch.cuda.device_count() if device.type == "cuda" else 1
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    if device.type != "cuda":
        env["KDSEG_GPUS"] = "0"  # rehearse the slot claim with one pretend GPU
    ref = run_study(work / "cpu", study_config("cpu", iterations, 0), False, 0, env)
    dev = run_study(work / "device", study_config(str(device), iterations, 1), True, gpus, env)
    result = {"iterations": iterations, "cpu": ref, "device": dev, "ok": False}
    if ref["returncode"] or dev["returncode"]:
        return result
    rows = []
    for arch in ("dilated", "unet"):
        a, b = ref[arch], dev[arch]
        diffs = [
            abs(x - y) / max(abs(x), 1e-8) for x, y in zip(a["losses"], b["losses"], strict=False)
        ]
        loss_diff = max(diffs[:LOSS_CHECKED])
        rows.append({
            "architecture": arch, "cpu_dice": a["dice"], "device_dice": b["dice"],
            "dice_diff": abs(a["dice"] - b["dice"]), "loss_rel_diff": loss_diff,
            "loss_rel_diff_all": max(diffs),
            "gpu_slot": b["gpu_slot"], "trained_on": b["trained_on"],
            "ok": loss_diff <= args.loss_tolerance
            and abs(a["dice"] - b["dice"]) <= args.dice_tolerance
            and b["gpu_slot"] is not None and b["trained_on"] == str(device)
            and len(a["losses"]) == len(b["losses"]) == iterations,
        })  # fmt: skip
    result["rows"] = rows
    result["ok"] = all(r["ok"] for r in rows)
    return result


# --- 3. the paper networks -------------------------------------------------------------------


def peak_memory_mib(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def loop_seconds(case, settings, training, batch: int, iterations: int, device, tmp: Path):
    """(seconds per iteration, data-wait fraction) of kdseg's loop with the real sampler, the
    authors' rotation batched on ``device`` (``training.rotate_on: device``; in the loader
    where MONAI augmentation steps follow it)."""
    import torch
    from loader import stand_in_sampler

    from kdseg.config.geometry import network_geometry
    from kdseg.errors import ConfigError
    from kdseg.models.losses import build_loss
    from kdseg.nets import build_network
    from kdseg.train.augmentation import Augmentation
    from kdseg.train.device_rotation import batch_rotation, rotation_on_device
    from kdseg.train.loop import TrainSettings, train
    from kdseg.train.placement import Sampling

    geometry = network_geometry(settings["network"], settings.get("kwargs") or {})
    sampling = Sampling.from_config(training.get("sampling", {}))
    augmentation = Augmentation.from_config(training.get("augmentation", {}))
    try:
        on_device = rotation_on_device("device", device, augmentation)
    except ConfigError:  # MONAI steps follow the rotation: it stays in the loader
        on_device = False
    sampler = stand_in_sampler(
        case, settings, sampling, geometry.valid_margin, batch, augmentation, on_device
    )
    torch.manual_seed(0)
    model = build_network(settings["network"], 1, 5, **settings.get("kwargs", {}))
    criterion = build_loss({"name": "ce"}, 5)
    loop = TrainSettings(
        iterations=iterations, batch_size=batch, checkpoint_every=10**9, log_every=10**9,
        optimizer=training["optimizer"], amp=bool(training.get("amp", True)),
        loader_workers=int(training.get("loader_workers", 1)),
        channels_last=bool(training.get("channels_last", True)),
    )  # fmt: skip
    ckpt = tmp / "check_checkpoint.pt"
    ckpt.unlink(missing_ok=True)
    result = train(model, sampler, lambda m, b: criterion(m(b["image"]), b["label"]), loop,
                   seed=1, checkpoint=ckpt, device=device,
                   on_device=batch_rotation(sampler))  # fmt: skip
    return result.seconds / iterations, result.data_wait_seconds / result.seconds


def network_times(args, device, tmp: Path) -> tuple[list[dict], dict]:
    """One row per paper architecture: step and loop seconds, data wait, peak memory."""
    import torch
    from loader import planned_config, synthetic_case
    from study_cost import step_seconds

    from kdseg import config as kdcfg

    plan_args = argparse.Namespace(
        configfile=args.configfile, study=None, dataset="SegTHOR", cases=4 if args.tiny else 40,
        image=[64, 64, 32] if args.tiny else [512, 512, 150], spacing=[1.0, 1.0, 2.5],
    )  # fmt: skip
    config, plan_source = planned_config(plan_args)
    case = synthetic_case(plan_args.image, plan_args.spacing, tmp)
    rows = []
    wanted = args.architectures.split(",") if args.architectures else list(config["architectures"])
    unknown = sorted(set(wanted) - set(config["architectures"]))
    if unknown:
        raise SystemExit(f"--architectures: {', '.join(unknown)} not in {args.configfile}")
    for arch in wanted:
        settings = kdcfg.trained_architecture(config, "SegTHOR", arch)
        training = kdcfg.training_settings(config, "SegTHOR", arch)
        batch = 2 if args.tiny else int(training["batch_size"])
        if args.tiny:  # small 3D patches and one loader worker: a check that it runs
            if len(settings["patch"]) == 3:
                settings = {**settings, "patch": [16, 16, 16]}
            training = {**training, "loader_workers": min(1, training.get("loader_workers", 1))}
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        step, params = step_seconds(settings, batch, device, 1 if args.tiny else args.steps)
        per_it, wait = loop_seconds(case, settings, training, batch, args.iterations, device, tmp)
        rows.append({
            "architecture": arch, "network": settings["network"], "parameters": params,
            "patch": settings["patch"], "batch": batch, "paper_batch": int(training["batch_size"]),
            "step_s": step, "loop_s_per_it": per_it, "data_wait": wait,
            "loader_workers": int(training.get("loader_workers", 1)),
            "peak_mib": peak_memory_mib(device),
        })  # fmt: skip
        print(f"  {arch}: step {step:.4f} s, loop {per_it:.4f} s/it, data wait {wait:.0%}",
              flush=True)  # fmt: skip
    return rows, {"plan": plan_source}


# --- 4. the study's hours --------------------------------------------------------------------


def study_hours(args, rows: list[dict]) -> dict:
    from study_cost import training_jobs

    from kdseg import config as kdcfg

    config = kdcfg.load_config(args.configfile)
    by_arch = {r["architecture"]: r for r in rows}
    jobs = training_jobs(config)
    per_arch: dict[str, dict] = {}
    unmeasured = 0
    for (ds, arch), count in sorted(jobs.items()):
        if arch not in by_arch:  # left out by --architectures
            unmeasured += count
            continue
        row = by_arch[arch]
        iterations = int(kdcfg.training_settings(config, ds, arch)["iterations"])
        scale = row["paper_batch"] / row["batch"]  # linear in the batch where measured smaller
        entry = per_arch.setdefault(arch, {"jobs": 0, "iterations": 0, "loop_h": 0.0,
                                           "step_h": 0.0})  # fmt: skip
        entry["jobs"] += count
        entry["iterations"] += count * iterations
        entry["loop_h"] += count * iterations * row["loop_s_per_it"] * scale / 3600
        entry["step_h"] += count * iterations * row["step_s"] * scale / 3600
    return {
        "jobs": sum(jobs.values()),
        "unmeasured_jobs": unmeasured,
        "per_architecture": per_arch,
        "loop_hours": sum(e["loop_h"] for e in per_arch.values()),
        "step_hours": sum(e["step_h"] for e in per_arch.values()),
    }


# --- report ----------------------------------------------------------------------------------


def markdown(report: dict) -> str:
    env, study, hours = report["environment"], report["study"], report["hours"]
    lines = [
        f"GPU check, {report['date']}: device {env['device']} ({env['device_name']}, "
        f"{env['cpus']} CPUs), torch {env['torch']} (pin {env['torch_pin']}, CUDA build "
        f"{env['torch_cuda_build']}), snakemake {env['snakemake']}, monai {env['monai']}"
        f"{', tiny sizes' if report['tiny'] else ''}; {report['seconds']:.0f} s in all.",
        "",
        f"Tiny study through the Snakemake CLI ({study['iterations']} iterations per teacher): "
        f"CPU {study['cpu'].get('seconds', 0):.0f} s, device with the gpu-workstation profile "
        f"{study['device'].get('seconds', 0):.0f} s",
        "",
        "| teacher | CPU Dice | device Dice | Dice diff | loss rel. diff (first 10) | loss rel. "
        "diff (all) | GPU slot | trained on | predict job: start-up + warm-up / s | ok |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in study.get("rows", []):
        job = study["device"][r["architecture"]]["predict_job"]
        lines.append(f"| {r['architecture']} | {r['cpu_dice']:.4f} | {r['device_dice']:.4f} | "
                     f"{r['dice_diff']:.4f} | {r['loss_rel_diff']:.2e} | "
                     f"{r['loss_rel_diff_all']:.2e} | {r['gpu_slot']} | {r['trained_on']} | "
                     f"{job['startup']:.2f} + {job['warmup']:.2f} / {job['seconds']:.2f} | "
                     f"{'yes' if r['ok'] else 'NO'} |")  # fmt: skip
    if "rows" not in study:
        lines.append("| (failed: see gpu_check.json) | | | | | | | | | NO |")
    lines += [
        "",
        f"Paper networks ({report['networks_plan']}; data wait with the authors' rotation "
        "batched on the device, training.rotate_on: device; memory: "
        f"{'CUDA peak allocated' if env['device'].startswith('cuda') else 'process max RSS'}):",
        "",
        "| architecture | network | patch | batch | step s | loop s/it | data wait | loader "
        "workers | peak MiB | jobs | iterations | hours (loop) | hours (step) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    per, unmeasured = hours["per_architecture"], hours["unmeasured_jobs"]
    for r in report["networks"]:
        h = per.get(r["architecture"], {"jobs": 0, "iterations": 0, "loop_h": 0, "step_h": 0})
        lines.append(
            f"| {r['architecture']} | {r['network']} | {'x'.join(map(str, r['patch']))} | "
            f"{r['batch']} | {r['step_s']:.4f} | {r['loop_s_per_it']:.4f} | "
            f"{100 * r['data_wait']:.0f}% | {r['loader_workers']} | {r['peak_mib']:.0f} | "
            f"{h['jobs']} | {h['iterations']:,} | {h['loop_h']:,.0f} | {h['step_h']:,.0f} |"
        )
    scaled = any(r["batch"] != r["paper_batch"] for r in report["networks"])
    lines += [
        "",
        f"Paper study: {hours['jobs']} training jobs, {hours['loop_hours']:,.0f} device-hours "
        f"with kdseg's loop (data wait included), {hours['step_hours']:,.0f} on random input"
        f"{' (scaled linearly to batch 40)' if scaled else ''}"
        f"{f'; {unmeasured} jobs of unmeasured networks not counted' if unmeasured else ''}.",
        f"Checks: {'all passed' if report['ok'] else 'FAILED'}.",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (the check) or cpu (rehearsal)")
    parser.add_argument("--out", type=Path, default=Path("gpu_check"))
    parser.add_argument("--configfile", default=str(REPO / "config" / "paper.yaml"))
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (a check that it runs)")
    parser.add_argument("--steps", type=int, default=5, help="timed random-input steps")
    parser.add_argument("--architectures", default=None, help="comma-separated (default: all)")
    parser.add_argument("--iterations", type=int, default=20, help="timed loop iterations")
    parser.add_argument("--study-iterations", type=int, default=200)
    parser.add_argument("--loss-tolerance", type=float, default=0.05)
    parser.add_argument("--dice-tolerance", type=float, default=0.05)
    parser.add_argument("--wheels", type=Path, default=None, help="install these wheels first")
    parser.add_argument("--download-wheels", type=Path, default=None, metavar="DIR")
    args = parser.parse_args()
    if args.download_wheels:
        return download_wheels(args.download_wheels)
    if args.wheels and not os.environ.get(SITE_VAR):
        install_wheels(args.wheels)  # runs this script again; does not return
    if os.environ.get(SITE_VAR):
        atexit.register(shutil.rmtree, os.environ[SITE_VAR], True)
    if args.tiny:
        args.iterations = 2
    sys.path[:0] = [str(HERE), str(REPO / "src")]
    import torch

    from kdseg.runtime.device import choose_device

    device = choose_device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    start = time.perf_counter()
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "tiny": args.tiny,
              "environment": environment(device)}  # fmt: skip
    print(json.dumps(report["environment"]), flush=True)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp_name:
        tmp = Path(tmp_name)
        print("tiny study through the CLI (CPU, then the device with the profile)", flush=True)
        report["study"] = study_check(args, device, tmp / "study")
        print("paper networks", flush=True)
        report["networks"], plan = network_times(args, device, tmp)
    report["networks_plan"] = plan["plan"]
    report["hours"] = study_hours(args, report["networks"])
    report["seconds"] = time.perf_counter() - start
    report["ok"] = report["study"]["ok"]
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown(report)
    (args.out / "gpu_check.md").write_text(table)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    print(table)
    if not report["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
