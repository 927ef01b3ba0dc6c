"""Typed training settings: built once per job from the planned ``training`` section, their
defaults the schema's (no default restated in the training code)."""

import dataclasses
import re
from pathlib import Path

import pytest

from kdseg.config import load_config, training_settings
from kdseg.config.validation import schema_document
from kdseg.errors import ConfigError
from kdseg.train.settings import TrainingSection, TrainSettings

REPO = Path(__file__).resolve().parents[1]
TRAINING_KEYS = sorted(schema_document()["$defs"]["training"]["properties"])


def _typed(section: TrainingSection) -> dict:
    return {f.name: getattr(section, f.name) for f in dataclasses.fields(section)
            if f.name != "section"}  # fmt: skip


def test_keys_left_out_take_the_schema_defaults():
    """A planned section (every default filled in by the schema) and the same section without
    the keys whose value is the schema's default give the same typed settings."""
    config = load_config(REPO / "config" / "config.yaml")
    dataset = next(iter(config["datasets"]))
    planned = training_settings(config, dataset)
    properties = schema_document()["$defs"]["training"]["properties"]
    defaults = {k: p["default"] for k, p in properties.items() if "default" in p}
    sparse = {k: v for k, v in planned.items() if defaults.get(k, object()) != v}
    assert set(sparse) < set(planned)  # some keys were left out
    for nested in ("sampling", "augmentation"):  # and keys inside the sections
        inner = {k: p.get("default") for k, p in properties[nested]["properties"].items()}
        sparse[nested] = {k: v for k, v in planned[nested].items() if inner.get(k) != v}
    assert _typed(TrainingSection.of(sparse)) == _typed(TrainingSection.of(planned))
    assert TrainingSection.of(sparse).section == sparse  # recorded as given


def test_the_loop_settings_are_frozen_and_checked():
    settings = TrainingSection.of({"batch_size": 2, "iterations": 7})
    assert settings.loop == TrainSettings(batch_size=2, iterations=7)
    assert TrainingSection.of(settings) is settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.loop.iterations = 8  # type: ignore[misc]
    with pytest.raises(ConfigError, match=r"sampling: unknown key\(s\) \['rules'\]"):
        TrainingSection.of({"sampling": {"rules": "authors"}})


def test_no_training_default_is_restated_in_the_training_code():
    """``training.get("<key>", <default>)`` is gone from the training code and the trainers:
    the typed settings carry the schema's defaults."""
    pattern = re.compile(r"training\.get\(\s*[\"'](" + "|".join(TRAINING_KEYS) + r")[\"']\s*,")
    files = [*(REPO / "src/kdseg/train").glob("*.py"),
             *(REPO / "src/kdseg/distill/trainers").glob("*.py")]  # fmt: skip
    found = [f"{f.name}: {m.group(0)}" for f in files for m in pattern.finditer(f.read_text())]
    assert found == []
    # the check finds what it looks for
    assert pattern.search('training.get("padding", "edge")')
