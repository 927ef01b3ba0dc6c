import numpy as np
import pytest

from kdseg.data.preprocess import load_manifest, open_case
from kdseg.errors import ConfigError
from kdseg.train.augmentation import Augmentation
from kdseg.train.sampler import CaseArrays, PatchSampler


def _cases(pre):
    m = load_manifest(pre)
    return [CaseArrays(c["case"], *open_case(pre, c["case"])) for c in m["cases"]]


def _sampler(pre, **kw):
    args = dict(num_classes=5, patch=(16, 16, 16), batch_size=3, seed=1)
    args.update(kw)
    args.setdefault("augmentation", Augmentation())
    return PatchSampler(_cases(pre), **args)


@pytest.mark.parametrize(
    "settings",
    [{}, {"rule": "balanced", "augmentation": Augmentation(rotation="uniform")}],
    ids=["authors", "balanced-uniform"],
)
def test_same_seed_same_batches_other_seed_other_batches(tiny_preprocessed, settings):
    a, b = _sampler(tiny_preprocessed, **settings), _sampler(tiny_preprocessed, **settings)
    later_first = b.batch(5)  # batches do not depend on the order they are asked for
    for key, value in a.batch(5).items():
        np.testing.assert_array_equal(value, later_first[key])
    other = _sampler(tiny_preprocessed, seed=2, **settings).batch(5)
    assert not np.array_equal(other["image"], later_first["image"])
    assert not np.array_equal(a.batch(6)["image"], later_first["image"])


def test_class_ratios_put_the_drawn_class_in_every_patch(tiny_preprocessed):
    for cls in range(1, 5):
        ratios = [0.0] * 5
        ratios[cls] = 1.0
        s = _sampler(tiny_preprocessed, class_ratios=ratios, batch_size=8)
        for i in range(3):
            labels = s.batch(i)["label"]
            assert all((lab == cls).any() for lab in labels), f"class {cls} missing"


def test_2d_patches_with_valid_margin(tiny_preprocessed):
    s = _sampler(tiny_preprocessed, patch=(21, 21), margin=5, orientations=(0, 1, 2))
    batch = s.batch(0)
    assert batch["image"].shape == (3, 1, 21, 21)
    assert batch["label"].shape == (3, 11, 11)
    assert batch["label"].dtype == np.int64 and batch["image"].dtype == np.float32
    ratios = [0, 0, 0, 1, 0]  # the drawn class lies in the output region, not just the context
    labels = _sampler(tiny_preprocessed, patch=(21, 21), margin=5, class_ratios=ratios).batch(1)
    assert all((lab == 3).any() for lab in labels["label"])


def test_images_stay_memory_mapped(tiny_preprocessed):
    s = _sampler(tiny_preprocessed, max_locations=50)  # rule authors: tables of positions
    assert all(isinstance(c.image, np.memmap) for c in s.cases)
    assert all(len(t) <= 50 for case in s.windows for tables in case for t in tables)
    s = _sampler(tiny_preprocessed, max_locations=50, rule="balanced")  # of class voxels
    assert all(isinstance(c.image, np.memmap) for c in s.cases)
    assert all(len(t) <= 50 for tables in s.locations for t in tables)


def test_extra_targets_follow_the_same_window(tiny_preprocessed):
    cases = _cases(tiny_preprocessed)
    for c in cases:  # an extra target equal to the one-hot label must stay aligned with it
        c.extra["soft"] = np.eye(5, dtype=np.float32)[np.asarray(c.label)].transpose(3, 0, 1, 2)
    s = PatchSampler(cases, 5, (16, 16, 16), 4, seed=3, augmentation=Augmentation(rotate_prob=1))
    batch = s.batch(0)
    assert batch["soft"].shape == (4, 5, 16, 16, 16)
    agree = (batch["soft"].argmax(1) == batch["label"]).mean()
    assert agree > 0.97  # rotation interpolates the soft target bilinearly, labels nearest


def test_bad_sampler_settings(tiny_preprocessed):
    with pytest.raises(ConfigError, match="class_ratios"):
        _sampler(tiny_preprocessed, class_ratios=[1, 1])
    with pytest.raises(ConfigError, match="too small"):
        _sampler(tiny_preprocessed, patch=(9, 9), margin=5)
    with pytest.raises(ConfigError, match="unknown key"):
        Augmentation.from_config({"flip": True})
    with pytest.raises(ConfigError, match=r"sampling\.rule: 'random'"):
        _sampler(tiny_preprocessed, rule="random")


