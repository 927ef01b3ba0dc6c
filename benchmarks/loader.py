"""Can the loader keep a GPU busy at the paper's scale? Per paper network: patches per
CPU-second of kdseg's sampler with and without the authors' rotation and cut for the rotation
on the training device (``training.rotate_on``), the batched rotation's time, the GPU step
time, and the loader workers needed to keep the GPU busy.

The networks, patches, slice axes, batch (40) and sampling come from the study file
(``config/paper.yaml``) and its plan for ``--dataset``: from ``<study>/<dataset>/plans.json``
where the study planned it, else from a stand-in fingerprint (``--image``/``--spacing``/
``--cases``; default a SegTHOR-sized CT, 40 scans of 512 x 512 x 150 voxels at 1 x 1 x 2.5 mm,
within SegTHOR's published range of 0.90-1.37 mm pixels and 2-3.7 mm slices). The sampler cuts
from one synthetic case of that size (memory-mapped, 5 classes: 4 tube- and blob-shaped
structures as in SegTHOR) on one thread; rates are patches per CPU-second of this process
(``time.process_time``), so other load on the machine slows them little; every page of the
case's memory maps is read once first, and Python's garbage collector skips the objects made
before the timing (a full collection took about 0.2 s here), as in a long run.
``tables s``: building the sampler's position tables for that case (once per training job and
case).

GPU step: measured (forward, backward, Adam, mixed precision; ``study_cost.py``'s timing) when
CUDA is available, else estimated from ``gpu_reference_times.yaml`` (nnU-Net's published
no-data-loading iteration times, scaled by forward FLOPs; its derivation is printed). Workers
needed: CPU seconds per batch / GPU step, rounded up (each worker one process on one core).
With device rotation the GPU's time per batch is the step plus the batched rotation: measured
on CUDA; without CUDA the rotation's time is printed for this CPU (one thread) and its GPU
time counted as 0 (an upper bound on the workers needed).

    python benchmarks/loader.py [--configfile config/paper.yaml] [--dataset SegTHOR]
        [--study results/paper] [--gpu "A100 40GB (DGX A100) 400W"] [--batches 5] [--tiny]

``--tiny``: a 64 x 64 x 32 stand-in, batches of 2, 1 batch (a check that it runs).
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from kdseg import config as kdcfg
from kdseg.config.geometry import network_geometry
from kdseg.nets import build_network
from kdseg.train.augmentation import Augmentation
from kdseg.train.device_rotation import rotate_batch
from kdseg.train.placement import Sampling
from kdseg.train.sampler import CaseArrays, PatchSampler

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "gpu_reference_times.yaml"


def stand_in_fingerprint(image: list[int], spacing: list[float], cases: int) -> dict:
    """The fingerprint keys the plan reads, for ``cases`` scans of one size and spacing."""
    return {
        "cases": cases,
        "spacings": [list(spacing)] * cases,
        "shapes_after_crop": [list(image)] * cases,
        "median_spacing": list(spacing),
        "spacing_percentiles": {"10": list(spacing), "90": list(spacing)},
        "median_shape_after_crop": list(image),
    }


def planned_config(args: argparse.Namespace) -> tuple[dict, str]:
    """The study config with the dataset's plan applied, and where the plan came from."""
    config = kdcfg.load_config(args.configfile)
    if args.study and (args.study / args.dataset / "plans.json").exists():
        return kdcfg.apply_study_plans(config, args.study), f"{args.study}/{args.dataset}"
    explicit = kdcfg.read_study_file(args.configfile)
    fingerprint = stand_in_fingerprint(args.image, args.spacing, args.cases)
    plan = kdcfg.plan_dataset(fingerprint, config, explicit, args.dataset)
    where = (f"stand-in: {args.cases} scans of {'x'.join(map(str, args.image))} voxels at "
             f"{'x'.join(map(str, args.spacing))} mm")  # fmt: skip
    return kdcfg.apply_plan(config, plan), where


def synthetic_case(shape: list[int], spacing: list[float], root: Path) -> CaseArrays:
    """One memory-mapped CT-like case: heart (blob), aorta, trachea, esophagus (tubes)."""
    x, y, z = np.ogrid[: shape[0], : shape[1], : shape[2]]
    mm = [np.asarray(a, np.float32) * s for a, s in zip((x, y, z), spacing, strict=True)]
    size = [n * s for n, s in zip(shape, spacing, strict=True)]
    centre = [0.5 * s for s in size]
    label = np.zeros(shape, np.uint8)

    def tube(cx: float, cy: float, radius: float) -> np.ndarray:
        return ((mm[0] - cx) ** 2 + (mm[1] - cy) ** 2 <= radius**2) & (mm[2] >= 0)

    heart = sum(((m - c) / (0.15 * s)) ** 2 for m, c, s in zip(mm, centre, size, strict=True))
    label[heart <= 1] = 2
    label[tube(0.4 * size[0], 0.55 * size[1], 0.03 * size[0])] = 4  # aorta
    label[tube(0.5 * size[0], 0.35 * size[1], 0.025 * size[0])] = 3  # trachea
    label[tube(0.55 * size[0], 0.4 * size[1], 0.012 * size[0])] = 1  # esophagus
    rng = np.random.default_rng(0)
    image = (label.astype(np.float32) + rng.standard_normal(shape, np.float32))[None]
    np.save(root / "image.npy", image)
    np.save(root / "label.npy", label)
    del image, label
    return CaseArrays("stand-in", np.load(root / "image.npy", mmap_mode="r"),
                      np.load(root / "label.npy", mmap_mode="r"))  # fmt: skip


