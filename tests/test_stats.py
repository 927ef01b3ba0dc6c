import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kdseg.statistics.wilcoxon import compare_models, holm, paired_test, rank_biserial, smallest_p


def test_paired_test_matches_scipy_and_reports_effect():
    rng = np.random.default_rng(0)
    a = rng.normal(0.8, 0.05, 20)
    b = a - rng.normal(0.03, 0.02, 20)
    row = paired_test(a, b)
    assert row["p"] == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert row["median_difference"] == pytest.approx(np.median(a - b))
    assert 0.5 < row["effect_size"] <= 1.0 and row["note"] == ""


def test_too_few_cases_gives_no_p_value():
    row = paired_test([0.9, 0.8, 0.7, 0.6], [0.5, 0.4, 0.3, 0.2])
    assert np.isnan(row["p"]) and row["note"].startswith("too few cases (n=4")
    assert smallest_p(4) == 0.125 and smallest_p(6) == pytest.approx(0.03125)
    assert paired_test([1, 2], [1, 2])["note"] == "identical"


def test_rank_biserial_extremes():
    assert rank_biserial(np.array([1.0, 2.0, 3.0])) == 1.0
    assert rank_biserial(np.array([-1.0, -2.0])) == -1.0
    assert rank_biserial(np.array([1.0, -1.0])) == 0.0


def test_holm_against_hand_computation_and_nan():
    adjusted = holm([0.01, 0.04, np.nan, 0.03])
    # sorted 0.01, 0.03, 0.04 -> 0.03, 0.06, 0.06 (monotone), NaN untouched
    np.testing.assert_allclose(adjusted[[0, 3, 1]], [0.03, 0.06, 0.06])
    assert np.isnan(adjusted[2])


def test_compare_models_per_structure_and_mean():
    rng = np.random.default_rng(1)
    rows = []
    for case in range(12):
        for structure in ("heart", "aorta"):
            base = rng.uniform(0.6, 0.8)
            rows.append({"model": "ens", "case": case, "structure": structure, "dice": base + 0.05})
            rows.append({"model": "one", "case": case, "structure": structure, "dice": base})
    table = compare_models(pd.DataFrame(rows), [("ensemble vs member", "ens", "one")])
    assert list(table["structure"]) == ["aorta", "heart", "mean"]
    assert (table["median_difference"].round(6) == 0.05).all()
    assert table["significant"].all() and (table["p_holm"] >= table["p"]).all()
    with pytest.raises(ValueError, match="no metrics for model 'nope'"):
        compare_models(pd.DataFrame(rows), [("x", "ens", "nope")])


def test_holm_families_mean_and_structures_are_separate():
    rng = np.random.default_rng(3)
    rows = []
    for case in range(8):
        for structure in ("heart", "aorta", "trachea"):
            base = rng.uniform(0.5, 0.7)
            for model, shift in (("ens", 0.1), ("one", 0.0), ("two", rng.normal(0, 0.05))):
                rows.append({"model": model, "case": case, "structure": structure,
                             "dice": base + shift})  # fmt: skip
    pairs = [("e vs one", "ens", "one"), ("e vs two", "ens", "two")]
    table = compare_models(pd.DataFrame(rows), pairs)
    mean = table["structure"] == "mean"
    np.testing.assert_allclose(table.loc[mean, "p_holm"], holm(table.loc[mean, "p"]))
    np.testing.assert_allclose(table.loc[~mean, "p_holm"], holm(table.loc[~mean, "p"]))
    # 8 cases all better: exact two-sided p = 2/256; 2 tests in the primary family -> x2
    assert table.loc[mean & (table["model_b"] == "one"), "p_holm"].item() == pytest.approx(4 / 256)
    # in families of their own, neither test is corrected for the other
    own = compare_models(pd.DataFrame(rows), [(*pairs[0], "paper"), (*pairs[1], "methods")])
    one = own["structure"].eq("mean") & own["model_b"].eq("one")
    assert own.loc[one, "p_holm"].item() == pytest.approx(2 / 256)
    assert set(own["family"]) == {"paper", "methods"}


