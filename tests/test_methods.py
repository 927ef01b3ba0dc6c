"""The student method registry: config checks, model ids, comparisons and each method's loss."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from kdseg import config as kdcfg
from kdseg.config.methods.assistant import geometric_mean_width
from kdseg.data.splits import training_subset
from kdseg.distill.features import FeatureKDLoss, feature_channels
from kdseg.distill.kd_loss import KDLoss
from kdseg.distill.trainers.adaptive import adaptive_step_loss
from kdseg.distill.trainers.feature import FeatureStep, default_layers
from kdseg.distill.trainers.online import OnlinePair, online_step_loss
from kdseg.errors import ConfigError
from kdseg.nets import build_network

BASE = {
    "architectures": {
        "large": {"network": "unet3d", "kwargs": {"features": [16, 32]}, "patch": [8, 8, 8]},
        "small": {"network": "unet3d", "kwargs": {"features": [4, 8]}, "patch": [8, 8, 8]},
    },
    "losses": {"ce": {"name": "ce"}},
    "ensembles": {
        "big": {"architectures": ["large"], "losses": ["ce"], "seeds": [1]},
        "limit": {"architectures": ["small"], "losses": ["ce"], "seeds": [1], "subsets": 3},
        "pair": {"architectures": ["small"], "losses": ["ce"], "seeds": [1, 2]},
    },
    "students": {
        "kd": {"ensembles": ["pair", "big"], "architecture": "small"},
        "adaptive": {"method": "adaptive", "ensembles": ["limit"], "architecture": "small"},
        "feature": {"method": "feature", "ensembles": ["big"], "architecture": "small"},
        "online": {"method": "online", "teacher": {"architecture": "large", "loss": "ce"},
                   "architecture": "small"},
        "ta": {"method": "assistant", "ensembles": ["big"], "architecture": "small"},
    },
    "baselines": {"architectures": ["small"], "loss": "ce", "seeds": [1]},
    "datasets": {"D": {"source": "phantom", "splits": {"test": 1, "validation": 1}}},
}  # fmt: skip


def validated(changes=None) -> dict:
    config = copy.deepcopy(BASE)
    (changes or (lambda c: None))(config)
    kdcfg.validate_config(config)
    return config


def test_model_ids_of_every_method():
    config = validated()
    assert kdcfg.ensemble_members(config, "limit") == [
        f"teachers/small-ce/subset{k}of3/seed1" for k in (1, 2, 3)
    ]
    assert "teachers/large-ce/seed1" in kdcfg.teacher_models(config)
    assert kdcfg.student_models(config) == [
        "students/kd/pair/small/seed1", "students/kd/big/small/seed1",
        "students/adaptive/limit/small/seed1", "students/feature/big/small/seed1",
        "students/online/large-ce/small/seed1",
        "students/ta/big/ta_assistant/seed1", "students/ta/big/small/seed1",
    ]  # fmt: skip
    assert "students/ta/big/ta_assistant/seed1" not in kdcfg.student_models(config, final=True)
    assert kdcfg.phase_models(config) == [
        "online/online/large-ce/small/seed1/teacher", "online/online/large-ce/small/seed1/student"
    ]  # fmt: skip
    # the derived assistant: geometric mean width, registered as an architecture
    assert config["architectures"]["ta_assistant"]["kwargs"]["features"] == [8, 16]
    assert kdcfg.model_architecture(config, "online/online/large-ce/small/seed1/teacher") == "large"
    assert kdcfg.model_architecture(config, "teachers/small-ce/subset2of3/seed1") == "small"


def test_what_each_student_needs_from_its_teachers():
    config = validated()
    needs = lambda m: kdcfg.student_needs(config, m)  # noqa: E731
    assert needs("students/kd/pair/small/seed1").soft_labels == ("ensembles/pair",)
    # a one-member ensemble is its member
    assert needs("students/kd/big/small/seed1").soft_labels == ("teachers/large-ce/seed1",)
    assert needs("students/adaptive/limit/small/seed1").soft_labels == tuple(
        kdcfg.ensemble_members(config, "limit")
    )
    assert needs("students/feature/big/small/seed1").models == ("teachers/large-ce/seed1",)
    online = needs("students/online/large-ce/small/seed1")
    assert online.soft_labels == ("online/online/large-ce/small/seed1/teacher",)
    assert online.init == "online/online/large-ce/small/seed1/student"
    assert needs("students/ta/big/small/seed1").soft_labels == (
        "students/ta/big/ta_assistant/seed1",
    )
    assert kdcfg.student_settings(config, "adaptive") == {
        "method": "adaptive", "soft_loss": "mse", "temperature": 1.0, "hard_weight": 0.1,
        "tau": 1.0, "soft_dice_weight": 0.0,
    }  # fmt: skip
    assert "tau" not in kdcfg.student_settings(config, "kd")


def test_comparisons_cover_baseline_teacher_and_other_students():
    config = validated()
    pairs = kdcfg.paper_comparisons(config)
    names = [p[0] for p in pairs]
    assert ("student vs teacher", "students/feature/big/small/seed1",
            "teachers/large-ce/seed1", "methods") in pairs  # fmt: skip
    assert ("student vs teacher", "students/ta/big/small/seed1",
            "students/ta/big/ta_assistant/seed1", "methods") in pairs  # fmt: skip
    assert ("student vs ensemble limit", "students/adaptive/limit/small/seed1",
            "ensembles/limit", "methods") in pairs  # fmt: skip
    # the paper's comparisons are a family of their own: kd students of a real ensemble
    assert ("student vs ensemble pair", "students/kd/pair/small/seed1", "ensembles/pair",
            "paper") in pairs  # fmt: skip
    assert ("student vs baseline", "students/kd/big/small/seed1", "baselines/small-ce/seed1",
            "methods") in pairs  # fmt: skip
    # one-member ensembles are not compared with their member
    assert "ensemble big vs member" not in names
    finals = kdcfg.student_models(config, final=True)
    assert names.count("student vs baseline") == len(finals)
    # every two final students of different entries (kd has two: 4 x 2 + ... pairs)
    assert names.count("student vs student") == 6 * 5 // 2 - 1  # kd's own pair is "from .. vs"
    models, methods, baselines = kdcfg.compared_students(config)
    assert models == [*finals, "baselines/small-ce/seed1"]
    assert methods["students/online/large-ce/small/seed1"] == "online"
    assert set(baselines.values()) == {"baselines/small-ce/seed1"}


def test_online_students_are_compared_with_a_baseline_of_their_budget():
    """Online KD's student trains phase 1 + phase 2: twice the iterations. With
    ``baselines.budgets: [1, 2]`` it is compared with the baseline of twice the iterations,
    every other student with the baseline of the study's iterations."""
    config = validated(lambda c: c["baselines"].update(budgets=[1, 2]))
    assert kdcfg.baseline_models(config) == ["baselines/small-ce/seed1",
                                             "baselines/small-ce/x2/seed1"]  # fmt: skip
    _, _, baseline_of = kdcfg.compared_students(config)
    assert baseline_of["students/online/large-ce/small/seed1"] == "baselines/small-ce/x2/seed1"
    assert baseline_of["students/kd/big/small/seed1"] == "baselines/small-ce/seed1"
    pairs = kdcfg.paper_comparisons(config)
    assert ("student vs baseline", "students/online/large-ce/small/seed1",
            "baselines/small-ce/x2/seed1", "methods") in pairs  # fmt: skip
    assert kdcfg.model_architecture(config, "baselines/small-ce/x2/seed1") == "small"
    assert kdcfg.scaled_training({"iterations": 400, "validate_every": 100}, 2) == {
        "iterations": 800, "validate_every": 100}  # fmt: skip
    # from scratch, phase 2 alone: the budget of the baseline
    config["students"]["online"]["init"] = "scratch"
    _, _, baseline_of = kdcfg.compared_students(config)
    assert baseline_of["students/online/large-ce/small/seed1"] == "baselines/small-ce/seed1"
    # without a baseline of its budget, the student keeps the study's (the difference is stated)
    _, _, baseline_of = kdcfg.compared_students(validated())
    assert baseline_of["students/online/large-ce/small/seed1"] == "baselines/small-ce/seed1"


