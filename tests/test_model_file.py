"""Model files whose weights do not fit the network they describe: one-line errors."""

from __future__ import annotations

import pytest
import torch

from kdseg.errors import KdsegError
from kdseg.models.model_file import load_model, save_model
from kdseg.models.windows import InferenceSpec
from kdseg.nets import build_network
from kdseg.train.segmentation import load_initial_weights

ARCH = {"network": "unet3d", "kwargs": {"features": [4, 8]}}


def _write(path, arch=ARCH, state=None):
    torch.manual_seed(0)
    net = build_network(ARCH["network"], 1, 3, **ARCH["kwargs"])
    meta = {
        "architecture": arch,
        "in_channels": 1,
        "classes": {"background": 0, "a": 1, "b": 2},
        "spacing": [1.0, 1.0, 1.0],
        "normalization": {},
        "inference": InferenceSpec(3, (16, 16, 16)).to_json(),
    }
    save_model(path, net.state_dict() if state is None else state, meta)
    return net


def _one_line(err: pytest.ExceptionInfo, path) -> str:
    message = str(err.value)
    assert "\n" not in message and str(path) in message, message
    return message


def test_a_fitting_model_file_loads(tmp_path):
    net = _write(tmp_path / "model.pt")
    model, _, _ = load_model(tmp_path / "model.pt")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in net.state_dict().items())


def test_changed_architecture_names_the_file_and_first_shape_mismatch(tmp_path):
    path = tmp_path / "model.pt"
    _write(path, arch={"network": "unet3d", "kwargs": {"features": [4, 16]}})
    with pytest.raises(KdsegError) as err:
        load_model(path)
    message = _one_line(err, path)
    assert "do not fit" in message and "shape" in message
    assert "[16" in message and "[8" in message  # network's and file's sizes


def test_replaced_weights_name_missing_and_unexpected_keys(tmp_path):
    path = tmp_path / "model.pt"
    state = _write(tmp_path / "other.pt").state_dict()
    state["extra.weight"] = torch.zeros(1)
    first = next(iter(state))
    del state[first]
    _write(path, state=state)
    with pytest.raises(KdsegError) as err:
        load_model(path)
    message = _one_line(err, path)
    assert f"missing {first}" in message and "unexpected extra.weight" in message


def test_initial_weights_of_another_architecture(tmp_path):
    path = tmp_path / "model.pt"
    _write(path)
    other = build_network("unet3d", 1, 3, features=[4, 16])
    with pytest.raises(KdsegError) as err:
        load_initial_weights(other, path)
    assert "do not fit" in _one_line(err, path)


class Foreign:
    """An object the weights-only reader refuses (a pickle could run code on loading)."""


def _corrupt(path, kind):
    """A model file that is cut short, garbage, or a pickle of a foreign object."""
    if kind == "cut":
        _write(path)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "garbage":
        path.write_bytes(b"garbage" * 10)
    else:
        torch.save({"format": "kdseg-model/1", "x": Foreign()}, path)


UNSAFE = ("weights_only", "allow_pickle", "trust")


@pytest.mark.parametrize("kind", ["cut", "garbage", "foreign"])
def test_a_corrupt_model_file_never_suggests_loading_it_unsafely(tmp_path, kind):
    """Before: the refusal repeated PyTorch's hint to set weights_only=False."""
    path = tmp_path / "model.pt"
    _corrupt(path, kind)
    with pytest.raises(KdsegError) as err:
        load_model(path)
    message = _one_line(err, path)
    assert message.startswith(f"{path}: not a readable model file (")
    assert not any(hint in message for hint in UNSAFE), message


@pytest.mark.parametrize("kind", ["cut", "garbage", "foreign"])
def test_a_corrupt_checkpoint_never_suggests_loading_it_unsafely(tmp_path, kind):
    from kdseg.train.checkpoint import read_checkpoint

    path = tmp_path / "checkpoint.pt"
    _corrupt(path, kind)
    with pytest.raises(KdsegError) as err:
        read_checkpoint(path, torch.device("cpu"))
    message = _one_line(err, path)
    assert "unreadable training checkpoint" in message and "delete it" in message
    assert not any(hint in message for hint in UNSAFE), message


@pytest.mark.parametrize("kind", ["garbage", "object", "cut", "missing"])
def test_a_corrupt_soft_label_file_is_one_line_naming_it(tmp_path, kind):
    """Before: a traceback without the file's name that suggested allow_pickle."""
    import numpy as np

    from kdseg.distill.soft_labels import open_soft_labels

    path = tmp_path / "case1.npy"
    if kind == "garbage":
        path.write_bytes(b"garbage")
    elif kind == "object":
        np.save(path, np.array([{}], dtype=object), allow_pickle=True)
    elif kind == "cut":
        np.save(path, np.zeros((2, 4, 4), np.float16))
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(KdsegError) as err:
        open_soft_labels(tmp_path, ["case1"])
    message = _one_line(err, path)
    assert message.startswith(f"{path}: ")
    assert not any(hint in message for hint in UNSAFE), message
