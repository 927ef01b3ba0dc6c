"""What reading the workflow costs: dry-runs of the default and the paper study, and a config
error, against the dry-run of a one-rule Snakefile, side by side (median of ``--repeats``).

    python benchmarks/workflow_parse.py [--repeats 5]

Target (issue 17): each at most 1.5 s more than the one-rule Snakefile, i.e. reading the
workflow never imports torch or MONAI (``tests/test_floors.py`` asserts the imports).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--cores", "1", "--dry-run", "--quiet", "all"]


def seconds(args: list[str], cwd: Path, repeats: int, expect_error: bool = False) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if (out.returncode != 0) != expect_error:
            raise SystemExit(f"unexpected exit {out.returncode}: {out.stderr[-2000:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp)
        (one / "Snakefile").write_text(
            'rule all:\n    output: "x.txt"\n    shell: "touch {output}"\n'
        )
        broken = one / "broken.yaml"
        broken.write_text((REPO / "config" / "config.yaml").read_text().replace(
            "iterations: 800", "iterations: eight hundred"))  # fmt: skip
        reference = seconds([], one, args.repeats)
        rows = [
            ("one-rule Snakefile (reference)", reference),
            ("default study (config/config.yaml)", seconds([], REPO, args.repeats)),
            ("paper study (config/paper.yaml)",
             seconds(["--configfile", "config/paper.yaml"], REPO, args.repeats)),
            ("config error (a string for training.iterations)",
             seconds(["--configfile", str(broken)], REPO, args.repeats, expect_error=True)),
        ]  # fmt: skip
    print(f"| dry-run | seconds (median of {args.repeats}) | minus reference |")
    print("|---|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.2f} | {value - reference:+.2f} |")


if __name__ == "__main__":
    main()
