"""Where a student's patches go (issue 16, item 2): the ensemble's arg-max as the placing
labels (``patch_source: ensemble``) and a fraction of patches around voxels where the ensemble
is uncertain (``uncertain_patches``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_sampling_authors import K, _synthetic_cases

from kdseg.distill.patch_guides import (
    guide_settings,
    mean_probabilities,
    normalised_entropy,
    patch_guides,
)
from kdseg.distill.soft_labels import SoftLabelLayout, quantise
from kdseg.errors import ConfigError
from kdseg.train.sampler import CaseArrays, PatchGuides, PatchSampler


def _with_guides(cases, placement=None, focus=None):
    placement = placement or [None] * len(cases)
    focus = focus or [None] * len(cases)
    return [
        CaseArrays(c.name, c.image, c.label, c.extra, placement[i], focus[i])
        for i, c in enumerate(cases)
    ]


@pytest.mark.parametrize("rule", ["authors", "balanced"])
def test_focus_patches_hold_a_focus_voxel_in_the_given_share(rule):
    """A single focus voxel per case far from every structure: about ``focus_fraction`` of
    the patches hold it in their output region; without focus (authors' rule) none does."""
    cases = _synthetic_cases()
    focus = []
    for c in cases:
        mask = np.zeros(c.label.shape, bool)
        mask[2, 30, 1] = True  # background, far from the organ and the blob
        focus.append(mask)
    guided = PatchSampler(_with_guides(cases, focus=focus), K, (8, 8, 8), 40, seed=1,
                          rule=rule, focus_fraction=0.3)  # fmt: skip
    plain = PatchSampler(cases, K, (8, 8, 8), 40, seed=1, rule=rule)
    n, hits, plain_hits = 0, 0, 0
    for i in range(25):  # 1000 patches
        for plan in guided.plan(i):
            n += 1
            inside = all(s <= v < s + z for v, s, z in
                         zip((2, 30, 1), plan.starts, plan.sizes, strict=True))  # fmt: skip
            hits += inside
            if plan.cls == -1:  # a focus patch always holds it
                assert inside
        for plan in plain.plan(i):
            plain_hits += all(s <= v < s + z for v, s, z in
                              zip((2, 30, 1), plan.starts, plan.sizes, strict=True))  # fmt: skip
    focus_patches = sum(p.cls == -1 for i in range(25) for p in guided.plan(i))
    assert abs(focus_patches - 0.3 * n) <= 4 * math.sqrt(n * 0.3 * 0.7)
    assert hits >= focus_patches
    if rule == "authors":  # its patches all hold foreground: none reaches that corner
        assert plain_hits == 0


def test_no_focus_keeps_the_run_bit_identical():
    """Guides that change nothing (focus fraction 0, placement = the labels) leave every
    patch where it was: the default stream of random draws is untouched."""
    cases = _synthetic_cases()
    same = _with_guides(cases, placement=[c.label.copy() for c in cases])
    a = PatchSampler(cases, K, (8, 8, 8), 6, seed=3)
    b = PatchSampler(same, K, (8, 8, 8), 6, seed=3, focus_fraction=0.0)
    for i in range(5):
        for key, value in a.batch(i).items():
            np.testing.assert_array_equal(b.batch(i)[key], value)


def test_placement_labels_place_patches_but_targets_stay_the_labels():
    """Placing by labels in which class 3 sits elsewhere: class-3 patches go there, and the
    patch's targets are still the reference labels."""
    cases = _synthetic_cases()
    placement = []
    for c in cases:
        moved = c.label.copy()
        moved[moved == 3] = 0
        moved[2:5, 2:5, 5:7] = 3  # the "ensemble" sees class 3 in another corner
        placement.append(moved)
    s = PatchSampler(_with_guides(cases, placement=placement), K, (8, 8, 8), 40, seed=2,
                     class_ratios=[0, 0, 0, 1])  # fmt: skip
    for i in range(5):
        batch = s.batch(i)
        for plan, label in zip(s.plan(i), batch["label"], strict=True):
            assert plan.starts[0] <= 4 and plan.starts[1] <= 4  # around the moved class 3
            box = zip(plan.starts, plan.sizes, strict=True)
            window = cases[plan.case].label[tuple(slice(max(st, 0), st + z) for st, z in box)]
            assert (label == 3).sum() == (window == 3).sum() == 0  # targets: the labels


def test_focus_of_wrong_shape_or_fraction_is_refused():
    cases = _synthetic_cases()
    with pytest.raises(ConfigError, match="focus voxels of case c0 have shape"):
        PatchSampler(_with_guides(cases, focus=[np.ones((3, 3, 3), bool)] * 3), K, (8, 8, 8),
                     2, seed=1, focus_fraction=0.5)  # fmt: skip
    with pytest.raises(ConfigError, match=r"focus fraction 1\.5"):
        PatchSampler(cases, K, (8, 8, 8), 2, seed=1, focus_fraction=1.5)


def test_entropy_and_guides_from_stored_soft_labels():
    """Normalised entropy 0 for a sure voxel, 1 for a uniform one; guides from 8-bit soft
    labels: arg-max placement and the uncertain voxels."""
    k, shape = 4, (6, 5, 4)
    p = np.zeros((k, *shape), np.float32)
    p[1] = 1.0  # sure: class 1
    p[:, 0, 0, 0] = 0.25  # uniform
    p[:, 1, 0, 0] = (0.5, 0.5, 0.0, 0.0)  # two-way tie: log 2 / log 4 = 0.5
    entropy = normalised_entropy(p)
    assert entropy[2, 2, 2] == pytest.approx(0.0, abs=1e-6)
    assert entropy[0, 0, 0] == pytest.approx(1.0, abs=1e-6)
    assert entropy[1, 0, 0] == pytest.approx(0.5, abs=1e-6)
    stored = {"a": {"soft": quantise(p)}}
    layout = SoftLabelLayout()
    np.testing.assert_allclose(mean_probabilities(stored["a"]["soft"], layout), p, atol=2.5e-3)
    assert patch_guides(stored, ["a"], layout, {}) is None  # the authors' patches
    guides = patch_guides(stored, ["a"], layout,
                          {"patch_source": "ensemble", "uncertain_patches": 0.25,
                           "uncertain_entropy": 0.4})  # fmt: skip
    assert isinstance(guides, PatchGuides) and guides.focus_fraction == 0.25
    assert (guides.placement["a"][2:] == 1).all()
    assert guides.focus["a"].sum() == 2  # the uniform voxel and the two-way tie
    background = np.zeros_like(p)
    background[0] = 1.0  # an ensemble that segments nothing: the labels place the patches
    blind = patch_guides({"a": {"soft": quantise(background)}}, ["a"], layout,
                         {"patch_source": "ensemble"})  # fmt: skip
    assert blind is not None and "a" not in blind.placement
    with pytest.raises(ConfigError, match="patch_source 'teacher'"):
        guide_settings({"patch_source": "teacher"})
    with pytest.raises(ConfigError, match=r"uncertain_patches 2\.0"):
        guide_settings({"uncertain_patches": 2.0})
