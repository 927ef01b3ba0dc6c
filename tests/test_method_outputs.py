"""What the student methods feed the workflow, pinned: the ``kd`` params of ``train_student``
(:func:`kdseg.config.student_settings`), the students, their teachers' outputs, baselines and
soft-label storage of every study config, as main computed them before methods became
plug-ins (tests/method_outputs.json, written by running this file as a script)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kdseg import config as kdcfg
from kdseg.config.model_ids import StudentRun
from kdseg.config.students import (
    baseline_of_student,
    phase_models,
    soft_label_storage,
    student_models,
    student_needs,
)
from kdseg.config.study_file import read_study_file
from kdseg.config.validation import validate_config

REPO = Path(__file__).resolve().parents[1]
PINNED = Path(__file__).with_name("method_outputs.json")
STUDIES = ("config/config.yaml", "config/kd-methods.yaml", "config/paper.yaml")


def _tempered(path: str, soften: str) -> dict[str, Any]:
    """A study with every student at temperature 2 (the paths that T != 1 takes)."""
    raw = read_study_file(REPO / path)
    for entry in raw["students"].values():
        entry["temperature"] = 2.0
        if entry.get("method", "kd") != "feature":
            entry["soften"] = soften
    validate_config(raw)
    return raw


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    **{path: (lambda path=path: kdcfg.load_config(REPO / path)) for path in STUDIES},
    "kd-methods T=2 members": lambda: _tempered("config/kd-methods.yaml", "members"),
    "kd-methods T=2 average": lambda: _tempered("config/kd-methods.yaml", "average"),
}


def snapshot(config: dict[str, Any]) -> dict[str, Any]:
    """Every method-derived value the rules read for one study."""
    students = student_models(config)
    storage = {}
    for ds in config["datasets"]:
        view = kdcfg.dataset_view(config, ds)
        sources = {s for m in student_models(view) for s in student_needs(view, m).soft_labels}
        storage.update({f"{ds}:{m}": soft_label_storage(view, m) for m in sorted(sources)})
    return {
        "settings": {name: kdcfg.student_settings(config, name) for name in config["students"]},
        "runs": students,
        "final": student_models(config, final=True),
        "online": phase_models(config),
        "teachers": kdcfg.student_teachers(config),
        "needs": {m: repr(student_needs(config, m)) for m in students},
        "baseline": {m: baseline_of_student(config, StudentRun.parse(m)) for m in students},
        "storage": storage,
    }


def snapshots() -> dict[str, Any]:
    return {name: snapshot(load()) for name, load in CASES.items()}


def test_method_outputs_are_unchanged():
    pinned = json.loads(PINNED.read_text())
    now = snapshots()
    assert list(now) == list(pinned)
    for name in pinned:
        # byte-identical params: same keys in the same order, same values
        assert json.dumps(now[name]) == json.dumps(pinned[name]), name


if __name__ == "__main__":
    json.dump(snapshots(), sys.stdout, indent=1)
    sys.stdout.write("\n")