def test_a_patch_far_larger_than_every_image_is_refused(tiny_preprocessed):
    largest = np.max([c.label.shape for c in _cases(tiny_preprocessed)], axis=0)
    assert largest[0] == 24 and largest[2] == 16 and 20 <= largest[1] <= 24  # cropped
    message = r"patch \[256, 256, 256\]: its output region \(256 voxels along array axis 0\)"
    with pytest.raises(ConfigError, match=message + " is more than 2 times the largest"):
        _sampler(tiny_preprocessed, patch=(256, 256, 256))
    with pytest.raises(ConfigError, match="along array axis 2"):
        _sampler(tiny_preprocessed, patch=(16, 16, 40))
    _sampler(tiny_preprocessed, patch=(40, 40, 32))  # up to twice the image: padded
    # 2D: the output region (patch - 2 * margin) is compared with the slice's axes
    _sampler(tiny_preprocessed, patch=(57, 57), margin=17, orientations=(0, 1, 2))
    with pytest.raises(ConfigError, match="along array axis 0"):
        _sampler(tiny_preprocessed, patch=(50, 16), orientations=(2,))


def test_zero_padding_of_image_windows_outside_the_image(tiny_preprocessed):
    """``training.padding: zeros``: the authors zero-pad every image by half the receptive field
    (utils.py:305, 477); ours (``edge``) repeats the border. Same plans, labels edge-padded."""
    settings = dict(patch=(21, 21), margin=5, augmentation=None, batch_size=8)
    edge = _sampler(tiny_preprocessed, **settings)
    zeros = _sampler(tiny_preprocessed, padding="zeros", **settings)
    outside = 0
    for i in range(10):
        for plan_e, plan_z in zip(edge.plan(i), zeros.plan(i), strict=True):
            assert plan_e == plan_z
            a, b = edge.cut(plan_e), zeros.cut(plan_z)
            np.testing.assert_array_equal(a["label"], b["label"])
            shape = edge.cases[plan_e.case].label.shape
            inside = np.ones(b["image"].shape[1:], bool)
            axes = [ax for ax in range(3) if ax != plan_e.orientation]
            for d, ax in enumerate(axes):
                lo, n = plan_e.starts[ax], plan_e.sizes[ax]
                cover = (np.arange(lo, lo + n) >= 0) & (np.arange(lo, lo + n) < shape[ax])
                inside &= np.expand_dims(cover, 1 - d)
            np.testing.assert_array_equal(a["image"][:, inside], b["image"][:, inside])
            assert np.all(b["image"][:, ~inside] == 0)
            outside += int((~inside).sum())
            if (~inside).any():
                assert not np.all(a["image"][:, ~inside] == 0)
    assert outside > 0  # some windows did reach outside the image
    with pytest.raises(ConfigError, match=r"training\.padding: 'reflect'"):
        _sampler(tiny_preprocessed, padding="reflect")


def test_training_padding_reaches_the_model_file_and_its_predictions(tiny_preprocessed, tmp_path):
    """``training.padding: zeros`` trains on zero-padded windows and is recorded in the model
    file, so its predictions pad whole slices with 0 too; ``edge`` leaves the file's spec as
    it was (no ``padding`` key)."""
    from kdseg.models.model_file import load_model, read_model_file
    from kdseg.train.segmentation import train_segmentation_model

    arch = {
        "network": "dilated2d",
        "kwargs": {"features": 4, "dilations": [1, 2, 1], "head": [8]},
        "patch": [17, 17],
        "orientations": [2],
    }
    training = {"iterations": 2, "batch_size": 2, "validate_every": 0, "device": "cpu",
                "loader_workers": 0}  # fmt: skip
    specs = {}
    for padding in ("edge", "zeros"):
        out = tmp_path / padding
        out.mkdir()
        train_segmentation_model(
            tiny_preprocessed, out / "model.pt", out / "h.csv", out / "h.png", out / "ckpt.pt",
            arch, {"name": "ce"}, {**training, "padding": padding}, seed=1, name=padding,
        )  # fmt: skip
        specs[padding] = read_model_file(out / "model.pt")["inference"]
        assert load_model(out / "model.pt")[2].padding == padding
    assert "padding" not in specs["edge"] and specs["zeros"]["padding"] == "zeros"
