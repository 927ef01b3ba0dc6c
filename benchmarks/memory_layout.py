"""Training steps in PyTorch's default memory layout against channels-last weights
(``training.channels_last``), side by side, for the default study's three networks.

Each network takes forward, backward and Adam steps on one batch of its default-study patch
(2 x 24^3, or 2 x 57^2 slices), alternating the two layouts ``--repeats`` times so that both
see the same machine load; prints milliseconds per step of each and their ratio.

    python benchmarks/memory_layout.py [--steps 20] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from kdseg.nets.registry import build_network
from kdseg.train.optim import to_channels_last

NETWORKS = {  # the default study's architectures (config/config.yaml) and patches
    "unet3d": ({"features": [8, 16, 32, 64], "norm": "instance"}, (2, 1, 24, 24, 24)),
    "resnet3d": (
        {"layout": "authors", "features": 8, "blocks": 2, "dropout": 0.2, "norm": "instance"},
        (2, 1, 24, 24, 24),
    ),
    "dilated2d": (
        {"layout": "authors", "features": 16, "dilations": [1, 1, 2, 4, 8, 1], "head": [32, 64]}
        | {"dropout": 0.2},
        (2, 1, 57, 57),
    ),
}


def step_ms(name: str, channels_last: bool, steps: int) -> float:
    """Milliseconds per training step of a freshly built network in one layout."""
    kwargs, shape = NETWORKS[name]
    torch.manual_seed(0)
    net = build_network(name, 1, 5, **kwargs)
    if channels_last:
        to_channels_last(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    image = torch.randn(*shape)

    def step() -> None:
        out = net(image)
        target = torch.zeros(out.shape[0], *out.shape[2:], dtype=torch.long)
        loss = torch.nn.functional.cross_entropy(out, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(3):  # warm-up
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'network':10s} {'default ms':>11s} {'channels-last ms':>17s} {'ratio':>6s}")
    for name in NETWORKS:
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for layout in (False, True):
                times[layout].append(step_ms(name, layout, args.steps))
        default, fast = statistics.median(times[False]), statistics.median(times[True])
        print(f"{name:10s} {default:11.1f} {fast:17.1f} {fast / default:6.2f}")


if __name__ == "__main__":
    main()
