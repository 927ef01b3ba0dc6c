"""Training throughput: kdseg's training loop against a plain PyTorch loop, side by side.

Both train the same network with the same batch size. The plain loop gets its batches already
in memory (sampled beforehand); kdseg's loop samples them from the memory-mapped arrays with
augmentation in its background thread, as in a real run. Prints iterations per second of both,
their ratio (target on CPU: >= 0.9) and the fraction of kdseg's step time spent waiting for
data (target: <= 10%).

    python benchmarks/train_throughput.py [--preprocessed DIR] [--iterations N] [--repeats R]
                                          [--batch-size B] [--threads T] [--rotate-prob P]

Without ``--preprocessed`` a thorax phantom is generated and preprocessed in a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from kdseg.data.phantoms import write_phantom_dataset
from kdseg.data.preprocess import load_manifest, preprocess_dataset
from kdseg.data.splits import write_splits
from kdseg.data.validate import validate_raw_dataset
from kdseg.losses import build_loss
from kdseg.nets import build_network
from kdseg.train.loop import TrainSettings, train
from kdseg.train.segmentation import build_sampler

ARCHITECTURES = {
    "unet3d": {"network": "unet3d", "kwargs": {"features": [8, 16, 32, 64]}, "patch": [24] * 3},
    "dilated2d": {
        "network": "dilated2d",
        "kwargs": {"features": 16, "dilations": [1, 1, 2, 4, 8, 1], "head": [32, 64]},
        "patch": [57, 57],
    },
}


def phantom_dataset(root: Path) -> Path:
    raw, out = root / "raw", root / "preprocessed"
    write_phantom_dataset(raw, kind="thorax", cases=8, seed=1)
    validate_raw_dataset(raw, root / "report.json")
    write_splits(str(root / "report.json"), str(root / "splits.json"), seed=0, test=1,
                 validation=1)  # fmt: skip
    preprocess_dataset(raw, root / "report.json", root / "splits.json", out,
                       {"target_spacing": [3.0, 3.0, 3.0]}, name="Thorax")  # fmt: skip
    return out


def plain_loop(model, batches, criterion, iterations: int) -> float:
    """Seconds for ``iterations`` steps of a textbook loop over in-memory batches."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    start = time.perf_counter()
    for i in range(iterations):
        x, y = batches[i % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def kdseg_loop(model, sampler, criterion, iterations: int, tmp: Path) -> tuple[float, float]:
    """(seconds, data-wait seconds) of kdseg's loop for ``iterations`` steps."""
    settings = TrainSettings(iterations=iterations, checkpoint_every=10**9, log_every=10**9)
    ckpt = tmp / "bench_checkpoint.pt"
    ckpt.unlink(missing_ok=True)
    result = train(model, sampler, lambda m, b: criterion(m(b["image"]), b["label"]),
                   settings, seed=1, checkpoint=ckpt)  # fmt: skip
    return result.seconds, result.data_wait_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preprocessed", type=Path)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--rotate-prob", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pre = args.preprocessed or phantom_dataset(tmp)
        manifest = load_manifest(pre)
        k = len(manifest["dataset"]["labels"])
        print(f"data: {pre}, batch {args.batch_size}, {args.iterations} iterations x "
              f"{args.repeats} repeats, {args.threads} threads, device cpu")  # fmt: skip
        augmentation = {"rotate_degrees": 10, "rotate_prob": args.rotate_prob}
        training = {"batch_size": args.batch_size, "augmentation": augmentation}
        for name, arch in ARCHITECTURES.items():
            torch.manual_seed(0)
            model = build_network(arch["network"], 1, k, **arch["kwargs"])
            criterion = build_loss({"name": "ce"}, k)
            sampler = build_sampler(pre, manifest, arch, training, model, seed=1)
            batches = []
            for i in range(20):
                b = sampler.batch(10_000 + i)
                batches.append((torch.from_numpy(b["image"]), torch.from_numpy(b["label"])))
            plain_loop(model, batches, criterion, 5)  # warm-up
            plain, ours, waits = [], [], []
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                plain.append(plain_loop(model, batches, criterion, args.iterations))
                seconds, wait = kdseg_loop(model, sampler, criterion, args.iterations, tmp)
                ours.append(seconds)
                waits.append(wait / seconds)
            p, o = min(plain), min(ours)
            print(f"{name:10s} plain {args.iterations / p:6.2f} it/s | kdseg "
                  f"{args.iterations / o:6.2f} it/s | ratio {p / o:.3f} | data wait "
                  f"{100 * min(waits):.1f}% (max {100 * max(waits):.1f}%)")  # fmt: skip


if __name__ == "__main__":
    main()
