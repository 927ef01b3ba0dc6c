"""Training cost of a study: its training jobs, and their hours from measured step times.

Counts the study's training jobs per dataset and network (teachers, limit-trained teachers,
students and their assistants, online pairs, baselines), measures the seconds of one training
step (forward, backward, Adam; mixed precision on CUDA) of each network with the config's patch
and batch size (planned ones: from the study's plans.json) on this machine's device, and prints
jobs x iterations x step time per network and in total. Random inputs (1 channel, 5 classes);
the data loader is assumed to keep up (see train_throughput.py) and validation/checkpoint time
is not counted. Feature KD's extra teacher forward pass is not counted; an online pair counts
as its teacher's plus its student's step.

    python benchmarks/study_cost.py [--configfile config/paper.yaml] [--steps 5]
        [--batch-size B (measure at B, scale linearly to the config's)] [--device auto]
"""

from __future__ import annotations

import argparse
import collections
import time

import torch

from kdseg import config as kdcfg
from kdseg.nets import build_network, count_parameters
from kdseg.runtime.device import choose_device


def training_jobs(config: dict) -> collections.Counter:
    """(dataset, architecture) -> number of networks trained."""
    jobs: collections.Counter = collections.Counter()
    for ds in config["datasets"]:
        view = kdcfg.dataset_view(config, ds)
        models = (
            kdcfg.teacher_models(view)
            + kdcfg.student_models(view)
            + kdcfg.phase_models(view)
            + kdcfg.baseline_models(view)
        )
        for model in models:
            jobs[ds, kdcfg.model_architecture(view, model)] += 1
    return jobs


def step_seconds(settings: dict, batch: int, device: torch.device, steps: int) -> tuple[float, int]:
    """Median seconds of one training step of a network at ``batch`` patches."""
    net = build_network(settings["network"], 1, 5, **settings.get("kwargs", {})).to(device)
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    amp = device.type == "cuda"
    x = torch.randn(batch, 1, *settings["patch"], device=device)
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        with torch.autocast(device.type, enabled=amp):
            out = net(x)
            target = torch.randint(0, 5, (out.shape[0], *out.shape[2:]), device=device)
            loss = torch.nn.functional.cross_entropy(out.float(), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], count_parameters(net)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default="config/paper.yaml")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    config = kdcfg.load_config(args.configfile)
    config = kdcfg.apply_study_plans(config, kdcfg.study_dir(config))  # planned patches
    device = choose_device(args.device)
    jobs = training_jobs(config)
    print(f"{args.configfile}: {sum(jobs.values())} networks to train; device {device}")
    measured: dict[tuple, tuple[float, int]] = {}
    total_hours = 0.0
    print(f"{'dataset':10} {'network':14} {'params':>10} {'jobs':>5} {'s/step':>8} {'hours':>9}")
    for (ds, arch), count in sorted(jobs.items()):
        settings = kdcfg.trained_architecture(config, ds, arch)
        training = kdcfg.training_settings(config, ds, arch)
        if "patch" not in settings or "batch_size" not in training:
            plans = f"{kdcfg.study_dir(config)}/{ds}/plans.json"
            print(f"{ds:10} {arch:14} not planned yet: run the plan step first "
                  f"(snakemake --configfile {args.configfile} {plans})")  # fmt: skip
            continue
        batch = training["batch_size"]
        key = (settings["network"], str(settings.get("kwargs")), tuple(settings["patch"]))
        if key not in measured:
            at = args.batch_size or batch
            seconds, params = step_seconds(settings, at, device, args.steps)
            measured[key] = (seconds * batch / at, params)
        seconds, params = measured[key]
        hours = count * training["iterations"] * seconds / 3600
        total_hours += hours
        print(f"{ds:10} {arch:14} {params:>10,} {count:>5} {seconds:>8.3f} {hours:>9.1f}")
    print(f"total: {total_hours:.0f} device-hours of training on {device}")


if __name__ == "__main__":
    main()
