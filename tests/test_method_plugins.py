"""Methods are plug-ins: the registry, the schema's method enum and the trainer lookup come
from the one declaration per method, and a new method is two new files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import kdseg.config.methods as methods
import kdseg.distill.trainers as trainers
from kdseg import config as kdcfg
from kdseg.config.students import phase_settings
from kdseg.config.study_file import read_study_file
from kdseg.config.validation import schema_document, validate_config
from kdseg.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "config" / "kd-methods.yaml"

# the walk-through of docs/development.md: a method's declaration and its trainer
TOY_METHOD = '''
    """A throw-away method: the paper's KD loss from an ensemble's soft labels."""

    from kdseg.config.methods.base import KD_LOSS_KEYS, StudentMethod, TeacherNeeds
    from kdseg.config.model_ids import teacher_model


    class ToyKD(StudentMethod):
        name = "toy"
        keys = ("ensembles", *KD_LOSS_KEYS)
        loss_keys = KD_LOSS_KEYS
        summary = "the paper's KD, again"

        def needs(self, config, run):
            return TeacherNeeds(soft_labels=(teacher_model(config, run.teacher),))


    METHOD = ToyKD()
'''
TOY_TRAINER = '''
    """How the throw-away method trains (here: it records its arguments)."""

    CALLS = []


    def train(settings, teachers, **common):
        CALLS.append((settings, teachers, common))
        return {"distillation": settings}
'''


def schema_methods() -> list[str]:
    return schema_document()["$defs"]["student"]["properties"]["method"]["enum"]


def test_registry_schema_enum_and_trainers_agree():
    assert list(methods.METHODS) == sorted(methods.METHODS) == schema_methods()
    assert methods.discover() == methods.METHODS
    assert {"kd", "adaptive", "feature", "online", "assistant"} <= set(methods.METHODS)
    declared = schema_document()["$defs"]["student"]["properties"]
    for name, method in methods.METHODS.items():
        assert method.name == name and method.summary
        assert set(method.loss_keys) <= set(method.keys) <= set(declared), name
        train = trainers.trainer_of(name)
        assert callable(train) and train.__module__ == method.trainer_module
    # online KD's phase 2 and every assistant link train as the paper's students
    assert trainers.trainer_of("online") is trainers.trainer_of("kd")
    assert trainers.trainer_of("assistant") is trainers.trainer_of("kd")
    with pytest.raises(KeyError, match="unknown student method 'nope'"):
        trainers.trainer_of("nope")


@contextmanager
def toy_method(root: Path) -> Iterator[None]:
    """``toy.py`` in a folder added to each package's path, the registry discovered again."""
    for package, text in ((methods, TOY_METHOD), (trainers, TOY_TRAINER)):
        folder = root / package.__name__
        folder.mkdir()
        (folder / "toy.py").write_text(textwrap.dedent(text))
    saved = dict(methods.METHODS)
    paths = {package: list(package.__path__) for package in (methods, trainers)}
    try:
        for package in paths:
            package.__path__.append(str(root / package.__name__))
        methods.METHODS.update(methods.discover())
        schema_document.cache_clear()
        yield
    finally:
        for package, path in paths.items():
            package.__path__[:] = path
            sys.modules.pop(f"{package.__name__}.toy", None)
        methods.METHODS.clear()
        methods.METHODS.update(saved)
        schema_document.cache_clear()


def _study_with_toy() -> dict:
    config = read_study_file(STUDY)
    config["students"]["toy"] = {
        "method": "toy", "ensembles": ["teacher"], "architecture": "small", "temperature": 2.0,
    }  # fmt: skip
    return config


def test_a_new_method_is_two_new_files(tmp_path):
    with pytest.raises(ConfigError, match=r"^config key 'students.toy.method': .*'toy'"):
        validate_config(_study_with_toy())
    with toy_method(tmp_path):
        assert "toy" in schema_methods()
        config = _study_with_toy()
        validate_config(config)  # accepted by the schema and the method's checks
        assert kdcfg.student_settings(config, "toy") == {
            "method": "toy", "soft_loss": "mse", "temperature": 2.0, "hard_weight": 0.1,
            "soft_dice_weight": 0.0, "soften": "members",
        }  # fmt: skip
        assert "students/toy/teacher/small/seed1" in kdcfg.student_models(config)
        needs = kdcfg.student_needs(config, "students/toy/teacher/small/seed1")
        assert needs.soft_labels == ("teachers/large-ce/seed1",)
        with pytest.raises(ConfigError, match=r"'students\.toy\.tau': not used by method 'toy'"):
            validate_config({**_study_with_toy(), "students": {"toy": {
                "method": "toy", "ensembles": ["teacher"], "architecture": "small", "tau": 1.0,
            }}})  # fmt: skip
        result = trainers.train_student("toy", {"temperature": 2.0}, {"soft_labels": ["s"]}, seed=3)
        toy = sys.modules["kdseg.distill.trainers.toy"]
        assert result == {"distillation": {"temperature": 2.0}}
        assert toy.CALLS[0][1].soft_labels == ["s"] and toy.CALLS[0][2] == {"seed": 3}
    assert "toy" not in methods.METHODS and "toy" not in schema_methods()


def test_online_phase_is_a_hook_of_its_method():
    """What rules/common.smk computes for online KD's phase 1 (the entry's settings without
    phase 2's init) is the method's phase settings; other methods have no phase."""
    config = kdcfg.load_config(STUDY)
    for name, entry in config["students"].items():
        phase = phase_settings(config, name)
        settings = kdcfg.student_settings(config, name)
        if entry["method"] == "online":
            assert "init" in settings and phase == {
                k: v for k, v in settings.items() if k != "init"
            }
            assert methods.method_of(entry).phase_models(config, name)
        else:
            assert phase == settings
            assert methods.method_of(entry).phase_models(config, name) == []
            assert methods.method_of(entry).phase is None


def _code_lines(text: str) -> list[str]:
    """A rule file's lines outside comments and docstrings."""
    lines, in_doc = [], False
    for line in text.splitlines():
        stripped = line.strip()
        quotes = stripped.count('"""')
        if in_doc or quotes:
            in_doc = in_doc != (quotes % 2 == 1)
            continue
        if not stripped.startswith("#"):
            lines.append(line)
    return lines


def test_a_methods_phase_is_a_rule_built_from_its_declaration():
    """rules/ name no method: online KD's phase-1 rule, its outputs, log and partner params
    come from ``OnlineKD.phase`` (docs/development.md#adding-a-method)."""
    phases = kdcfg.method_phases()
    assert [p.rule for p in phases] == ["train_online"]
    (online,) = phases
    assert online.model.split("/")[0] in kdcfg.model_ids.KINDS
    for rules in sorted((REPO / "rules").glob("*.smk")):
        code = "\n".join(_code_lines(rules.read_text()))
        assert "online" not in code, rules.name
    listed = subprocess.run(
        [sys.executable, "-m", "snakemake", "--list-rules", "--configfile", str(STUDY)],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "train_online (A method's own training phase" in listed
