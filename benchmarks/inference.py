"""Student against its ensemble, and a distillation step against a baseline step, in one run.

Part 1 (inference): the trained student and its ensemble predict the same test cases,
alternating per case, on the same device and threads, with the config's inference settings.
Prints seconds per case of both, the time ratio (ensemble / student; target: at least the
ensemble's size), the parameter ratio and the mean Dice of both against the reference at
preprocessed resolution (target: the student loses at most 0.01).

Part 2 (training): one distillation step (network, KD loss against the memory-mapped 8-bit
soft labels, hard-label term) against one baseline step (same network, the baseline's loss on
labels) through kdseg's training loop, same sampler, batch and seed; repeated alternately.
Prints the step-time ratio (target: at most 1.15).

Needs a finished study (``make demo`` for the default one):

    python benchmarks/inference.py [--configfile config/config.yaml] [--dataset Thorax]
        [--ensemble diverse] [--student kd] [--seed 1] [--steps 60] [--repeats 3]
        [--threads 1] [--device auto]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from kdseg import config as kdcfg
from kdseg.data.preprocess import load_manifest, open_case
from kdseg.distill.soft_labels import open_soft_labels
from kdseg.distill.trainers.kd import kd_step_loss
from kdseg.ensemble.networks import Ensemble
from kdseg.errors import KdsegError
from kdseg.evaluation.metrics import mean_dice
from kdseg.models.model_file import load_model
from kdseg.models.windows import predict_probabilities
from kdseg.nets import build_network, count_parameters
from kdseg.runtime.device import choose_device
from kdseg.train.loop import TrainSettings, train
from kdseg.train.segmentation import build_sampler, label_step_loss
from kdseg.train.validation import cases_of_split


def model_file(dataset_dir: Path, model_id: str) -> Path:
    path = dataset_dir / model_id / "model.pt"
    if not path.is_file():
        raise KdsegError(f"{path}: missing; run the study first (make demo)")
    return path


def _timed(fn, image: np.ndarray, device: torch.device) -> tuple[np.ndarray, float]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn(image)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, time.perf_counter() - start


def bench_inference(config: dict, dataset: str, ensemble: str, student_id: str, device) -> dict:
    """Seconds per case, parameters and mean Dice of the ensemble and the student."""
    ds_dir = Path(kdcfg.study_dir(config)) / dataset
    preprocessed = ds_dir / "preprocessed"
    member_ids = kdcfg.ensemble_members(config, ensemble)
    members = [model_file(ds_dir, m) for m in member_ids]
    inference = [kdcfg.inference_settings(config, dataset, m) for m in member_ids]
    ens = Ensemble(members, device, amp=True, inference=inference)
    student_settings = kdcfg.inference_settings(config, dataset, student_id)
    student, _, spec = load_model(model_file(ds_dir, student_id), device, student_settings)

    def student_probs(image: np.ndarray) -> np.ndarray:
        return predict_probabilities(student, image, spec, device=device, amp=True)

    def ensemble_probs(image: np.ndarray) -> np.ndarray:
        return ens(image)[0]

    manifest = load_manifest(preprocessed)
    cases = cases_of_split(manifest, "test")
    num_classes = len(manifest["dataset"]["labels"])
    runs = {"ensemble": ensemble_probs, "student": student_probs}
    seconds: dict[str, list[float]] = {k: [] for k in runs}
    dice: dict[str, list[float]] = {k: [] for k in runs}
    warm, _ = open_case(preprocessed, cases[0])
    for fn in runs.values():
        fn(warm)  # warm-up, not timed
    for i, case in enumerate(cases):
        image, label = open_case(preprocessed, case)
        order = list(runs) if i % 2 == 0 else list(runs)[::-1]
        for name in order:
            probs, sec = _timed(runs[name], image, device)
            seconds[name].append(sec)
            dice[name].append(mean_dice(probs.argmax(0), np.asarray(label), num_classes))
    return {
        "cases": len(cases),
        "members": len(members),
        "seconds": {k: float(np.mean(v)) for k, v in seconds.items()},
        "parameters": {"ensemble": ens.parameters, "student": count_parameters(student)},
        "dice": {k: float(np.mean(v)) for k, v in dice.items()},
    }


def bench_steps(config, dataset, ensemble, student_name, seed, steps, repeats, device) -> dict:
    """Median seconds per step of distillation and baseline training, same network/sampler."""
    ds_dir = Path(kdcfg.study_dir(config)) / dataset
    preprocessed = ds_dir / "preprocessed"
    manifest = load_manifest(preprocessed)
    st = config["students"][student_name]
    arch = kdcfg.architecture_settings(config, dataset, st["architecture"])
    training = kdcfg.training_settings(config, dataset)
    soft_dir = ds_dir / "ensembles" / ensemble / "soft_labels"
    if not (soft_dir / "soft_labels.json").is_file():
        raise KdsegError(f"{soft_dir}: missing soft labels; run the study first (make demo)")
    soft = open_soft_labels(soft_dir, cases_of_split(manifest, "train"))
    num_classes = len(manifest["dataset"]["labels"])
    loss = config["losses"][config["baselines"]["loss"]]
    variants = {
        "baseline": (label_step_loss(loss), None),
        "distillation": (kd_step_loss(st), soft),
    }
    loop_keys = ("batch_size", "optimizer", "amp", "loader_workers")
    settings = TrainSettings(iterations=steps, checkpoint_every=10**9, log_every=10**9,
                             **{k: training[k] for k in loop_keys if k in training})  # fmt: skip
    seconds: dict[str, list[float]] = {k: [] for k in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            order = list(variants) if r % 2 == 0 else list(variants)[::-1]
            for name in order:
                make_step_loss, extra = variants[name]
                torch.manual_seed(seed)
                net = build_network(arch["network"], len(manifest["modalities"]), num_classes,
                                    **arch.get("kwargs", {}))  # fmt: skip
                sampler = build_sampler(preprocessed, manifest, arch, training, net, seed, extra)
                ckpt = Path(tmp) / f"{name}.pt"
                ckpt.unlink(missing_ok=True)
                result = train(net, sampler, make_step_loss(num_classes, device, net), settings,
                               seed, ckpt, device)  # fmt: skip
                seconds[name].append(result.seconds / steps)
    return {k: statistics.median(v) for k, v in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--dataset", default=None, help="default: the study's first dataset")
    parser.add_argument("--ensemble", default="diverse")
    parser.add_argument("--student", default=None, help="students entry (default: first)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    config = kdcfg.load_config(args.configfile)
    config = kdcfg.apply_study_plans(config, kdcfg.study_dir(config))  # the jobs' settings
    dataset = args.dataset or next(iter(config["datasets"]))
    student_name = args.student or next(iter(config["students"]))
    arch = config["students"][student_name]["architecture"]
    student_id = f"students/{student_name}/{args.ensemble}/{arch}/seed{args.seed}"
    device = choose_device(args.device)
    print(f"{dataset}: {student_id} against ensembles/{args.ensemble} on {device}, "
          f"{args.threads} thread(s)")  # fmt: skip

    inf = bench_inference(config, dataset, args.ensemble, student_id, device)
    time_ratio = inf["seconds"]["ensemble"] / inf["seconds"]["student"]
    param_ratio = inf["parameters"]["ensemble"] / inf["parameters"]["student"]
    dice_diff = inf["dice"]["student"] - inf["dice"]["ensemble"]
    print(f"inference over {inf['cases']} test cases ({inf['members']} members):")
    for k in ("ensemble", "student"):
        print(f"  {k:9s} {inf['seconds'][k]:.3f} s/case  {inf['parameters'][k]:>10,} parameters"
              f"  mean Dice {inf['dice'][k]:.3f}")  # fmt: skip
    fast = time_ratio >= inf["members"]
    close = dice_diff >= -0.01
    print(f"  time ratio ensemble/student {time_ratio:.2f} (target >= {inf['members']}: "
          f"{'met' if fast else 'NOT met'}); parameter ratio {param_ratio:.2f}; "
          f"Dice student - ensemble {dice_diff:+.3f} (target >= -0.010: "
          f"{'met' if close else 'NOT met'})")  # fmt: skip

    step = bench_steps(config, dataset, args.ensemble, student_name, args.seed, args.steps,
                       args.repeats, device)  # fmt: skip
    ratio = step["distillation"] / step["baseline"]
    print(f"training step ({args.steps} steps x {args.repeats} repeats, median):")
    print(f"  baseline {1000 * step['baseline']:.1f} ms/step  distillation "
          f"{1000 * step['distillation']:.1f} ms/step  ratio {ratio:.3f} "
          f"(target <= 1.15: {'met' if ratio <= 1.15 else 'NOT met'})")  # fmt: skip


if __name__ == "__main__":
    main()