def test_a_baseline_equal_to_a_teacher_reuses_it():
    config = validated(lambda c: c["baselines"].update(budgets=[1, 2], seeds=[1, 3]))
    # teachers small-ce seed 1 and 2 (ensemble pair): the seed-1 baseline is that teacher
    assert kdcfg.teacher_equal_to_baseline(config, "baselines/small-ce/seed1") == (
        "teachers/small-ce/seed1"
    )
    assert kdcfg.teacher_equal_to_baseline(config, "baselines/small-ce/seed3") is None
    assert kdcfg.teacher_equal_to_baseline(config, "baselines/small-ce/x2/seed1") is None
    # a subset teacher (limit) trained on a third of the cases is not the same network
    config = validated(lambda c: c["ensembles"].pop("pair") and c["students"]["kd"].update(
        ensembles=["big"]))  # fmt: skip
    assert "teachers/small-ce/subset1of3/seed1" in kdcfg.teacher_models(config)
    assert kdcfg.teacher_equal_to_baseline(config, "baselines/small-ce/seed1") is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["students"]["kd"].update(tau=2), "'students.kd.tau': not used by method 'kd'"),
        (
            lambda c: c["students"]["feature"].update(ensembles=["pair"]),
            "method 'feature' needs one teacher, ensemble 'pair' has 2",
        ),
        (
            lambda c: c["students"]["online"].pop("teacher"),
            "'students.online.teacher': required by method 'online'",
        ),
        (
            lambda c: c["students"]["adaptive"].pop("ensembles"),
            "'students.adaptive.ensembles': required by method 'adaptive'",
        ),
        (
            lambda c: c["students"]["ta"].update(assistants=["huge"]),
            "'students.ta.assistants': 'huge' is not defined",
        ),
        (lambda c: c["students"]["kd"].update(method="magic"), "students.kd.method"),
    ],
)
def test_bad_method_entries_are_named(edit, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        validated(edit)


def test_assistant_needs_matching_networks_or_named_assistants():
    def other(c):
        c["architectures"]["res"] = {"network": "resnet3d", "kwargs": {"features": 4},
                                     "patch": [8, 8, 8]}  # fmt: skip
        c["students"]["ta"]["architecture"] = "res"

    with pytest.raises(ConfigError, match=r"students\.ta\.assistants': cannot derive"):
        validated(other)
    assert geometric_mean_width([32, 64], [8, 16]) == [16, 32]
    assert geometric_mean_width(32, 2) == 8


def test_training_subsets_are_disjoint_and_cover_the_training_cases():
    cases = [f"c{i}" for i in range(7)]
    parts = [training_subset(cases, f"subset{k}of3", seed=0) for k in (1, 2, 3)]
    assert sorted(c for part in parts for c in part) == cases and sum(map(len, parts)) == 7
    with pytest.raises(ConfigError, match="subset4of3"):
        training_subset(cases, "subset4of3", seed=0)


def _batch(num_classes=3, size=8):
    torch.manual_seed(0)
    labels = torch.randint(0, num_classes, (2, size, size, size))
    return {"image": torch.randn(2, 1, size, size, size), "label": labels}


def test_adaptive_step_with_agreeing_teachers_is_the_kd_loss():
    batch = _batch()
    probs = torch.rand(2, 3, 8, 8, 8)
    probs = probs / probs.sum(1, keepdim=True)
    stored = torch.round(probs * 255)  # as the 8-bit soft labels arrive in a batch
    batch.update(soft0=stored, soft1=stored.clone())
    net = build_network("unet3d", 1, 3, features=[2, 4])
    settings = {"soft_loss": "mse", "temperature": 1.0, "hard_weight": 0.1, "tau": 0.5}
    step = adaptive_step_loss(settings, 2)(3, torch.device("cpu"), net)
    target = stored / stored.sum(1, keepdim=True)  # 8-bit probabilities renormalised
    expected = KDLoss("mse", 1.0, 0.1)(net(batch["image"]), target, batch["label"])
    assert torch.allclose(step(net, batch), expected, atol=1e-6)


def test_feature_step_trains_student_and_adapters_never_the_teacher():
    batch = _batch()
    student = build_network("unet3d", 1, 3, features=[2, 4])
    teacher = build_network("unet3d", 1, 3, features=[4, 8]).eval().requires_grad_(False)
    layers = default_layers(student)
    assert layers == ["down.1", "merge.0"]
    loss = FeatureKDLoss(3, feature_channels(student, layers, batch["image"]),
                         feature_channels(teacher, layers, batch["image"]))  # fmt: skip
    step = FeatureStep(loss, teacher, layers, layers)
    # the teacher is not part of the step's parameters (neither trained nor checkpointed)
    assert {n.split(".")[0] for n, _ in step.named_parameters()} == {"loss"}
    value = step(student, batch)
    value.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    assert all(p.grad is not None for p in loss.adapters.parameters())
    assert all(p.grad is None for p in teacher.parameters())
    assert not teacher.training


def test_online_step_the_student_term_never_moves_the_teacher():
    batch = _batch()
    torch.manual_seed(1)
    pair = OnlinePair(build_network("unet3d", 1, 3, features=[4, 8]),
                      build_network("unet3d", 1, 3, features=[2, 4]))  # fmt: skip
    kd = KDLoss("mse", 1.0, 0.1)
    online_step_loss(torch.nn.CrossEntropyLoss(), kd)(pair, batch).backward()
    teacher_grads = [p.grad.clone() for p in pair.teacher.parameters()]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in pair.student.parameters())
    pair.zero_grad()
    F.cross_entropy(pair.teacher(batch["image"]), batch["label"]).backward()
    for alone, joint in zip((p.grad for p in pair.teacher.parameters()), teacher_grads,
                            strict=True):  # fmt: skip
        assert torch.allclose(alone, joint, atol=1e-6)
