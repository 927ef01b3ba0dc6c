"""Learning curves: validation Dice per structure against the training budget, beside the
ensemble's, for a label-trained network (the baseline, also an ensemble member) and the
ensemble's student, on a finished study.

For each dataset and budget B (iterations), both networks are trained afresh for B iterations
with the study's settings (the schedule decays over B, as a study of that budget would) and
validated every B/4 iterations; the table prints the final per-structure validation Dice, the
mean, what the last quarter gained (the curve rule: settled when < 0.01) and, once per dataset,
the ensemble's validation Dice (its members as the study trained them) as the reference line.
With ``--seeds`` several seeds are trained per budget, which measures the spread of a result
over training seeds (what another machine's floating point changes, too).

    python benchmarks/learning_curves.py --study results/demo [--configfile config/config.yaml]
        [--datasets Thorax,Brain,Cardiac] [--budgets 200,400,800,1600 | study] [--seeds 1]
        [--ensemble diverse] [--student kd] [--models baseline,student] [--out curves.csv]
        [--variant NAME=JSON ...]

``--variant authors='{"soft_loss": "mse", "soft_dice_weight": 0}'`` adds a student whose
settings are the study's with those changes (an ablation of the distillation loss or of where
its patches go); repeat it for several. ``--budgets study``: each dataset's own iterations for
the student's architecture (as the study trained it).

Needs the study's preprocessed data, ensemble members and soft labels (run the study first).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from kdseg import config as kdcfg
from kdseg.data.preprocess import load_manifest, open_case
from kdseg.distill.trainers.kd import train_from_soft_labels
from kdseg.ensemble.networks import Ensemble
from kdseg.evaluation.metrics import class_dice
from kdseg.report.training_table import curve_summary
from kdseg.train.segmentation import train_segmentation_model
from kdseg.train.validation import cases_of_split, validation_scores


def ensemble_reference(config: dict, study: Path, dataset: str, ensemble: str) -> dict:
    """The ensemble's mean and per-structure Dice on the validation cases the runs use."""
    pre = study / dataset / "preprocessed"
    manifest = load_manifest(pre)
    view = kdcfg.dataset_view(config, dataset)
    members = [study / dataset / m / "model.pt" for m in kdcfg.ensemble_members(view, ensemble)]
    labels = manifest["dataset"]["labels"]
    cases = cases_of_split(manifest, "validation")[: int(view["training"]["validation_cases"])]
    model = Ensemble(members, torch.device("cpu"))
    scores = []
    for name in cases:
        image, label = open_case(pre, name)
        scores.append(class_dice(model(image)[0].argmax(0), np.asarray(label), len(labels)))
    return validation_scores(scores, labels)


def train_one(
    kind: str,
    config: dict,
    study: Path,
    dataset: str,
    budget: int,
    seed: int,
    ensemble: str,
    student: str,
    out: Path,
    changes: dict | None = None,
) -> dict:
    """Train the baseline or the student (with ``changes`` to its settings) for ``budget``
    iterations; its final scores."""
    view = kdcfg.dataset_view(config, dataset)
    arch = (view["baselines"]["architectures"][0] if kind == "baseline"
            else view["students"][student]["architecture"])  # fmt: skip
    training = kdcfg.training_settings(view, dataset, arch)
    training.update(iterations=budget, validate_every=max(1, budget // 4),
                    checkpoint_every=budget, log_every=max(1, budget // 4))  # fmt: skip
    common = {
        "preprocessed": study / dataset / "preprocessed",
        "model_out": out / "model.pt", "history_out": out / "training.csv",
        "curves_out": out / "training.png", "checkpoint": out / "checkpoint.pt",
        "training": training, "seed": seed, "name": f"{dataset}/{kind}/{budget}/seed{seed}",
    }  # fmt: skip
    if kind == "baseline":
        loss = view["losses"][view["baselines"]["loss"]]
        train_segmentation_model(
            architecture=kdcfg.trained_architecture(view, dataset, arch), loss=loss, **common
        )
    else:
        settings = {**kdcfg.student_settings(view, student), **(changes or {})}
        settings.pop("method")
        soft = study / dataset / "ensembles" / ensemble / "soft_labels"
        train_from_soft_labels(
            soft, settings, architecture=kdcfg.trained_architecture(view, dataset, arch), **common
        )
    summary = curve_summary(kind, out / "training.csv")
    return {k: v for k, v in summary.items() if k.startswith("validation_dice")} | {
        "last_quarter_gain": summary["last_quarter_gain"]
    }


def study_budget(config: dict, dataset: str, student: str) -> int:
    """The iterations the study trains its student (and baseline) for on ``dataset``."""
    view = kdcfg.dataset_view(config, dataset)
    arch = view["students"][student]["architecture"]
    return int(kdcfg.training_settings(view, dataset, arch)["iterations"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", default="results/demo")
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--datasets", default=None, help="comma-separated (default: all)")
    parser.add_argument("--budgets", default="200,400,800,1600", help="or: study")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--ensemble", default="diverse")
    parser.add_argument("--student", default="kd")
    parser.add_argument("--models", default="baseline,student", help="baseline, student")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME=JSON: a student with these changes to its settings",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="also write the rows as CSV")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    study = Path(args.study)
    # the settings the study's jobs used: its datasets' plans applied
    config = kdcfg.apply_study_plans(kdcfg.load_config(args.configfile), study)
    datasets = args.datasets.split(",") if args.datasets else list(config["datasets"])
    fixed = None if args.budgets == "study" else [int(b) for b in args.budgets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    kinds = [(kind, None) for kind in args.models.split(",") if kind]
    for variant in args.variant:
        name, _, changes = variant.partition("=")
        kinds.append((name, json.loads(changes)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in datasets:
            ref = ensemble_reference(config, study, dataset, args.ensemble)
            rows.append({"dataset": dataset, "model": f"ensemble {args.ensemble}", **ref})
            print(pd.DataFrame([rows[-1]]).to_string(index=False), flush=True)
            for budget in fixed or [study_budget(config, dataset, args.student)]:
                for seed in seeds:
                    for kind, changes in kinds:
                        t0 = time.perf_counter()
                        out = Path(tmp) / f"{dataset}-{kind}-{budget}-{seed}"
                        out.mkdir()
                        scores = train_one("baseline" if kind == "baseline" else "student",
                                           config, study, dataset, budget, seed, args.ensemble,
                                           args.student, out, changes)  # fmt: skip
                        rows.append({"dataset": dataset, "model": kind, "iterations": budget,
                                     "seed": seed, **scores,
                                     "seconds": round(time.perf_counter() - t0, 1)})  # fmt: skip
                        print(pd.DataFrame([rows[-1]]).round(3).to_string(index=False),
                              flush=True)  # fmt: skip
    table = pd.DataFrame(rows)
    table.columns = [c.replace("validation_dice_", "") for c in table.columns]
    print(f"\nvalidation Dice (mean, per structure) on {' '.join(sys.argv[1:]) or 'defaults'}")
    print(table.round(3).to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
