"""Plans from a fingerprint: planned values against hand computation; explicit values win."""

from __future__ import annotations

import copy
import json

import pytest

from kdseg import config as kdcfg
from kdseg.config.geometry import NetworkGeometry
from kdseg.config.plan import PLAN, STUDY_FILE, apply_plan, plan_dataset
from kdseg.config.plan_geometry import (
    fit_patch,
    median_shape,
    orientations,
    resampled_shapes,
    target_spacing,
)
from kdseg.report.figures.overview import plan_summary
from kdseg.report.plan_table import write_plan

UNET = NetworkGeometry(dims=3, receptive_field=None, size_divisor=8, valid_margin=0)
RESNET = NetworkGeometry(dims=3, receptive_field=None, size_divisor=4, valid_margin=0)
DILATED = NetworkGeometry(dims=2, receptive_field=35, size_divisor=1, valid_margin=17)


def fingerprint(spacings, shapes, p10=None) -> dict:
    """A fingerprint with the keys the plan reads (per-case spacings and cropped shapes)."""
    n = len(spacings)
    median = [sorted(s[a] for s in spacings)[(n - 1) // 2] for a in range(3)]
    return {
        "cases": n,
        "spacings": spacings,
        "shapes_after_crop": shapes,
        "median_spacing": median,
        "median_shape_after_crop": median_shape(shapes),
        "spacing_percentiles": {"10": p10 or median, "90": median},
    }


def study(**changes) -> tuple[dict, dict]:
    """(validated config, the config as written) of a study with one 2D and two 3D networks."""
    written = {
        "datasets": {"Own": {"source": "phantom"}},
        "architectures": {
            "dilated": {
                "network": "dilated2d",
                "kwargs": {
                    "layout": "authors",
                    "features": 16,
                    "dilations": [1, 1, 2, 4, 8, 1],
                    "head": [32, 64],
                },
            },
            "unet": {
                "network": "unet3d",
                "kwargs": {"features": [8, 16, 32, 64], "norm": "instance"},
            },
            "bnunet": {"network": "unet3d", "kwargs": {"features": [8, 16, 32, 64]}},
        },
        "losses": {"ce": {"name": "ce"}},
        "ensembles": {"e": {"architectures": ["unet"], "losses": ["ce"], "seeds": [1]}},
    }
    written = kdcfg.deep_merge(written, changes)
    config = copy.deepcopy(written)
    kdcfg.validate_config(config)
    return config, written


ISO = fingerprint([[3.0, 3.0, 3.0]] * 5, [[60, 64, 50]] * 5)
CARDIAC = fingerprint([[1.8, 1.8, 8.0]] * 5, [[56, 60, 12]] * 5)


def test_target_spacing_is_the_median_for_isotropic_data():
    spacings = [[1.0, 1.0, 1.2], [0.9, 0.9, 1.0], [1.1, 1.1, 1.1]]
    value, reason = target_spacing(fingerprint(spacings, [[50, 50, 50]] * 3), 3)
    assert value == [1.0, 1.0, 1.1]
    assert "median" in reason


def test_target_spacing_keeps_thick_slices_by_nnunets_anisotropy_rule():
    # 3 mm > 3 x 0.8 mm and 30 x 3 < 96 voxels: the slice axis takes its 10th percentile
    spacings = [[0.8, 0.8, 3.0]] * 4 + [[0.8, 0.8, 2.5]]
    fp = fingerprint(spacings, [[96, 96, 30]] * 5, p10=[0.8, 0.8, 2.7])
    value, reason = target_spacing(fp, 3)
    assert value == [0.8, 0.8, 2.7]
    assert "anisotropic" in reason
    # not few enough slices (32 x 3 = 96, not < 96): the median
    fp = fingerprint(spacings, [[96, 96, 32]] * 5, p10=[0.8, 0.8, 2.7])
    assert target_spacing(fp, 3)[0] == [0.8, 0.8, 3.0]


def test_target_spacing_never_makes_the_thick_axis_finer_than_the_others():
    fp = fingerprint([[1.0, 1.0, 4.0]] * 3, [[90, 90, 20]] * 3, p10=[1.0, 1.0, 0.5])
    assert target_spacing(fp, 3)[0] == [1.0, 1.0, pytest.approx(1.00001)]


def test_resampled_shapes_and_median_follow_each_cases_own_spacing():
    fp = fingerprint([[1.0, 1.0, 2.0], [2.0, 2.0, 2.0]], [[40, 40, 10], [30, 30, 10]])
    assert resampled_shapes(fp, [2.0, 2.0, 2.0]) == [[20, 20, 10], [30, 30, 10]]
    assert median_shape([[20, 20, 10], [30, 30, 10], [25, 40, 9]]) == [25, 30, 10]


@pytest.mark.parametrize(
    ("spacing", "image", "voxels", "geometry", "expected"),
    [
        ([3.0, 3.0, 3.0], [60, 64, 50], 13824, UNET, [24, 24, 24]),  # the demo's cube
        ([1.8, 1.8, 8.0], [56, 60, 12], 13824, UNET, [40, 40, 8]),  # same mm per axis
        ([1.8, 1.8, 8.0], [56, 60, 12], 13824, RESNET, [40, 40, 8]),
        ([3.0, 3.0], [60, 64], 3249, DILATED, [57, 57]),  # 23 output + 2 x 17 margin
        # the image is 20 voxels along x: x covered, the budget spread over y and z
        # (20 b^2 = 13824: b = 26.3 -> 28, 20 x 28 x 28 too many: y shrinks to 24)
        ([1.0, 1.0, 1.0], [20, 64, 64], 13824, RESNET, [20, 24, 28]),
        # an image smaller than the patch everywhere: the image, rounded up to the divisor
        ([1.0, 1.0, 1.0], [10, 12, 9], 13824, UNET, [16, 16, 16]),
    ],
)
def test_fit_patch_against_hand_computation(spacing, image, voxels, geometry, expected):
    assert fit_patch(spacing, image, voxels, geometry) == expected


def test_orientations_leave_out_slice_planes_of_elongated_pixels():
    assert orientations([3.0, 3.0, 3.0], 3)[0] == [0, 1, 2]
    assert orientations([1.8, 1.8, 8.0], 3)[0] == [2]  # 1.8 x 8 mm pixels: 4.4:1
    assert orientations([0.8, 0.8, 3.0], 3)[0] == [2]  # 3.75:1
    assert orientations([0.8, 0.8, 2.0], 3)[0] == [0, 1, 2]  # 2.5:1
    # no plane qualifies: the least elongated one
    assert orientations([1.0, 4.0, 16.0], 3)[0] == [2]


def test_plan_of_phantom_like_data_gives_the_default_studys_sizes():
    config, written = study()
    plan = plan_dataset(ISO, config, written, "Own")
    arch = plan["architectures"]
    assert plan["target_spacing"]["value"] == [3.0, 3.0, 3.0]
    assert arch["unet"]["patch"]["value"] == [24, 24, 24]
    assert arch["unet"]["batch_size"]["value"] == 2
    assert arch["unet"]["inference_patch"]["value"] == [24, 24, 24]  # instance norm
    assert arch["unet"]["inference_batch_size"]["value"] == 4
    assert arch["dilated"]["patch"]["value"] == [57, 57]
    assert arch["dilated"]["orientations"]["value"] == [0, 1, 2]
    assert arch["dilated"]["inference_batch_size"]["value"] == 55296 // (60 * 64)
    plan = plan_dataset(CARDIAC, config, written, "Own")
    arch = plan["architectures"]
    assert plan["target_spacing"]["value"] == [1.8, 1.8, 8.0]
    assert arch["unet"]["patch"]["value"] == [40, 40, 8]
    assert arch["dilated"]["orientations"]["value"] == [2]
    assert all(e["source"] == PLAN for a in arch.values() for k, e in a.items() if k != "geometry")


def test_a_network_without_instance_norm_infers_on_larger_windows():
    config, written = study()
    plan = plan_dataset(ISO, config, written, "Own")
    window = plan["architectures"]["bnunet"]["inference_patch"]["value"]
    # the whole median image (60 x 64 x 50, rounded up to 8) would be 64 x 64 x 56 = 229,376
    # voxels; within 55,296 at equal mm per axis: a cube of 38.1 -> 40, then 40^3 is too many
    # and the first of the equally long axes shrinks by 8
    assert window == [32, 40, 40]
    assert plan["architectures"]["bnunet"]["inference_batch_size"]["value"] == 1


def test_values_the_study_file_sets_win_and_are_reported_as_such():
    config, written = study(
        architectures={"unet": {"patch": [16, 16, 16]}},
        datasets={
            "Own": {
                "preprocess": {"target_spacing": [2.0, 2.0, 2.0]},
                "architectures": {"dilated": {"orientations": [2]}},
            }
        },
    )
    plan = plan_dataset(ISO, config, written, "Own")
    unet = plan["architectures"]["unet"]
    assert unet["patch"] == {**unet["patch"], "value": [16, 16, 16], "source": STUDY_FILE}
    # what the plan would have chosen at the study's spacing (2 mm: median image 90 x 96 x 75)
    assert unet["patch"]["planned"] == [24, 24, 24]
    # the batch is planned for the patch the study file chose: 27648 / 4096 = 6
    assert unet["batch_size"]["value"] == 6
    assert plan["target_spacing"]["source"] == STUDY_FILE
    assert plan["median_shape"] == [90, 96, 75]
    dilated = plan["architectures"]["dilated"]["orientations"]
    assert (dilated["value"], dilated["source"], dilated["planned"]) == ([2], STUDY_FILE, [0, 1, 2])


def test_an_explicit_batch_size_sizes_the_patch_for_that_batch():
    config, written = study(training={"batch_size": 4})
    plan = plan_dataset(ISO, config, written, "Own")
    unet = plan["architectures"]["unet"]
    assert unet["batch_size"]["source"] == STUDY_FILE
    assert unet["batch_size"]["value"] == 4
    assert unet["patch"]["value"] == [16, 16, 16]  # 27648 / 4 = 6912 voxels: 19 -> 16


def test_the_batch_is_capped_by_the_datasets_size_but_not_below_the_minimum():
    config, written = study(plan={"voxels_per_batch": {"3d": 10**7}})
    small = fingerprint([[1.0, 1.0, 1.0]] * 2, [[40, 40, 40]] * 2)
    unet = plan_dataset(small, config, written, "Own")["architectures"]["unet"]
    assert unet["patch"]["value"] == [40, 40, 40]  # the whole image
    assert unet["batch_size"]["value"] == 2  # 5% of 2 x 40^3 is less than one patch


def test_apply_plan_makes_the_planned_values_the_datasets_settings():
    config, written = study(architectures={"unet": {"patch": [16, 16, 16]}})
    plan = plan_dataset(CARDIAC, config, written, "Own")
    planned = apply_plan(config, plan)
    assert kdcfg.trained_architecture(planned, "Own", "unet")["patch"] == [16, 16, 16]
    assert kdcfg.trained_architecture(planned, "Own", "bnunet")["patch"] == [40, 40, 8]
    assert kdcfg.trained_architecture(planned, "Own", "dilated")["orientations"] == [2]
    assert kdcfg.training_settings(planned, "Own", "bnunet")["batch_size"] == 2
    assert kdcfg.inference_settings(planned, "Own", "teachers/bnunet-ce/seed1")["batch_size"] >= 1
    assert planned["datasets"]["Own"]["preprocess"]["target_spacing"] == [1.8, 1.8, 8.0]
    assert "patch" not in config["architectures"]["bnunet"]  # the config itself is untouched


def test_a_changed_2d_budget_changes_only_the_2d_networks_plan():
    config, written = study()
    before = plan_dataset(ISO, config, written, "Own")["architectures"]
    config, written = study(plan={"voxels_per_batch": {"2d": 2 * 41 * 41}})
    after = plan_dataset(ISO, config, written, "Own")["architectures"]
    assert after["unet"] == before["unet"] and after["bnunet"] == before["bnunet"]
    assert after["dilated"]["patch"]["value"] == [41, 41]


def test_the_plan_files_list_every_value_with_its_source(tmp_path):
    config, written = study(architectures={"unet": {"patch": [16, 16, 16]}})
    plan = plan_dataset(ISO, config, written, "Own")
    out = tmp_path / "plans.json"
    write_plan(plan, out, tmp_path / "plan.md", tmp_path / "plan.html")
    saved = json.loads(out.read_text())
    assert saved["architectures"]["unet"]["patch"]["source"] == STUDY_FILE
    assert "versions" in saved["provenance"]
    table = (tmp_path / "plan.md").read_text()
    assert "| unet.patch | 16 x 16 x 16 | study file | 24 x 24 x 24 |" in table
    assert "| dilated.orientations | 0, 1, 2 | plan |" in table
    assert "receptive field 35" in table
    assert "<table>" in (tmp_path / "plan.html").read_text()
    lines = plan_summary(saved)
    assert lines[0] == "target spacing 3 x 3 x 3 mm (plan)"
    assert "unet: patch 16 x 16 x 16 (study file), batch 6 (plan)" in lines


def test_tools_outside_the_workflow_see_the_planned_settings(tmp_path):
    config, written = study()
    plan = plan_dataset(CARDIAC, config, written, "Own")
    (tmp_path / "Own").mkdir()
    (tmp_path / "Own" / "plans.json").write_text(json.dumps(plan))
    planned = kdcfg.apply_study_plans(config, tmp_path)
    assert kdcfg.trained_architecture(planned, "Own", "unet")["patch"] == [40, 40, 8]
    assert kdcfg.apply_study_plans(config, tmp_path / "elsewhere") == config  # nothing planned


def test_original_spacing_plans_on_each_cases_own_grid():
    """``target_spacing: original`` (no case resampled): the median image is that of the cropped
    shapes, the patches are planned at the median spacing."""
    mixed = fingerprint([[1.0, 1.0, 5.0], [2.0, 2.0, 5.0], [1.5, 1.5, 10.0]], [[80, 80, 10]] * 3)
    config, written = study(datasets={"Own": {"preprocess": {"target_spacing": "original"}}})
    plan = plan_dataset(mixed, config, written, "Own")
    assert plan["target_spacing"]["value"] == "original"
    assert plan["median_shape"] == [80, 80, 10]
    assert apply_plan(config, plan)["datasets"]["Own"]["preprocess"]["target_spacing"] == "original"
