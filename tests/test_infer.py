from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.inferers import sliding_window_inference

import kdseg.models.windows as infer
from kdseg.data.restore import labels_in_original_geometry
from kdseg.errors import ConfigError
from kdseg.models.windows import InferenceSpec, predict_probabilities
from kdseg.nets import build_network

NETS = {
    "unet3d": (("unet3d", {"features": [4, 8]}), 3, (8, 8, 8)),
    "resnet3d": (("resnet3d", {"features": 4, "blocks": 1}), 3, (8, 8, 8)),
    "basicunet3d": (
        ("monai:BasicUNet", {"spatial_dims": 3, "features": (4, 4, 8, 8, 16, 4)}),
        3,
        (16, 16, 32),  # bottleneck > 1 voxel (instance norm)
    ),
    "dilated2d": (("dilated2d", {"features": 4, "dilations": [1, 2, 1], "head": [8]}), 2, (8, 8)),
    "unet2d": (("unet2d", {"features": [4, 8]}), 2, (8, 8)),
    "resnet2d": (("resnet2d", {"features": 4, "blocks": 1}), 2, (8, 8)),
}


def _net(key: str, in_channels: int = 1, classes: int = 3) -> torch.nn.Module:
    (name, kwargs), _, _ = NETS[key]
    torch.manual_seed(0)
    return build_network(name, in_channels, classes, **kwargs).eval()


def _image(shape: tuple[int, ...], channels: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(channels, *shape)).astype(np.float32)


def _cases():
    for key, (_, dims, _) in NETS.items():
        orientations = [(2,), (0, 1, 2)] if dims == 2 else [(0, 1, 2)]
        for shape in [(13, 17, 9), (5, 6, 3)]:  # larger and smaller than the patch
            for ori in orientations:
                yield pytest.param(key, shape, ori, id=f"{key}-{'x'.join(map(str, shape))}-{ori}")


@pytest.mark.parametrize(("key", "shape", "orientations"), list(_cases()))
def test_probabilities_have_input_shape_and_sum_to_one(key, shape, orientations):
    _, dims, patch = NETS[key]
    spec = InferenceSpec(dims, patch, orientations=orientations, batch_size=3)
    probs = predict_probabilities(_net(key), _image(shape), spec)
    assert probs.shape == (3, *shape) and probs.dtype == np.float32
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)


def test_multichannel_memmap_input_and_training_flag_restored(tmp_path):
    image = _image((9, 10, 7), channels=2)
    np.save(tmp_path / "img.npy", image)
    mm = np.load(tmp_path / "img.npy", mmap_mode="r")
    net = _net("unet2d", in_channels=2).train()
    spec = InferenceSpec(2, (8, 8), orientations=(0, 2))
    probs = predict_probabilities(net, mm, spec, amp=True)  # amp is a no-op on CPU
    assert probs.shape == (3, 9, 10, 7) and net.training
    np.testing.assert_array_equal(probs, predict_probabilities(net, image, spec))


@pytest.mark.parametrize("axis", [0, 2])
def test_valid_margin_slice_equals_network_on_edge_padded_slice(axis):
    net = _net("dilated2d")
    assert net.valid_margin == 4
    image = _image((10, 12, 7))
    probs = predict_probabilities(net, image, InferenceSpec(2, (8, 8), orientations=(axis,)))
    index = 3
    slice_ = np.take(image, index, axis=axis + 1)  # (C, H, W)
    padded = np.pad(slice_, ((0, 0), (4, 4), (4, 4)), mode="edge")
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(padded)[None]), dim=1)[0].numpy()
    np.testing.assert_allclose(np.take(probs, index, axis=axis + 1), expected, atol=1e-6)


def test_valid_margin_with_divisor_crops_back_to_slice():
    net = _net("dilated2d")
    net.size_divisor = 4  # extra replicate padding at the end, cropped away
    probs = predict_probabilities(net, _image((5, 6, 3)), InferenceSpec(2, (8, 8)))
    assert probs.shape == (3, 5, 6, 3)


