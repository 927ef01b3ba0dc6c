import pytest

from kdseg.data.splits import make_splits, patient_of
from kdseg.errors import ConfigError

FRAMES = [f"patient{i:03d}_{f}" for i in range(10) for f in ("ED", "ES")]


def _check_partition(splits, cases):
    parts = [set(splits[k]) for k in ("train", "validation", "test")]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert parts[0] | parts[1] | parts[2] == set(cases)


@pytest.mark.parametrize("seed", range(5))
def test_no_case_in_two_splits_and_patients_stay_together(seed):
    splits = make_splits(FRAMES, seed, test=0.3, validation=0.1, group_pattern=r"^(patient\d+)_")
    _check_partition(splits, FRAMES)
    for part in ("train", "validation", "test"):
        patients = {patient_of(c, r"^(patient\d+)_") for c in splits[part]}
        assert {c for c in FRAMES if patient_of(c, r"^(patient\d+)_") in patients} == set(
            splits[part]
        )
    assert len(splits["patients"]["test"]) == 3 and len(splits["patients"]["validation"]) == 1


def test_counts_fractions_seed():
    cases = [f"c{i}" for i in range(20)]
    a = make_splits(cases, 1, test=4, validation=0.1)
    assert (len(a["test"]), len(a["validation"]), len(a["train"])) == (4, 2, 14)
    assert a == make_splits(cases, 1, test=4, validation=0.1)
    assert a["test"] != make_splits(cases, 2, test=4, validation=0.1)["test"]
    assert len(make_splits(cases, 1, test=4, validation=0)["validation"]) == 0


def test_impossible_splits_are_config_errors():
    with pytest.raises(ConfigError, match="leave no training patient"):
        make_splits(["a", "b", "c"], 0, test=2, validation=1)
    with pytest.raises(ConfigError, match=r"splits\.test=9"):
        make_splits(["a", "b", "c"], 0, test=9, validation=0)
    with pytest.raises(ConfigError, match="does not match case"):
        make_splits(["a", "b", "c"], 0, test=1, validation=0, group_pattern=r"^(p\d+)_")


def test_disjoint_subsets_keep_patients_together_and_follow_the_seed():
    from kdseg.data.splits import disjoint_subsets

    cases = [f"patient{p:03d}_{f}" for p in range(7) for f in ("ED", "ES")]
    subsets = disjoint_subsets(cases, 3, seed=5, group_pattern=r"^(patient\d+)_")
    assert sorted(c for s in subsets for c in s) == sorted(cases)  # a partition
    assert sorted(len(s) // 2 for s in subsets) == [2, 2, 3]  # patients dealt evenly
    for s in subsets:
        assert all(c.replace("_ED", "_ES") in s for c in s if c.endswith("_ED"))
    assert subsets == disjoint_subsets(cases, 3, seed=5, group_pattern=r"^(patient\d+)_")
    assert subsets != disjoint_subsets(cases, 3, seed=6, group_pattern=r"^(patient\d+)_")
    with pytest.raises(ConfigError, match="8 subsets of 7 training patients"):
        disjoint_subsets(cases, 8, seed=5, group_pattern=r"^(patient\d+)_")
