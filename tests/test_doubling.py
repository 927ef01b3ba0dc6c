"""Which networks the budget-doubling check trains again, and where each doubled run lives
(kdseg.config.doubling): no network trained twice."""

import copy

import pytest

from kdseg import config as kdcfg
from kdseg.errors import ConfigError

STUDY = {
    "study": "s",
    "datasets": {"D": {"source": "phantom", "phantom": {"kind": "thorax"}}},
    "architectures": {"unet": {"network": "unet3d"}, "resnet": {"network": "resnet3d"}},
    "ensembles": {"diverse": {"architectures": ["unet", "resnet"], "losses": ["ce"], "seeds": [1]}},
    "students": {"kd": {"ensembles": ["diverse"], "architecture": "unet"}},
    "baselines": {"architectures": ["unet"], "loss": "ce", "seeds": [1, 2]},
}


def study(networks, **changes):
    config = copy.deepcopy(STUDY) | changes
    config["doubling_check"] = {"networks": networks}
    kdcfg.validate_config(config)
    return config


def test_no_check_by_default():
    config = copy.deepcopy(STUDY)
    kdcfg.validate_config(config)
    assert kdcfg.doubling_kinds(config) == [] and kdcfg.doubling_checked(config) == []


def test_the_kinds_named_are_checked():
    assert kdcfg.doubling_checked(study(["students"])) == ["students/kd/diverse/unet/seed1"]
    assert kdcfg.doubling_checked(study(["teachers", "baselines"])) == [
        "teachers/resnet-ce/seed1", "teachers/unet-ce/seed1",
        "baselines/unet-ce/seed1", "baselines/unet-ce/seed2",
    ]  # fmt: skip


def test_where_each_doubled_run_lives():
    config = study(["students", "baselines"])
    assert kdcfg.doubled_run(config, "students/kd/diverse/unet/seed1") == (
        "doubled/students/kd/diverse/unet/seed1"
    )
    # a baseline's doubled run is a baseline of twice its budget
    assert kdcfg.doubled_run(config, "baselines/unet-ce/seed2") == (
        "doubled/baselines/unet-ce/x2/seed2"
    )
    # ... and the doubled teacher it equals when teachers are checked too (trained once)
    both = study(["teachers", "baselines"])
    assert kdcfg.doubled_run(both, "baselines/unet-ce/seed1") == "doubled/teachers/unet-ce/seed1"
    assert kdcfg.doubled_run(both, "baselines/unet-ce/seed2") == (
        "doubled/baselines/unet-ce/x2/seed2"
    )
    # ... and the study's own baseline of twice the budget when it trains one
    budgets = study(["baselines"], baselines=STUDY["baselines"] | {"budgets": [1, 2]})
    assert kdcfg.doubled_run(budgets, "baselines/unet-ce/seed1") == "baselines/unet-ce/x2/seed1"
    assert kdcfg.doubled_run(budgets, "baselines/unet-ce/x2/seed1") == (
        "doubled/baselines/unet-ce/x4/seed1"
    )
    assert kdcfg.doubled_run(config, "teachers/unet-ce/subset1of2/seed1") == (
        "doubled/teachers/unet-ce/subset1of2/seed1"
    )
    with pytest.raises(ConfigError, match="ensembles/diverse"):
        kdcfg.doubled_run(config, "ensembles/diverse")


def test_an_unknown_kind_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match=r"doubling_check\.networks") as err:
        study(["members"])
    assert "\n" not in str(err.value)


def test_a_baseline_id_parses_back():
    for budget in (1, 2):
        model = kdcfg.baseline_id("unet", "ce", 3, budget)
        assert kdcfg.parse_baseline(model) == ("unet", "ce", 3, budget)
    with pytest.raises(ConfigError, match="not a baseline id"):
        kdcfg.parse_baseline("baselines/unet-ce/x2")