def stand_in_sampler(
    case: CaseArrays,
    settings: dict,
    sampling: Sampling,
    margin: int,
    batch: int,
    augmentation: Augmentation | None,
    device_rotation: bool,
) -> PatchSampler:
    """The sampler of a paper network (``settings``: its architecture) over one stand-in case
    with the study's sampling (5 classes, seed 1); also gpu_check's."""
    return PatchSampler(
        [case], num_classes=5, patch=settings["patch"], batch_size=batch, seed=1,
        orientations=settings.get("orientations", (0, 1, 2)), margin=margin,
        class_ratios=sampling.class_ratios, augmentation=augmentation,
        max_locations=int(sampling.max_locations), rule=sampling.rule,
        percent_bg_full_bg=float(sampling.percent_bg_full_bg), device_rotation=device_rotation,
    )  # fmt: skip


def sampler_rates(
    case, settings, training, batch: int, batches: int, device: torch.device
) -> dict[str, float]:
    """Seconds to build the tables; patches per CPU-second without rotation, with the
    loader's rotation and cut for device rotation; the batched rotation's seconds per batch
    on ``device``."""
    geometry = network_geometry(settings["network"], settings.get("kwargs") or {})
    sampling = Sampling.from_config(training.get("sampling", {}))
    augmentation = Augmentation.from_config(training.get("augmentation", {}))
    out, cut = {}, []
    for name, aug, on_device in (
        ("plain", None, False), ("rotated", augmentation, False), ("cut", augmentation, True),
    ):  # fmt: skip
        start = time.process_time()
        sampler = stand_in_sampler(
            case, settings, sampling, geometry.valid_margin, batch, aug, on_device
        )
        out["tables_s"] = time.process_time() - start
        sampler.batch(0)  # warm-up
        start = time.process_time()
        for i in range(1, batches + 1):
            sampler.batch(i)
        out[name] = batches * batch / (time.process_time() - start)
        if on_device:  # after the timing: kept batches slow the allocator down
            cut = [sampler.batch(i) for i in range(1, batches + 1)]
    out["rotate_s"] = rotation_seconds(cut, geometry.valid_margin, device)
    return out


def rotation_seconds(batches: list[dict], margin: int, device: torch.device) -> float:
    """Seconds per batch of the batched rotation on ``device`` (CUDA: wall time after a
    warm-up; CPU: CPU time of this process, one thread)."""
    on = [{k: torch.from_numpy(v).to(device) for k, v in b.items()} for b in batches]
    cuda = device.type == "cuda"
    rotate_batch(on[0], margin)  # warm-up (prefilter matrices, kernels)
    if cuda:
        torch.cuda.synchronize()
    clock = time.perf_counter if cuda else time.process_time
    start = clock()
    for b in on:
        rotate_batch(b, margin)
    if cuda:
        torch.cuda.synchronize()
    return (clock() - start) / len(on)


def forward_flops(network: str, kwargs: dict, in_ch: int, out_ch: int, shape: list[int]) -> int:
    """Forward FLOPs of convolutions and matrix products (counted on the meta device)."""
    with torch.device("meta"):
        net = build_network(network, in_ch, out_ch, **kwargs)
        with FlopCounterMode(display=False) as counter:
            net(torch.empty(shape))
    return int(counter.get_total_flops())


def reference_step(gpu: str) -> tuple[float, int, str]:
    """(seconds per reference iteration, reference FLOPs, description) on ``gpu``."""
    ref = yaml.safe_load(REFERENCE.read_text())
    if gpu not in ref["epoch_seconds"]:
        raise SystemExit(f"{REFERENCE}: no GPU {gpu!r} (known: {', '.join(ref['epoch_seconds'])})")
    r = ref["reference"]
    flops = forward_flops(r["network"], r["kwargs"], r["in_channels"], r["out_channels"],
                          [r["batch_size"], r["in_channels"], *r["patch"]])  # fmt: skip
    seconds = ref["epoch_seconds"][gpu] / ref["iterations_per_epoch"]
    what = (f"{gpu}: {ref['epoch_seconds'][gpu]} s / {ref['iterations_per_epoch']} iterations "
            f"= {seconds:.4f} s per step of nnU-Net's U-Net at {r['batch_size']} x "
            f"{'x'.join(map(str, r['patch']))} ({flops / 1e9:.0f} GFLOP forward); source: "
            f"{ref['source']}")  # fmt: skip
    return seconds, flops, what