def test_statistics_and_study_table_files(tmp_path):
    import json

    from kdseg.report.study_table import write_study_table
    from kdseg.statistics.findings import write_statistics

    rng = np.random.default_rng(2)
    models = ["teachers/a/seed1", "ensembles/e"]
    metrics, preds = [], []
    for k, model in enumerate(models):
        rows = []
        for case in range(10):
            for structure in ("heart", "aorta"):
                dice = 0.7 + 0.1 * k + rng.normal(0, 0.01)
                rows.append({"model": model, "case": f"c{case}", "structure": structure,
                             "dice": dice, "hd95": 5 - k, "assd": 1.0 - 0.1 * k})  # fmt: skip
        path = tmp_path / f"m{k}.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        metrics.append(path)
        pred = tmp_path / f"pred{k}"
        pred.mkdir()
        (pred / "inference.json").write_text(
            json.dumps({"parameters": 1000 * (k + 1), "mean_seconds_per_case": 0.5})
        )
        preds.append(pred)
    stats_csv = tmp_path / "stats.csv"
    result = write_statistics(metrics, [["ensemble e vs member", models[1], models[0]]], stats_csv)
    assert set(result["metric"]) == {"dice", "hd95", "assd"}
    table = write_study_table(models, metrics, preds, stats_csv, "D", tmp_path / "t.csv",
                              tmp_path / "t.md", tmp_path / "t.tex")  # fmt: skip
    assert list(table["marks"]) == ["*", ""]  # the member differs from its ensemble
    assert table.loc[1, "dice_mean_mean"] == pytest.approx(0.8, abs=0.01)
    md = (tmp_path / "t.md").read_text()
    assert "| teachers/a/seed1 |" in md and "0.70" in md and "*" in md
    assert r"$\pm$" in (tmp_path / "t.tex").read_text()


def test_reliability_of_perfectly_calibrated_and_overconfident_maps():
    from kdseg.report.figures.study import reliability

    rng = np.random.default_rng(3)
    conf = rng.uniform(0.5, 1.0, 200_000)
    labels = (rng.uniform(size=conf.size) > conf).astype(int)  # class 0 right with prob conf
    probs = np.stack([conf, 1 - conf])
    *_, ece = reliability([probs], [labels])
    assert ece < 0.01
    sharp = np.stack([np.full(conf.size, 0.99), np.full(conf.size, 0.01)])
    *_, ece_sharp = reliability([sharp], [labels])
    assert ece_sharp == pytest.approx(0.99 - (labels == 0).mean(), abs=1e-6)


def test_per_patient_wilcoxon_pairs_the_means_of_each_patients_frames():
    """A tiny cardiac study: ED and ES of 8 patients. Per patient, the test pairs the patients'
    mean Dice (n = 8), as a hand computation with scipy does; per case it would pair 16."""
    from scipy import stats as scistats

    rng = np.random.default_rng(5)
    rows, units = [], {}
    for p in range(8):
        for phase in ("ED", "ES"):
            case = f"patient{p:03d}_{phase}"
            units[case] = f"patient{p:03d}"
            for model, shift in (("a", 0.02), ("b", 0.0)):
                for structure in ("lv", "rv"):
                    rows.append({"model": model, "case": case, "structure": structure,
                                 "dice": 0.8 + shift + rng.normal(0, 0.02)})  # fmt: skip
    metrics = pd.DataFrame(rows)
    pairs = [("student vs baseline", "a", "b")]
    by_patient = compare_models(metrics, pairs, units=units, unit="patient")
    mean = by_patient[by_patient["structure"] == "mean"].iloc[0]
    assert mean["unit"] == "patient" and mean["n"] == 8
    per_case = metrics.groupby(["model", "case"])["dice"].mean().unstack("model")
    per_case["patient"] = per_case.index.map(units)
    per_patient = per_case.groupby("patient")[["a", "b"]].mean()
    expected = scistats.wilcoxon(per_patient["a"], per_patient["b"]).pvalue
    assert mean["p"] == pytest.approx(expected)
    by_case = compare_models(metrics, pairs)
    assert by_case[by_case["structure"] == "mean"].iloc[0][["unit", "n"]].tolist() == ["case", 16]
    with pytest.raises(ValueError, match="no unit"):
        compare_models(metrics, pairs, units={"patient000_ED": "p0"}, unit="patient")


def test_describe_unit_states_n_and_its_unit():
    from kdseg.statistics.wilcoxon import describe_unit

    table = pd.DataFrame({"unit": ["patient", "patient"], "n": [6, 6]})
    assert describe_unit(table) == (
        "one pair per patient (the mean over its test cases), n = 6 patients"
    )
    assert describe_unit(pd.DataFrame({"unit": ["case"], "n": [12]})).endswith("n = 12 cases")