def _direct(net: torch.nn.Module, image: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Softmax of one forward pass on the image zero-padded to ``size`` as MONAI pads it."""
    before = [(s - n) // 2 for n, s in zip(image.shape[1:], size, strict=True)]
    widths = [(0, 0)] + [
        (b, s - n - b) for b, n, s in zip(before, image.shape[1:], size, strict=True)
    ]
    x = torch.from_numpy(np.pad(image, widths))[None]
    with torch.no_grad():
        out = torch.softmax(net(x), dim=1)[0].numpy()
    return out[
        (slice(None), *(slice(b, b + n) for b, n in zip(before, image.shape[1:], strict=True)))
    ]


@pytest.mark.parametrize(
    ("shape", "patch"), [((12, 16, 8), (12, 16, 8)), ((13, 17, 9), (16, 20, 12))]
)
def test_one_window_3d_equals_direct_forward_pass(shape, patch):
    net = _net("unet3d")
    image = _image(shape)
    probs = predict_probabilities(net, image, InferenceSpec(3, patch))
    np.testing.assert_allclose(probs, _direct(net, image, patch), atol=1e-5)


def test_one_window_2d_equals_direct_forward_pass():
    net = _net("unet2d")
    image = _image((6, 13, 9))
    probs = predict_probabilities(net, image, InferenceSpec(2, (14, 10), orientations=(0,)))
    for i in range(image.shape[1]):
        np.testing.assert_allclose(probs[:, i], _direct(net, image[:, i], (14, 10)), atol=1e-5)


def test_overlapping_windows_blend_with_gaussian_weights(monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return sliding_window_inference(*args, **kwargs)

    monkeypatch.setattr(infer, "sliding_window_inference", spy)
    net = _net("unet3d")
    image = _image((20, 14, 12))
    spec = InferenceSpec(3, (8, 8, 8), overlap=0.5, batch_size=2)
    probs = predict_probabilities(net, image, spec)
    assert len(calls) == 1
    assert calls[0]["mode"] == "gaussian" and calls[0]["overlap"] == 0.5
    assert calls[0]["roi_size"] == (8, 8, 8) and calls[0]["sw_batch_size"] == 2

    def softmax_net(w):
        return torch.softmax(net(w), dim=1)

    x = torch.from_numpy(image)[None]
    with torch.no_grad():
        blended = {
            mode: sliding_window_inference(x, (8, 8, 8), 2, softmax_net, 0.5, mode=mode)[0]
            for mode in ("gaussian", "constant")
        }
    np.testing.assert_allclose(probs, blended["gaussian"].numpy(), atol=1e-6)
    assert np.abs(probs - blended["constant"].numpy()).max() > 1e-4  # windows really overlap


def test_roi_is_rounded_up_to_the_size_divisor(monkeypatch):
    rois = []

    def spy(*args, **kwargs):
        rois.append(kwargs["roi_size"])
        return sliding_window_inference(*args, **kwargs)

    monkeypatch.setattr(infer, "sliding_window_inference", spy)
    probs = predict_probabilities(_net("resnet3d"), _image((7, 9, 5)), InferenceSpec(3, (6, 9, 4)))
    assert rois == [(8, 12, 4)] and probs.shape == (3, 7, 9, 5)


@pytest.mark.parametrize("key", ["dilated2d", "unet2d"])
def test_orientations_are_averaged(key):
    net = _net(key)
    image = _image((9, 10, 11))
    spec = InferenceSpec(2, (8, 8), batch_size=4)
    all_three = predict_probabilities(net, image, spec)
    singles = [
        predict_probabilities(net, image, InferenceSpec(2, (8, 8), orientations=(a,)))
        for a in (0, 1, 2)
    ]
    np.testing.assert_allclose(all_three, np.mean(singles, axis=0), atol=1e-6)
    assert np.abs(singles[0] - singles[2]).max() > 1e-3  # orientations do differ


def test_labels_in_original_geometry_places_upsampled_labels_in_the_crop_box():
    onehot = np.zeros((8, 8, 4), dtype=np.uint8)
    onehot[2:5, 3:6, 1:3] = 1  # blob
    onehot[6:8, 0:2, :] = 2  # touches the crop border
    probs = np.eye(3, dtype=np.float32)[onehot].transpose(3, 0, 1, 2) * 0.9 + 0.1 / 3
    box = [[5, 21], [10, 26], [3, 7]]
    labels = labels_in_original_geometry(probs, (16, 16, 4), box, (30, 30, 10))
    assert labels.dtype == np.uint8 and labels.shape == (30, 30, 10)
    expected = np.zeros((30, 30, 10), dtype=np.uint8)
    expected[5:21, 10:26, 3:7] = onehot.repeat(2, axis=0).repeat(2, axis=1)
    np.testing.assert_array_equal(labels, expected)
    assert np.all(labels[9:15, 16:22, 4:6] == 1) and labels[21:, :, :].max() == 0


def test_labels_in_original_geometry_with_identity_is_argmax():
    logits = np.random.default_rng(1).normal(size=(4, 6, 7, 5)).astype(np.float32)
    probs = torch.softmax(torch.from_numpy(logits), dim=0).numpy()
    box = [[0, 6], [0, 7], [0, 5]]
    labels = labels_in_original_geometry(probs, (6, 7, 5), box, (6, 7, 5))
    np.testing.assert_array_equal(labels, probs.argmax(axis=0).astype(np.uint8))
    with pytest.raises(ValueError):
        labels_in_original_geometry(probs, (6, 7, 6), box, (6, 7, 5))


def test_spec_round_trips_through_a_weights_only_checkpoint(tmp_path):
    spec = InferenceSpec(2, (128, 128), orientations=(2,), overlap=0.25, batch_size=8)
    torch.save({"inference": spec.to_json()}, tmp_path / "ckpt.pt")
    loaded = torch.load(tmp_path / "ckpt.pt", weights_only=True)["inference"]
    assert InferenceSpec.from_json(loaded) == spec
    defaults = InferenceSpec.from_json({"spatial_dims": 3, "patch": [8, 8, 8]})
    assert defaults.orientations == (0, 1, 2) and defaults.overlap == 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"spatial_dims": 4, "patch": (8, 8, 8, 8)},
        {"spatial_dims": 3, "patch": (8, 8)},
        {"spatial_dims": 2, "patch": (8, 8), "orientations": (3,)},
        {"spatial_dims": 2, "patch": (8, 8), "orientations": ()},
        {"spatial_dims": 2, "patch": (8, 8), "overlap": 1.0},
        {"spatial_dims": 2, "patch": (8, 8), "batch_size": 0},
    ],
)
def test_bad_specs_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        InferenceSpec(**kwargs)


def test_inference_window_can_differ_from_training_patch():
    from kdseg.config.validation import _check_patch
    from kdseg.errors import ConfigError
    from kdseg.train.segmentation import inference_spec

    unet = {"network": "unet3d", "patch": [24, 24, 24], "inference": {"patch": [48, 48, 32]}}
    assert inference_spec(unet).patch == (48, 48, 32)
    assert inference_spec({"network": "unet3d", "patch": [24, 24, 24]}).patch == (24, 24, 24)
    dilated = {"network": "dilated2d", "patch": [57, 57], "inference": {"patch": [64, 64, 64]}}
    with pytest.raises(ConfigError, match=r"'architectures.dilated.inference.patch'.*2D"):
        _check_patch(dilated, "architectures.dilated", "Thorax")


def test_inference_settings_change_the_stored_spec():
    from kdseg.config import model_architecture

    spec = InferenceSpec(spatial_dims=3, patch=(24, 24, 24))
    changed = spec.with_settings({"overlap": 0.25, "batch_size": 8, "patch": [48, 48, 32]})
    assert (changed.overlap, changed.batch_size, changed.patch) == (0.25, 8, (48, 48, 32))
    assert spec.with_settings(None) == spec
    flat = InferenceSpec(spatial_dims=2, patch=(57, 57)).with_settings({"patch": [64, 64, 64]})
    assert flat.patch == (57, 57)  # 2D networks run on whole slices: no window
    config = {"architectures": {"unet": {}, "res-net": {}}, "losses": {"ce": {}, "dice-x": {}}}
    assert model_architecture(config, "teachers/res-net-dice-x/seed2") == "res-net"
    assert model_architecture(config, "students/kd/diverse/unet/seed1") == "unet"
    assert model_architecture(config, "baselines/unet-ce/seed1") == "unet"
    with pytest.raises(ConfigError, match="'teachers/vnet-ce/seed1'"):
        model_architecture(config, "teachers/vnet-ce/seed1")


@pytest.mark.parametrize(("padding", "mode"), [("edge", "edge"), ("zeros", "constant")])
def test_valid_margin_slices_are_padded_as_the_spec_says(padding, mode):
    """``padding: zeros`` is the authors' zero padding by half the receptive field
    (utils.py:305, 477); ``edge`` ours. The two differ at the border."""
    net = _net("dilated2d")
    image = _image((10, 12, 7)) + 3.0  # far from 0: zero padding shows at the border
    spec = InferenceSpec(2, (8, 8), orientations=(2,), padding=padding)
    probs = predict_probabilities(net, image, spec)
    padded = np.pad(image[:, :, :, 3], ((0, 0), (4, 4), (4, 4)), mode=mode)
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(padded)[None]), dim=1)[0].numpy()
    np.testing.assert_allclose(probs[:, :, :, 3], expected, atol=1e-6)
    other = InferenceSpec(
        2, (8, 8), orientations=(2,), padding="edge" if padding == "zeros" else "zeros"
    )
    assert np.abs(predict_probabilities(net, image, other) - probs).max() > 1e-3


def test_padding_is_recorded_in_the_spec_only_when_not_the_default():
    edge = InferenceSpec(2, (8, 8))
    assert "padding" not in edge.to_json()  # model files of edge-padded runs are unchanged
    zeros = InferenceSpec(2, (8, 8), padding="zeros")
    assert InferenceSpec.from_json(zeros.to_json()) == zeros
    assert InferenceSpec.from_json(zeros.to_json()).with_settings({"overlap": 0.25}).padding == (
        "zeros"
    )
    with pytest.raises(ConfigError, match="inference: padding: 'reflect'"):
        InferenceSpec(2, (8, 8), padding="reflect")


def test_the_training_padding_reaches_the_model_files_spec():
    from kdseg.train.segmentation import inference_spec

    dilated = {"network": "dilated2d", "patch": [57, 57]}
    assert inference_spec(dilated).padding == "edge"
    assert inference_spec(dilated, "zeros").padding == "zeros"


@pytest.mark.parametrize("key", ["dilated2d", "unet3d"])
def test_every_prediction_is_softened_before_the_blend(key):
    """At T != 1 each orientation's (each window's) softmax(z / T) is blended, as the authors'
    networks end in softmax(z / T) (networks.py:111) whose outputs they average
    (testing_network.py:410-475, 1075-1097); softening the blend (ours before) agrees at T = 1
    only."""
    from kdseg.distill.kd_loss import soften

    net = _net(key)
    with torch.no_grad():  # sharper logits: the two rules then differ visibly
        for p in net.parameters():
            p.mul_(3.0)
    _, dims, patch = NETS[key]
    image = _image((12, 11, 10))
    spec = InferenceSpec(dims, patch, orientations=(0, 1, 2), overlap=0.5)
    blend = predict_probabilities(net, image, spec)
    np.testing.assert_allclose(predict_probabilities(net, image, spec, temperature=1.0), blend)
    softened = predict_probabilities(net, image, spec, temperature=2.0)
    np.testing.assert_allclose(softened.sum(0), 1.0, atol=1e-5)
    ours = soften(torch.from_numpy(blend)[None], 2.0)[0].numpy()
    assert np.abs(softened - ours).max() > 1e-2
    if dims == 2:  # the authors' target by hand: the three orientations softened, averaged
        by_hand = np.zeros_like(blend)
        for axis in (0, 1, 2):
            one = InferenceSpec(2, patch, orientations=(axis,))
            by_hand += predict_probabilities(net, image, one, temperature=2.0) / 3
        np.testing.assert_allclose(softened, by_hand, atol=1e-5)