def measured_step(settings: dict, batch: int, device: torch.device) -> float:
    """Seconds of one training step on ``device`` (study_cost.py's timing, 5 steps)."""
    sys.path.insert(0, str(HERE))
    from study_cost import step_seconds

    return step_seconds(settings, batch, device, steps=5)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", default="config/paper.yaml")
    parser.add_argument("--dataset", default="SegTHOR")
    parser.add_argument("--study", type=Path, default=None, help="use its plans.json if made")
    parser.add_argument("--image", type=int, nargs=3, default=[512, 512, 150])
    parser.add_argument("--spacing", type=float, nargs=3, default=[1.0, 1.0, 2.5])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--gpu", default="A100 40GB (DGX A100) 400W")
    parser.add_argument("--batches", type=int, default=5, help="timed batches per variant")
    parser.add_argument("--tiny", action="store_true", help="a tiny stand-in, 1 batch of 2")
    args = parser.parse_args()
    if args.tiny:
        args.image, args.cases, args.batches = [64, 64, 32], 4, 1
    torch.set_num_threads(1)  # a loader worker: one process on one core
    config, plan_source = planned_config(args)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        reference, gpu_what = None, f"measured on {torch.cuda.get_device_name()}"
    else:
        *reference, gpu_what = reference_step(args.gpu)
    print(f"{args.configfile}, {args.dataset}; plan: {plan_source}; sampler on 1 thread, "
          f"{args.batches} batches per variant")  # fmt: skip
    print(f"GPU step: {gpu_what}")
    unknown = (" (one thread); its GPU time is not known without a GPU and counted as 0, "
               "which can only raise the workers needed")  # fmt: skip
    print("Device rotation: the loader only cuts (targets with their context); the batch is "
          f"rotated on the training device, here timed on {device.type}"
          f"{'' if device.type == 'cuda' else unknown}")  # fmt: skip
    rows, cache = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        case = synthetic_case(args.image, args.spacing, Path(tmp))
        case.image.sum(), case.label.max()  # map every page once, as a long run has
        gc.collect()
        gc.freeze()  # no full garbage collection of the imported modules while timing
        for arch in config["architectures"]:
            settings = kdcfg.trained_architecture(config, args.dataset, arch)
            training = kdcfg.training_settings(config, args.dataset, arch)
            batch = 2 if args.tiny else int(training["batch_size"])
            margin = network_geometry(settings["network"], settings.get("kwargs") or {})
            key = str((settings["patch"], margin.valid_margin, settings.get("orientations"),
                       training.get("sampling"), training.get("augmentation")))  # fmt: skip
            if key not in cache:
                cache[key] = sampler_rates(case, settings, training, batch, args.batches, device)
            rows.append(table_row(arch, settings, training, batch, cache[key], device, reference))
    head = ("| architecture | network | patch | batch | tables s | patches/CPU-s | rotated "
            "patches/CPU-s | cut for device patches/CPU-s | batched rotation s/batch "
            f"({device.type}) | GPU step s | workers needed | rotated: workers needed | "
            "device rotation: workers needed | config's loader_workers |")  # fmt: skip
    print(head)
    print("|" + "---|" * (head.count(" | ") + 1))
    for r in rows:
        print("| " + " | ".join(r) + " |")


def table_row(arch, settings, training, batch, rates, device, reference) -> list[str]:
    """One architecture's row: its rates, GPU step (measured on CUDA, else ``reference``:
    seconds and FLOPs of the reference step) and the loader workers needed per variant."""
    if device.type == "cuda":
        step, on_gpu = measured_step(settings, batch, device), rates["rotate_s"]
    else:
        flops = forward_flops(settings["network"], settings.get("kwargs", {}), 1, 5,
                              [batch, 1, *settings["patch"]])  # fmt: skip
        step, on_gpu = reference[0] * flops / reference[1], 0.0
    need = {k: math.ceil(batch / rates[k] / step) for k in ("plain", "rotated")}
    need["cut"] = math.ceil(batch / rates["cut"] / (step + on_gpu))
    return [
        arch, settings["network"], "x".join(map(str, settings["patch"])), str(batch),
        f"{rates['tables_s']:.2f}", f"{rates['plain']:.0f}", f"{rates['rotated']:.0f}",
        f"{rates['cut']:.0f}", f"{rates['rotate_s']:.4f}", f"{step:.4f}", str(need["plain"]),
        str(need["rotated"]), str(need["cut"]), str(training.get("loader_workers")),
    ]  # fmt: skip


if __name__ == "__main__":
    main()
