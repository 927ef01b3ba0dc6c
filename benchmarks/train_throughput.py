"""Training throughput: kdseg's training loop against a plain PyTorch loop, side by side, for
every architecture of a study with its current settings.

Both train the same network with the same batch size. The plain loop gets its batches already
in memory (sampled beforehand) and trains in PyTorch's default memory layout; kdseg's loop
samples them from the memory-mapped arrays with the study's sampling and augmentation (the
authors' rotation by default) in its loader, as in a real run, with the study's training
settings (optimizer, loader workers, channels-last, AMP on CUDA only). Prints iterations per
second of both, their ratio (target on CPU: >= 0.9) and the fraction of kdseg's step time spent
waiting for data (target: <= 10%).

    python benchmarks/train_throughput.py [--configfile config/config.yaml] [--dataset Thorax]
        [--study results/demo] [--iterations N] [--repeats R] [--batch-size B] [--threads T]
        [--tiny] [--workers 0,1,2]

Without ``--study`` the dataset's phantom is generated (``--cases``, default 8), fingerprinted,
planned (patch, batch) and preprocessed in a temporary folder; with ``--study`` its
preprocessed data and plans are used. ``--tiny``: a tiny phantom and 2 iterations, 1 repeat
(a check that the script runs, not a measurement). ``--workers 0,1,2``: instead, kdseg's
loop alone with each number of loader workers, interleaved per repeat (iterations per second,
best of the repeats, and each count's ratio to the first).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from kdseg import config as kdcfg
from kdseg.data.fingerprint import dataset_fingerprint
from kdseg.data.phantoms import write_phantom_dataset
from kdseg.data.preprocess import load_manifest, preprocess_dataset
from kdseg.data.splits import write_splits
from kdseg.data.validate import validate_raw_dataset
from kdseg.errors import KdsegError
from kdseg.models.losses import build_loss
from kdseg.nets import build_network
from kdseg.train.loop import TrainSettings, train
from kdseg.train.segmentation import build_sampler

TINY_PHANTOM = {"shape": [24, 24, 16], "spacing": [6.0, 6.0, 6.0]}
LOOP_KEYS = ("optimizer", "amp", "loader_workers", "channels_last")
HEADER = (f"{'arch':10s} {'network':10s} {'patch':>9s} {'batch':>5s} {'plain':>8s} {'kdseg':>8s} "
          f"{'ratio':>6s} data wait (it/s: iterations per second)")  # fmt: skip
HEADER_WORKERS = f"{'arch':10s} {'network':10s} it/s (ratio to the first) with loader workers "


def phantom_study(configfile: str, dataset: str, root: Path, cases: int, tiny: bool) -> tuple:
    """(planned config, preprocessed folder) of the dataset's phantom, planned as the workflow
    plans it (its fingerprint, the study file's explicit values)."""
    config = kdcfg.load_config(configfile)
    explicit = kdcfg.read_study_file(configfile)
    entry = config["datasets"][dataset]
    if entry["source"] != "phantom":
        raise KdsegError(f"{configfile}: dataset {dataset} is not a phantom; pass --study")
    raw, report, splits = root / "raw", root / "report.json", root / "splits.json"
    phantom = entry["phantom"]
    shapes = TINY_PHANTOM if tiny else {}
    write_phantom_dataset(raw, kind=phantom["kind"], cases=cases, seed=phantom.get("seed", 1),
                          **shapes)  # fmt: skip
    validate_raw_dataset(raw, report)
    fingerprint = dataset_fingerprint(raw, report, entry.get("preprocess", {}), name=dataset)
    config = kdcfg.apply_plan(config, kdcfg.plan_dataset(fingerprint, config, explicit, dataset))
    write_splits(str(report), str(splits), seed=0, test=1, validation=1)
    out = root / "preprocessed"
    preprocess_dataset(raw, report, splits, out, config["datasets"][dataset]["preprocess"],
                       name=dataset)  # fmt: skip
    return config, out


def plain_loop(model, batches, criterion, iterations: int, lr: float) -> float:
    """Seconds for ``iterations`` steps of a textbook loop over in-memory batches."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    start = time.perf_counter()
    for i in range(iterations):
        x, y = batches[i % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def kdseg_loop(model, sampler, criterion, settings: TrainSettings, tmp: Path) -> tuple:
    """(seconds, data-wait seconds) of kdseg's loop."""
    ckpt = tmp / "bench_checkpoint.pt"
    ckpt.unlink(missing_ok=True)
    result = train(model, sampler, lambda m, b: criterion(m(b["image"]), b["label"]),
                   settings, seed=1, checkpoint=ckpt)  # fmt: skip
    return result.seconds, result.data_wait_seconds


def bench_architecture(config, dataset, arch, pre, args, tmp: Path) -> str:
    """One table line: plain and kdseg iterations per second, ratio, data wait (with
    ``--workers``: kdseg's iterations per second per worker count)."""
    manifest = load_manifest(pre)
    k = len(manifest["dataset"]["labels"])
    settings = kdcfg.trained_architecture(config, dataset, arch)
    training = kdcfg.training_settings(config, dataset, arch)
    if args.batch_size:
        training["batch_size"] = args.batch_size
    batch = int(training["batch_size"])
    torch.manual_seed(0)
    model = build_network(settings["network"], len(manifest["modalities"]), k,
                          **settings.get("kwargs", {}))  # fmt: skip
    criterion = build_loss({"name": "ce"}, k)
    sampler = build_sampler(pre, manifest, settings, training, model, seed=1)
    batches = []
    for i in range(min(20, args.iterations)):
        b = sampler.batch(10_000 + i)
        batches.append((torch.from_numpy(b["image"]), torch.from_numpy(b["label"])))
    loop = TrainSettings(
        iterations=args.iterations,
        batch_size=batch,
        checkpoint_every=10**9,
        log_every=10**9,
        **{k: training[k] for k in LOOP_KEYS if k in training},
    )
    if args.workers:
        return bench_workers(arch, settings["network"], model, sampler, criterion, loop, args, tmp)
    lr = float(training["optimizer"].get("lr", 1e-3))
    textbook = copy.deepcopy(model)  # kdseg's loop changes its model's memory layout in place
    plain_loop(textbook, batches, criterion, 2, lr)  # warm-up
    plain, ours, waits = [], [], []
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        plain.append(plain_loop(textbook, batches, criterion, args.iterations, lr))
        seconds, wait = kdseg_loop(model, sampler, criterion, loop, tmp)
        ours.append(seconds)
        waits.append(wait / seconds)
    p, o = min(plain), min(ours)
    return (f"{arch:10s} {settings['network']:10s} {'x'.join(map(str, settings['patch'])):>9s} "
            f"{batch:>5d} {args.iterations / p:8.2f} {args.iterations / o:8.2f} {p / o:6.3f} "
            f"{100 * min(waits):6.1f}% (max {100 * max(waits):.1f}%)")  # fmt: skip


def bench_workers(arch, network, model, sampler, criterion, loop, args, tmp: Path) -> str:
    """One table line: kdseg's iterations per second with each loader-worker count
    (interleaved per repeat; best of the repeats) and its ratio to the first count."""
    seconds: dict[int, list[float]] = {w: [] for w in args.workers}
    for _ in range(args.repeats):
        for workers in args.workers:
            settings = dataclasses.replace(loop, loader_workers=workers)
            seconds[workers].append(kdseg_loop(model, sampler, criterion, settings, tmp)[0])
    first = min(seconds[args.workers[0]])
    cells = [f"{args.iterations / min(s):8.2f} ({first / min(s):.2f})" for s in seconds.values()]
    return f"{arch:10s} {network:10s} " + " ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--dataset", default=None, help="default: the study's first dataset")
    parser.add_argument("--study", type=Path, default=None, help="a finished study's folder")
    parser.add_argument("--architectures", default=None, help="comma-separated (default: all)")
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the study's")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--tiny", action="store_true", help="tiny phantom, 2 iterations")
    parser.add_argument("--workers", default=None, help="loader-worker counts, e.g. 0,1,2")
    args = parser.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")] if args.workers else None
    if args.tiny:
        args.cases, args.iterations, args.repeats = 4, 2, 1
    torch.set_num_threads(args.threads)
    config = kdcfg.load_config(args.configfile)
    dataset = args.dataset or next(iter(config["datasets"]))
    archs = args.architectures.split(",") if args.architectures else list(config["architectures"])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.study:
            config = kdcfg.apply_study_plans(config, args.study)
            pre = args.study / dataset / "preprocessed"
        else:
            config, pre = phantom_study(args.configfile, dataset, tmp, args.cases, args.tiny)
        print(f"{args.configfile}, {dataset}: data {pre}, {args.iterations} iterations x "
              f"{args.repeats} repeats, {args.threads} threads, device cpu")  # fmt: skip
        print(HEADER_WORKERS + ", ".join(map(str, args.workers)) if args.workers else HEADER)
        for arch in archs:
            print(bench_architecture(config, dataset, arch, pre, args, tmp), flush=True)


if __name__ == "__main__":
    main()
