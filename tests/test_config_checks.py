"""Bad values in a study file are refused while the config is read, with the key named."""

from __future__ import annotations

import copy

import pytest
from conftest import make_tiny
from test_workflow import teacher_config

from kdseg import config as kdcfg
from kdseg.data.study_data import validate_study
from kdseg.errors import ConfigError


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    own = make_tiny(tmp_path_factory.mktemp("own") / "Dataset007_Own", "thorax", cases=5)
    return teacher_config(own)


def _validated(config: dict) -> dict:
    config = copy.deepcopy(config)
    validate_study(config)
    return config


def test_the_tiny_study_is_valid(study):
    _validated(study)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["architectures"]["unet"]["kwargs"].update(colour=3),
            "config key 'architectures.unet' (dataset Heart): architecture 'unet3d': bad "
            "arguments (unknown keyword 'colour'; accepted: features, norm)",
        ),
        (
            lambda c: c["architectures"]["unet"].update(network="monai:NoSuchNet"),
            "architecture 'monai:NoSuchNet': no such network in monai.networks.nets",
        ),
        (
            lambda c: c["training"].update(optimizer={"name": "adam", "lr": "1e-3x"}),
            "config key 'training.optimizer.lr': '1e-3x' is not of type 'number'",
        ),
        (
            lambda c: c["training"].update(optimizer={"name": "adam", "lr": 1e-3, "bta": 1}),
            "config key 'training.optimizer': bad arguments for adam (unknown keyword 'bta'",
        ),
        (
            lambda c: c["training"].update(optimizer={"name": "sgd", "lr": 0.1, "nesterov": 1}),
            "config key 'training.optimizer': Nesterov momentum requires a momentum",
        ),
        (
            lambda c: c["training"].update(schedule={"name": "step"}),
            "config key 'training.schedule': schedule 'step' needs 'step_size'",
        ),
        (
            lambda c: c["training"].update(schedule={"name": "poly", "powr": 2}),
            "config key 'training.schedule.powr': unknown key",
        ),
        (
            lambda c: (
                c["datasets"]["Heart"].update(training={"weights": "best"})
                or c["datasets"]["Heart"]["splits"].update(validation=0)
            ),
            "config key 'datasets.Heart.training.weights': 'best' needs validation",
        ),
        (
            lambda c: c["training"].update(iterations=10**12),
            "config key 'training.iterations': 1000000000000 is greater than the maximum",
        ),
        (
            lambda c: c["training"].update(optimizer={"name": "adam", "lr": -0.1}),
            "config key 'training.optimizer.lr': -0.1 is less than or equal to the minimum of 0",
        ),
        (
            lambda c: c["training"].update(weights="best", validate_every=0),
            "config key 'training.weights': 'best' needs validation",
        ),
        (
            lambda c: c.update(data_dir="/"),
            "config key 'data_dir': '/' is not a folder to write in",
        ),
        (
            lambda c: c.update(results_dir=""),
            "config key 'results_dir': '' should be non-empty",
        ),
        (
            lambda c: c.update(results_dir="//"),
            "config key 'results_dir': '//' is not a folder to write in",
        ),
        (
            lambda c: c["datasets"]["Heart"]["splits"].update(test=3),
            "config key 'datasets.Heart.splits': splits: test (3) + validation (0) leave no "
            "training patient out of 3",
        ),
        (
            lambda c: c["architectures"]["unet"].update(training={"iteratons": 5}),
            "config key 'architectures.unet.training'",
        ),
        (
            lambda c: c["architectures"]["unet"].update(
                training={"optimizer": {"name": "adam", "lr": -1.0}}
            ),
            "config key 'architectures.unet.training.optimizer.lr'",
        ),
    ],
)
def test_bad_value_is_refused_naming_its_key(study, edit, message):
    config = copy.deepcopy(study)
    edit(config)
    with pytest.raises(ConfigError) as err:
        validate_study(config)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("device", "local", "message"),
    [
        ("gpu", True, "config key 'training.device': 'gpu' is not a torch device"),
        ("cuda:0", False, "'cuda:0' but resources.train.gpu is 0: those jobs would get no GPU"),
    ],
)
def test_device_needs_a_gpu_where_jobs_run(study, device, local, message):
    config = copy.deepcopy(study)
    config["training"]["device"] = device
    config = _validated(config)
    with pytest.raises(ConfigError) as err:
        kdcfg.check_device(config, local=local)
    assert message in str(err.value)


def test_cuda_on_a_cluster_with_gpu_jobs_is_accepted(study):
    config = copy.deepcopy(study)
    config["training"]["device"] = "cuda"
    config["resources"] = {"train": {"gpu": 1}, "predict": {"gpu": 1}}
    kdcfg.check_device(_validated(config), local=False)


def test_duplicate_key_is_refused_with_both_lines(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("study: a\ntraining:\n  iterations: 5\n  iterations: 6\n")
    with pytest.raises(ConfigError, match=r"config key 'iterations' given twice in one mapping "
                       r"\(lines 3 and 4 of .*study.yaml\)"):  # fmt: skip
        kdcfg.read_study_file(path)


def test_canonical_sorts_every_mapping_and_keeps_lists():
    value = {"b": {"y": 1, "x": [{"q": 1, "p": 2}]}, "a": 0, 1: "one"}
    out = kdcfg.canonical(value)
    assert list(out) == [1, "a", "b"] and list(out["b"]) == ["x", "y"]
    assert list(out["b"]["x"][0]) == ["p", "q"] and out == value


def test_an_architecture_may_train_longer_than_the_others(study):
    config = copy.deepcopy(study)
    config["architectures"]["dilated"]["training"] = {"iterations": 24}
    config["datasets"]["Heart"]["architectures"]["dilated"]["training"] = {"batch_size": 3}
    validate_study(config)
    own = kdcfg.training_settings(config, "Own", "dilated")
    assert own["iterations"] == 24 and own["batch_size"] == 2
    heart = kdcfg.training_settings(config, "Heart", "dilated")
    assert heart["iterations"] == 24 and heart["batch_size"] == 3
    assert kdcfg.training_settings(config, "Own", "unet")["iterations"] == 8
    assert kdcfg.training_settings(config, "Own") == kdcfg.training_settings(config, "Own", "unet")
    # what a network is built from does not carry the training changes
    assert "training" not in kdcfg.trained_architecture(config, "Own", "dilated")
