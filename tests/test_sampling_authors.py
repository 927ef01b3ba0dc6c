"""The authors' patch-sampling rule (issue 15, item 1) against computations of its own.

The authors' batch iterators (``balanced_batch_iterator2D``/``3D`` in their ``src/utils.py``,
lines 686-793 and 924-1020) draw a class with ``--balance-ratios`` (default 5,3,2), then
uniform positions until the output region ("sample area") holds a voxel of that class; a
background patch must moreover hold a voxel of another class unless it is drawn (with
``percent_bg_full_bg`` percent) as a pure-background patch. Here: the class frequencies of
many patches against the ratios (binomial tolerance), no pure-background patch at
``percent_bg_full_bg`` 0, the qualifying positions against a brute-force enumeration of every
window, and the rule ``balanced`` (ours before) that does yield pure-background patches.
"""

import itertools

import numpy as np
import pytest

from kdseg.data.preprocess import load_manifest, open_case
from kdseg.errors import ConfigError
from kdseg.train.placement import Sampling, _windows_containing, authors_class_ratios
from kdseg.train.sampler import CaseArrays, PatchSampler

K = 4  # background and three foreground classes


def _synthetic_cases(shape=(40, 36, 12), n=3, seed=0, drop_class3_in_first=False):
    """Cases with a large organ (1), a small structure inside it (2) and a small blob (3);
    most of each volume is background far from any foreground."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        label = np.zeros(shape, np.uint8)
        x0, y0 = int(rng.integers(6, 12)), int(rng.integers(6, 10))
        label[x0 : x0 + 12, y0 : y0 + 10, 3:9] = 1
        label[x0 + 3 : x0 + 6, y0 + 3 : y0 + 6, 4:7] = 2
        if not (drop_class3_in_first and i == 0):
            label[30:33, 28:31, 5:7] = 3
        image = (label + rng.normal(0, 0.1, shape)).astype(np.float32)[None]
        cases.append(CaseArrays(f"c{i}", image, label))
    return cases


def _draw(sampler, iterations):
    """Plans and output-region labels of ``iterations`` batches (no augmentation)."""
    plans, labels = [], []
    for i in range(iterations):
        plans += sampler.plan(i)
        labels.append(sampler.batch(i)["label"])
    return plans, np.concatenate(labels)


def _binomial_ok(count, n, p, z=4.0):
    return abs(count - n * p) <= z * np.sqrt(n * p * (1 - p)) + 1


def _pure_background(labels):
    return np.array([(lab == 0).all() for lab in labels])


def test_balanced_rule_draws_pure_background_patches():
    """The reproduction: ours before issue 15 (now rule 'balanced') puts a background patch
    around a background voxel, so many patches hold no foreground at all."""
    s = PatchSampler(_synthetic_cases(), K, (8, 8, 8), 50, seed=1, rule="balanced")
    plans, labels = _draw(s, 40)  # 2000 patches
    pure = _pure_background(labels)
    drawn = np.array([p.cls for p in plans])
    assert pure.mean() > 0.1  # measured 0.159 (seed 1)
    assert pure[drawn == 0].mean() > 0.5  # measured 0.66 of the background patches
    for c in range(K):  # classes drawn equally (its default)
        assert _binomial_ok((drawn == c).sum(), len(drawn), 1 / K), c


@pytest.mark.parametrize("ratios", [None, [4, 3, 2, 1]], ids=["authors-default", "given"])
def test_authors_rule_never_yields_pure_background_and_follows_the_ratios(ratios):
    s = PatchSampler(_synthetic_cases(), K, (8, 8, 8), 50, seed=1, class_ratios=ratios)
    plans, labels = _draw(s, 40)  # 2000 patches
    assert _pure_background(labels).sum() == 0
    drawn = np.array([p.cls for p in plans])
    expected = np.asarray(ratios if ratios else [0.5, 1 / 6, 1 / 6, 1 / 6], float)
    expected /= expected.sum()
    for c in range(K):
        assert _binomial_ok((drawn == c).sum(), len(drawn), expected[c]), (c, expected[c])
    for plan, lab in zip(plans, labels, strict=True):
        assert (lab == plan.cls).any()  # the drawn class is in the output region
        if plan.cls == 0:
            assert (lab != 0).any()  # a background patch holds some foreground


def test_authors_class_ratios_are_their_cli_default():
    # training_network.py:755-763: "--balance-ratios 5,3,2" (background, kidney, tumour)
    np.testing.assert_allclose(authors_class_ratios(3), [5, 3, 2])
    np.testing.assert_allclose(authors_class_ratios(2), [0.5, 0.5])  # utils.py:703-710
    np.testing.assert_allclose(authors_class_ratios(5), [0.5, 0.125, 0.125, 0.125, 0.125])
    np.testing.assert_allclose(Sampling().ratios(3), [0.5, 0.3, 0.2])
    np.testing.assert_allclose(Sampling(rule="balanced").ratios(3), [1 / 3] * 3)


@pytest.mark.parametrize("percent", [30, 100])
def test_percent_bg_full_bg(percent):
    """A drawn background patch is pure background with probability percent / 100."""
    s = PatchSampler(_synthetic_cases(), K, (8, 8, 8), 50, seed=2, percent_bg_full_bg=percent)
    plans, labels = _draw(s, 40)
    pure = _pure_background(labels)
    full = np.array([p.full_background for p in plans])
    background = np.array([p.cls == 0 for p in plans])
    assert not full[~background].any()
    np.testing.assert_array_equal(pure, full)  # exactly the patches drawn as pure
    n = background.sum()
    assert _binomial_ok(full.sum(), n, percent / 100), (full.sum(), n)


def _small_case():
    """One 20 x 17 x 7 case: 3D output regions of 8 cover its z axis entirely (a single
    origin along z)."""
    label = np.zeros((20, 17, 7), np.uint8)
    label[3:9, 4:8, 1:5] = 1
    label[5:6, 5:7, 2:3] = 2
    label[15:18, 13:16, 3:6] = 3
    return [CaseArrays("small", label[None].astype(np.float32), label)]


def _brute_force_origins(label, outs, kind, num_classes):
    """Every output-region origin whose region qualifies, by looking at each window."""
    ranges = [range(max(d - o, 0) + 1) for d, o in zip(label.shape, outs, strict=True)]
    found = set()
    for origin in itertools.product(*ranges):
        region = label[tuple(slice(o, o + w) for o, w in zip(origin, outs, strict=True))]
        if kind == num_classes:
            ok = (region == 0).all()
        elif kind == 0:
            ok = (region == 0).any() and (region != 0).any()
        else:
            ok = (region == kind).any()
        if ok:
            found.add(origin)
    return found


@pytest.mark.parametrize(
    "patch, margin, orientations",
    [((8, 8, 8), 0, None), ((10, 10, 10), 1, None), ((9, 9), 2, (0, 1, 2))],
    ids=["3d", "3d-margin", "2d-margin"],
)
def test_qualifying_positions_match_a_brute_force_enumeration(patch, margin, orientations):
    cases = _small_case()
    label = cases[0].label
    extra = {} if orientations is None else {"orientations": orientations}
    s = PatchSampler(
        cases, K, patch, 4, seed=0, margin=margin, max_locations=10**6,
        percent_bg_full_bg=50, **extra,
    )  # fmt: skip
    for o, outs in enumerate(s.outs):
        for kind in range(K + 1):
            table = {tuple(int(v) for v in row) for row in s.windows[0][o][kind]}
            assert table == _brute_force_origins(label, outs, kind, K), (outs, kind)


def test_positions_are_drawn_uniformly_among_the_qualifying_ones():
    cases = _small_case()
    s = PatchSampler(cases, K, (8, 8, 8), 50, seed=4, class_ratios=[0, 0, 0, 1])
    expected = _brute_force_origins(cases[0].label, s.outs[0], 3, K)
    counts: dict[tuple[int, ...], int] = {}
    for i in range(40):
        for plan in s.plan(i):
            origin = (plan.starts[0], plan.starts[1], 0)  # z: the region covers the image
            counts[origin] = counts.get(origin, 0) + 1
    assert set(counts) == expected
    observed = np.array(list(counts.values()))
    chi2 = ((observed - observed.mean()) ** 2 / observed.mean()).sum()
    assert chi2 < len(observed) + 6 * np.sqrt(2 * len(observed))  # df = cells - 1


def test_a_case_without_a_class_keeps_the_class_frequencies():
    """The authors' loop would never end on a case without the drawn class; here such a class
    is drawn from the cases that have it, at its configured frequency."""
    cases = _synthetic_cases(drop_class3_in_first=True)
    s = PatchSampler(cases, K, (8, 8, 8), 50, seed=5, class_ratios=[1, 1, 1, 1])
    plans, labels = _draw(s, 40)
    drawn = np.array([p.cls for p in plans])
    assert _binomial_ok((drawn == 3).sum(), len(drawn), 0.25)
    assert not any(p.case == 0 for p in plans if p.cls == 3)
    assert _pure_background(labels).sum() == 0


def test_authors_rule_on_the_tiny_phantom_2d_and_3d(tiny_preprocessed):
    m = load_manifest(tiny_preprocessed)
    cases = [CaseArrays(c["case"], *open_case(tiny_preprocessed, c["case"])) for c in m["cases"]]
    for kw in (dict(patch=(8, 8, 8)), dict(patch=(21, 21), margin=5, orientations=(0, 1, 2))):
        balanced = PatchSampler(cases, 5, batch_size=20, seed=1, rule="balanced", **kw)
        authors = PatchSampler(cases, 5, batch_size=20, seed=1, **kw)
        assert _pure_background(_draw(balanced, 25)[1]).mean() > 0.05  # 0.10 / 0.15 measured
        assert _pure_background(_draw(authors, 25)[1]).sum() == 0


@pytest.mark.parametrize("density", [0.05, 0.003], ids=["scattered", "sparse"])
def test_windows_containing_is_a_sliding_any(density):
    rng = np.random.default_rng(0)
    mask = rng.random((19, 6, 14)) < density
    for outs in [(4, 6, 1), (3, 2, 5), (19, 1, 14)]:  # (axis 1 / all axes: covered whole)
        got = _windows_containing(mask, outs)
        want = np.zeros([max(d - o, 0) + 1 for d, o in zip(mask.shape, outs, strict=True)], bool)
        for origin in itertools.product(*(range(n) for n in want.shape)):
            region = tuple(slice(o, o + w) for o, w in zip(origin, outs, strict=True))
            want[origin] = mask[region].any()
        np.testing.assert_array_equal(got, want)


def test_sampling_settings_are_checked():
    with pytest.raises(ConfigError, match="unknown key"):
        Sampling.from_config({"ratio": [1, 1]})
    with pytest.raises(ConfigError, match=r"sampling\.percent_bg_full_bg applies to rule: authors"):
        Sampling.from_config({"rule": "balanced", "percent_bg_full_bg": 10})
    with pytest.raises(ConfigError, match=r"sampling\.percent_bg_full_bg: 120"):
        Sampling(percent_bg_full_bg=120)
    with pytest.raises(ConfigError, match="class_ratios: need 4"):
        Sampling(class_ratios=[1, 1]).ratios(4)
