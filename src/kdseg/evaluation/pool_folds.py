"""A cross-validated dataset's test predictions of one model: each fold's predictions of the
cases it held out, pooled into one folder, so that metrics, statistics, tables and figures
see every case once (``splits.folds``; :mod:`kdseg.config.folds`). Torch-free."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kdseg.errors import KdsegError
from kdseg.runtime.atomic import atomic_dir

log = logging.getLogger("kdseg")


def pool_predictions(fold_dirs: Sequence[str | Path], out_dir: str | Path) -> dict[str, Any]:
    """Pool the folds' prediction folders into ``out_dir`` (files linked, not copied, where
    the file system allows); ``inference.json`` joins the folds' per-case timings. A case that
    two folds predicted stops the job: each case is tested by exactly one fold."""
    summaries, owner = [], {}
    for fold_dir in map(Path, fold_dirs):
        path = fold_dir / "inference.json"
        if not path.is_file():
            raise KdsegError(f"{path}: missing (the fold's predictions are incomplete)")
        summary = json.loads(path.read_text())
        for case in summary.get("seconds_per_case", {}):
            if case in owner:
                raise KdsegError(
                    f"{path}: case {case!r} is also a test case of {owner[case]}: the folds' "
                    "test cases must be disjoint"
                )
            owner[case] = fold_dir
        summaries.append(summary)
    timings = {c: t for s in summaries for c, t in s.get("seconds_per_case", {}).items()}
    with atomic_dir(Path(out_dir)) as tmp:
        for fold_dir in map(Path, fold_dirs):
            for src in sorted(fold_dir.iterdir()):
                # not inference.json (joined below), nor hidden files such as Snakemake's
                # .snakemake_timestamp: a link to it would share its time stamp with the fold's
                if src.name != "inference.json" and not src.name.startswith(".") and src.is_file():
                    _link_or_copy(src, tmp / src.name)
        memory = [s["peak_memory_mb"] for s in summaries if s.get("peak_memory_mb") is not None]
        pooled = {
            **summaries[0],
            "folds": [str(d) for d in fold_dirs],
            "seconds_per_case": dict(sorted(timings.items())),
            "mean_seconds_per_case": float(np.mean(list(timings.values()))) if timings else None,
            "peak_memory_mb": max(memory) if memory else None,
        }
        (tmp / "inference.json").write_text(json.dumps(pooled, indent=2) + "\n")
    log.info("pooled %d test cases of %d folds into %s", len(timings), len(fold_dirs), out_dir)
    return pooled


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
