"""An evaluate job's fixed cost against its work, at a case size of your choice.

Writes one synthetic reference and prediction (NIfTI, four structures shaped like SegTHOR's:
heart, aorta, trachea, oesophagus; the prediction the reference shifted by one voxel in every
axis, so every surface distance is real work), then measures side by side: the fixed cost
(a fresh interpreter importing the evaluate job script's modules: demo_stages.py's measure) and
the work per case (reading both files and every metric the job computes, in process). Prints
the fixed share of a job over ``--cases`` cases. The defaults are a SegTHOR-sized CT; the
demo's thorax phantom is ``--shape 64 64 48 --spacing 3 3 3 --cases 12``.

    python benchmarks/evaluate_scale.py [--shape 512 512 150] [--spacing 0.98 0.98 2.5]
        [--cases 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from demo_stages import import_seconds

from kdseg.data.nifti import affine_from_spacing, read_volume, write_volume
from kdseg.evaluation.metrics import overall_metrics, segmentation_metrics

REPO = Path(__file__).resolve().parents[1]
LABELS = {"esophagus": 1, "heart": 2, "trachea": 3, "aorta": 4}
EVALUATE_SCRIPT = REPO / "workflow" / "scripts" / "evaluate.py"


def thorax_labels(shape: tuple[int, int, int], spacing: tuple[float, ...]) -> np.ndarray:
    """A label map with SegTHOR's four structures at plausible sizes (mm), centred in x/y."""
    axes = (np.arange(n) * s for n, s in zip(shape, spacing, strict=True))
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    cx, cy = shape[0] * spacing[0] / 2, shape[1] * spacing[1] / 2
    length = shape[2] * spacing[2]
    labels = np.zeros(shape, np.uint8)
    heart = ((x - cx) / 60) ** 2 + ((y - cy - 30) / 50) ** 2 + ((z - 0.3 * length) / 45) ** 2
    labels[heart <= 1] = LABELS["heart"]
    tubes = {"aorta": (cx + 25, cy - 20, 12), "trachea": (cx, cy - 40, 9),
             "esophagus": (cx + 8, cy - 28, 5)}  # fmt: skip
    for name, (tx, ty, radius) in tubes.items():
        labels[((x - tx) ** 2 + (y - ty) ** 2 <= radius**2) & (z >= 0.2 * length)] = LABELS[name]
    return labels


def case_seconds(reference: Path, prediction: Path, repeats: int) -> float:
    """Median seconds of one case's work: read both files, then every metric."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ref = read_volume(reference, dtype=np.int16)
        pred = read_volume(prediction, dtype=np.int16)
        overall_metrics(pred.array, ref.array, len(LABELS) + 1)
        segmentation_metrics(pred.array, ref.array, ref.spacing, LABELS)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[512, 512, 150])
    parser.add_argument("--spacing", type=float, nargs=3, default=[0.98, 0.98, 2.5])
    parser.add_argument("--cases", type=int, default=10, help="test cases of one job")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    shape, spacing = tuple(args.shape), tuple(args.spacing)
    with tempfile.TemporaryDirectory() as tmp:
        reference = thorax_labels(shape, spacing)
        affine = affine_from_spacing(spacing)
        write_volume(Path(tmp) / "reference.nii.gz", reference, affine)
        write_volume(Path(tmp) / "prediction.nii.gz", np.roll(reference, 1, (0, 1, 2)), affine)
        per_case = case_seconds(Path(tmp) / "reference.nii.gz", Path(tmp) / "prediction.nii.gz",
                                args.repeats)  # fmt: skip
    fixed = import_seconds(EVALUATE_SCRIPT, args.repeats)
    work = per_case * args.cases
    print(f"case {'x'.join(map(str, shape))} at {'x'.join(map(str, spacing))} mm, "
          f"{int((reference > 0).sum())} foreground voxels")  # fmt: skip
    print(f"work per case {per_case:.3f} s; fixed (fresh interpreter, the job's imports) "
          f"{fixed:.3f} s; over {args.cases} cases the fixed share is "
          f"{fixed / (fixed + work):.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
