import json

import nibabel as nib
import numpy as np
import pytest
from conftest import make_tiny

from kdseg.data.crop import uncrop
from kdseg.data.preprocess import load_manifest, open_case, preprocess_dataset, resolve_spacing
from kdseg.data.resample import resample_to_shape
from kdseg.data.splits import write_splits
from kdseg.data.validate import validate_raw_dataset
from kdseg.errors import KdsegError
from kdseg.report.figures.overview import plot_data_overview


def _prepare(raw, tmp_path, settings=None):
    report, splits, out = tmp_path / "report.json", tmp_path / "splits.json", tmp_path / "pre"
    validate_raw_dataset(raw, report)
    write_splits(str(report), str(splits), seed=0, test=1, validation=1)
    preprocess_dataset(
        raw, report, splits, out, settings or {"target_spacing": [4.0, 4.0, 4.0]}, name="T"
    )
    return out


def test_arrays_are_memory_mappable_and_manifest_maps_back(tiny_raw, tmp_path):
    out = _prepare(tiny_raw, tmp_path)
    manifest = load_manifest(out)
    assert manifest["target_spacing"] == [4.0, 4.0, 4.0]
    assert {e["split"] for e in manifest["cases"]} == {"train", "validation", "test"}
    assert "torch" in manifest["provenance"]["versions"]
    for entry in manifest["cases"]:
        image, label = open_case(out, entry["case"])
        assert isinstance(image, np.memmap) and isinstance(label, np.memmap)
        assert image.dtype == np.float32 and label.dtype == np.uint8
        assert image.shape == (1, *entry["shape"]) and label.shape == tuple(entry["shape"])
        # 6 mm -> 4 mm: the preprocessed grid covers the cropped field of view
        assert entry["shape"] == [round(n * 6 / 4) for n in entry["cropped_shape"]]
        # map the label back: resample to the cropped grid, put it back into the original volume
        back = resample_to_shape(np.asarray(label), entry["cropped_shape"], order=0)
        back = uncrop(back, entry["crop_box"], tuple(entry["original"]["shape"]))
        original = np.asarray(nib.load(tiny_raw / "labelsTr" / f"{entry['case']}.nii.gz").dataobj)
        assert (back == original).mean() > 0.97
        assert set(np.unique(label)) <= {0, 1, 2, 3, 4}


def test_ct_statistics_use_training_cases_only(tiny_raw, tmp_path):
    out = _prepare(tiny_raw, tmp_path / "a")
    test_case = json.loads((tmp_path / "a" / "splits.json").read_text())["test"][0]
    path = tiny_raw / "imagesTr" / f"{test_case}_0000.nii.gz"
    img = nib.load(path)
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj) + 300, img.affine, img.header), path)
    out_b = _prepare(tiny_raw, tmp_path / "b")
    assert load_manifest(out)["ct_stats"] == load_manifest(out_b)["ct_stats"]


def test_mr_cropping_and_normalisation(tmp_path):
    raw = make_tiny(tmp_path / "brain", "brain", cases=4)
    out = _prepare(raw, tmp_path, {"target_spacing": "median", "crop_margin": 0})
    manifest = load_manifest(out)
    assert manifest["modalities"] == ["mr"] and manifest["target_spacing"] == [6.0, 6.0, 6.0]
    entry = manifest["cases"][0]
    assert entry["normalization"][0]["modality"] == "mr"
    image, _ = open_case(out, entry["case"])
    assert np.prod(entry["cropped_shape"]) < np.prod(entry["original"]["shape"])  # cropped
    assert abs(float(np.asarray(image)[np.asarray(image) != 0].mean())) < 0.2


def test_median_spacing():
    assert resolve_spacing("median", [[1, 1, 5], [1, 1, 7], [2, 2, 6]]) == [1.0, 1.0, 6.0]
    assert resolve_spacing([2, 2, 2], []) == [2.0, 2.0, 2.0]


def test_failure_leaves_no_output(tiny_raw, tmp_path, monkeypatch):
    import kdseg.data.preprocess as pre

    calls = {"n": 0}
    real = pre.preprocess_case

    def fail_on_third(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(*args)

    monkeypatch.setattr(pre, "preprocess_case", fail_on_third)
    with pytest.raises(RuntimeError):
        _prepare(tiny_raw, tmp_path)
    assert not (tmp_path / "pre").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pre")]


def test_overview_figure(tiny_raw, tmp_path):
    out = _prepare(tiny_raw, tmp_path)
    png = tmp_path / "fig" / "overview.png"
    plot_data_overview(out, png, max_cases=3)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg

    height = mpimg.imread(png).shape[0]
    plot_data_overview(out, png, max_cases=1)
    assert mpimg.imread(png).shape[0] < height  # one row per case


def test_overview_figure_with_the_datasets_plan(tiny_raw, tmp_path):
    """With plans.json the figure lists the plan and outlines the 3D patches on its first case
    (yellow pixels appear that the figure without the plan does not have)."""
    import json

    import matplotlib.image as mpimg

    out = _prepare(tiny_raw, tmp_path)
    entry = {"value": [8, 8, 8], "planned": [8, 8, 8], "source": "plan", "reason": "test"}
    plan = {
        "target_spacing": {**entry, "value": [6.0, 6.0, 6.0]},
        "architectures": {"unet": {"patch": entry, "batch_size": {**entry, "value": 2}}},
    }
    (tmp_path / "plans.json").write_text(json.dumps(plan))
    plain, planned = tmp_path / "plain.png", tmp_path / "planned.png"
    plot_data_overview(out, plain, max_cases=1)
    plot_data_overview(out, planned, max_cases=1, plan=tmp_path / "plans.json")

    def yellow(png):
        rgb = mpimg.imread(png)[..., :3]
        return int(((rgb[..., 0] > 0.9) & (rgb[..., 1] > 0.9) & (rgb[..., 2] < 0.2)).sum())

    assert yellow(planned) > yellow(plain) + 20


def test_original_spacing_keeps_every_case_on_its_grid(tiny_raw, tmp_path):
    """``target_spacing: original``: no case resampled (the authors' ACDC and brain images);
    the manifest records the median spacing and each case's own."""
    out = _prepare(tiny_raw, tmp_path, {"target_spacing": "original", "smoothing": "authors"})
    manifest = load_manifest(out)
    for entry in manifest["cases"]:
        assert entry["shape"] == entry["cropped_shape"]
        assert entry["spacing"] == entry["original"]["spacing"]
    assert len(manifest["target_spacing"]) == 3


def test_unknown_smoothing_is_refused(tiny_raw, tmp_path):
    with pytest.raises(KdsegError, match=r"preprocess\.smoothing: unknown value 'gauss'"):
        _prepare(tiny_raw, tmp_path, {"target_spacing": [4.0, 4.0, 4.0], "smoothing": "gauss"})
