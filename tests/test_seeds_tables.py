"""Tables, statistics and findings over training seeds (kdseg.statistics.seeds) on small
synthetic metric frames with known answers; and a study with one seed per model gives the
files the landed code gave (tests/one_seed_tables.json, written by running this file as a
script with the code before seeds: ``PYTHONPATH=<that checkout>/src python
tests/test_seeds_tables.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kdseg.report.student_table import write_student_table
from kdseg.report.study_table import write_study_table
from kdseg.statistics.findings import write_statistics
from kdseg.statistics.wilcoxon import holm

PINNED = Path(__file__).with_name("one_seed_tables.json")
STRUCTURES = ("heart", "aorta")
PATIENTS = 10
STUDENT, BASELINE, ENSEMBLE = "students/kd/uniform/unet", "baselines/unet-ce", "ensembles/uniform"
MEMBERS = [f"teachers/unet-ce/seed{s}" for s in (1, 2, 3)]  # the ensemble's, at 3 seeds always
# per seed, the student's shift over the baseline; the ensemble is 0.01 above the baseline
SHIFTS = {1: 0.03, 2: 0.03, 3: -0.02}


def _dice(model: str, patient: int, structure: str, case: int) -> float:
    """Known Dice: a patient's base, the model's shift, a small deterministic wobble."""
    base = 0.6 + 0.03 * patient + (0.05 if structure == "heart" else 0.0) + 0.001 * case
    kind, _, seed = model.rpartition("/seed")
    seed = int(seed) if kind else 0
    wobble = 0.0005 * ((patient * 7 + seed * 3) % 5)
    if model == ENSEMBLE:
        return base + 0.01 + wobble
    if model in MEMBERS:
        return base - 0.004 * seed + wobble
    return base + (SHIFTS[seed] if kind == STUDENT else 0.0) + wobble


def _study(tmp_path: Path, seeds: tuple[int, ...]):
    """Metric and prediction files of the ensemble (members at 3 seeds), students and
    baselines at ``seeds``: two cases (ED/ES) per patient; the splits' case -> patient map;
    the comparisons."""
    models = [*MEMBERS, ENSEMBLE, *(f"{STUDENT}/seed{s}" for s in seeds),
              *(f"{BASELINE}/seed{s}" for s in seeds)]  # fmt: skip
    metrics, preds, patient_of = [], [], {}
    for k, model in enumerate(models):
        rows = []
        for p in range(PATIENTS):
            for c, phase in enumerate(("ED", "ES")):
                case = f"p{p:02d}_{phase}"
                patient_of[case] = f"p{p:02d}"
                for s in STRUCTURES:
                    dice = _dice(model, p, s, c)
                    rows.append({"model": model, "case": case, "structure": s, "dice": dice,
                                 "iou": dice - 0.1, "hd95": 10 * (1 - dice), "assd": 1 - dice,
                                 "accuracy": 0.99, "kappa": dice - 0.05})  # fmt: skip
        metrics.append(tmp_path / f"m{k}.csv")
        pd.DataFrame(rows).to_csv(metrics[-1], index=False)
        preds.append(tmp_path / f"pred{k}")
        preds[-1].mkdir()
        (preds[-1] / "inference.json").write_text(
            json.dumps({"parameters": 1000 * (k + 1), "mean_seconds_per_case": 0.1 * (k + 1)})
        )
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"patient_of": patient_of}))
    comparisons = [["ensemble uniform vs member", ENSEMBLE, m, "paper"] for m in MEMBERS]
    for s in seeds:
        comparisons.append(["student vs ensemble uniform", f"{STUDENT}/seed{s}", ENSEMBLE, "paper"])
        comparisons.append(["student vs baseline", f"{STUDENT}/seed{s}", f"{BASELINE}/seed{s}",
                            "paper"])  # fmt: skip
    return models, metrics, preds, splits, comparisons


def _write_all(tmp_path: Path, seeds: tuple[int, ...]) -> dict[str, str]:
    """Every file of the statistics, results table and students table of the study."""
    models, metrics, preds, splits, comparisons = _study(tmp_path, seeds)
    out = tmp_path / "out"
    out.mkdir()
    write_statistics(metrics, comparisons, out / "statistics.csv", splits=splits, unit="patient",
                     dataset="D", out_findings_html=out / "findings.html")  # fmt: skip
    write_study_table(models, metrics, preds, out / "statistics.csv", "D", out / "study.csv",
                      out / "study.md", out / "study.tex", out / "study.html")  # fmt: skip
    students = [m for m in models if m.startswith("students/")]
    baselines = [m for m in models if m.startswith("baselines/")]
    compared = [models.index(m) for m in students + baselines]
    write_student_table(students + baselines, dict.fromkeys(students, "kd"),
                        dict(zip(students, baselines, strict=True)),
                        [metrics[i] for i in compared], [preds[i] for i in compared],
                        out / "statistics.csv", "D", out / "students.csv", out / "students.md",
                        out / "students.html")  # fmt: skip
    return {p.name: p.read_text() for p in sorted(out.iterdir())}


def test_summaries_are_the_mean_worst_and_spread_of_the_seeds():
    from kdseg.statistics.seeds import with_summaries

    t = "students/kd/e/unet"
    rows = [{"model": f"{t}/seed1", "dice": 0.8, "hd95": 4.0, "n": 7},
            {"model": f"{t}/seed2", "dice": 0.6, "hd95": 6.0, "n": 7},
            {"model": "baselines/unet-ce/seed1", "dice": 0.5, "hd95": 1.0, "n": 3},
            {"model": f"{t}/seed3", "dice": 0.7, "hd95": 5.0, "n": 7}]  # fmt: skip
    out = with_summaries(rows, {"dice": 1, "hd95": -1}, keep=["n"])
    assert [r["model"] for r in out] == [r["model"] for r in rows] + [
        f"{t}/mean over seeds", f"{t}/worst seed", f"{t}/spread over seeds"]  # fmt: skip
    mean, worst, spread = out[4:]
    assert mean["dice"] == pytest.approx(0.7) and mean["hd95"] == pytest.approx(5.0)
    assert worst["dice"] == pytest.approx(0.6) and worst["hd95"] == pytest.approx(6.0)
    assert spread["dice"] == pytest.approx(0.2) and spread["hd95"] == pytest.approx(2.0)
    assert mean["n"] == 7
    one = [rows[0], rows[2]]
    assert with_summaries(one, {"dice": 1}) == one
    # teachers at several seeds (a uniform ensemble's) alone: no study over seeds
    teachers = [{**r, "model": r["model"].replace(t, "teachers/unet-ce")} for r in rows]
    assert with_summaries(teachers, {"dice": 1}) == teachers


def test_averaged_pairs_follow_their_seed_by_seed_tests():
    from kdseg.statistics.seeds import averaged_pairs

    st, b = "students/kd/e/unet", "baselines/unet-ce"
    pairs = [("student vs baseline", f"{st}/seed1", f"{b}/seed1", "paper"),
             ("student vs baseline", f"{st}/seed2", f"{b}/seed2", "paper"),
             ("ensemble e vs member", "ensembles/e", "teachers/u/seed1", "paper")]  # fmt: skip
    models = [f"{st}/seed1", f"{st}/seed2", f"{b}/seed1", f"{b}/seed2", f"{b}/seed3"]
    out, means = averaged_pairs(pairs, models)
    assert out[2] == ("student vs baseline", f"{st}/mean over seeds", f"{b}/mean over seeds",
                      "paper")  # fmt: skip
    assert out[:2] == pairs[:2] and out[3] == pairs[2]
    assert means == {f"{st}/mean over seeds": models[:2], f"{b}/mean over seeds": models[2:]}
    assert averaged_pairs(pairs[:1] + pairs[2:], models[:1]) == (pairs[:1] + pairs[2:], {})


def test_results_and_students_tables_show_mean_worst_and_spread(tmp_path):
    _write_all(tmp_path, (1, 2, 3))
    study = pd.read_csv(tmp_path / "out" / "study.csv").set_index("model")
    seeds = study.loc[[f"{STUDENT}/seed{s}" for s in (1, 2, 3)]]
    for column in ("dice_heart_mean", "dice_aorta_mean", "dice_mean_mean"):
        values = seeds[column]
        assert study.loc[f"{STUDENT}/mean over seeds", column] == pytest.approx(values.mean())
        assert study.loc[f"{STUDENT}/worst seed", column] == pytest.approx(values.min())
        spread = study.loc[f"{STUDENT}/spread over seeds", column]
        assert spread == pytest.approx(values.max() - values.min())
        assert spread == pytest.approx(0.05, abs=0.002)  # shifts +0.03 and -0.02
    hd95 = seeds["hd95_mean_mean"]
    assert study.loc[f"{STUDENT}/worst seed", "hd95_mean_mean"] == pytest.approx(hd95.max())
    assert f"{BASELINE}/spread over seeds" in study.index
    assert study.loc["teachers/unet-ce/spread over seeds", "dice_mean_mean"] == pytest.approx(0.008)
    assert not any(m.startswith(ENSEMBLE + "/") for m in study.index)
    assert study.loc[f"{STUDENT}/mean over seeds", "marks"] == "†‡"  # both averaged tests
    md = (tmp_path / "out" / "study.md").read_text()
    assert f"| {STUDENT}/worst seed |" in md and "'worst seed'" in md
    students = pd.read_csv(tmp_path / "out" / "students.csv").set_index("model")
    mean = students.loc[f"{STUDENT}/mean over seeds"]
    assert mean["baseline"] == f"{BASELINE}/mean over seeds"
    assert mean["dice_vs_baseline"] == pytest.approx(np.mean(list(SHIFTS.values())), abs=1e-3)
    worst = students.loc[f"{STUDENT}/worst seed", "dice_vs_baseline"]
    assert worst == pytest.approx(-0.02, abs=1e-3)
    statistics = pd.read_csv(tmp_path / "out" / "statistics.csv")
    test = statistics[(statistics["seeds"] == "mean") & (statistics["metric"] == "dice")
                      & (statistics["structure"] == "mean")
                      & (statistics["comparison"] == "student vs baseline")]  # fmt: skip
    assert mean["p_holm_vs_baseline"] == pytest.approx(test["p_holm"].item())


def test_averaged_test_is_scipys_wilcoxon_on_the_per_patient_means_over_seeds(tmp_path):
    _, metrics, _, splits, comparisons = _study(tmp_path, (1, 2, 3))
    result = write_statistics(metrics, comparisons, tmp_path / "s.csv", splits=splits,
                              unit="patient")  # fmt: skip
    dice = result[(result["metric"] == "dice") & (result["structure"] == "mean")]
    assert list(dice["seeds"]) == ["1", "2", "3", "1", "1", "2", "2", "3", "mean", "3", "mean"]
    table = pd.concat([pd.read_csv(p) for p in metrics])
    table["patient"] = table["case"].str[:3]
    per_patient = table.groupby(["model", "patient"])["dice"].mean().unstack("model")
    student = per_patient[[f"{STUDENT}/seed{s}" for s in (1, 2, 3)]].mean(axis=1)
    baseline = per_patient[[f"{BASELINE}/seed{s}" for s in (1, 2, 3)]].mean(axis=1)
    test = dice[(dice["seeds"] == "mean") & (dice["comparison"] == "student vs baseline")]
    assert test["model_a"].item() == f"{STUDENT}/mean over seeds"
    assert test["n"].item() == PATIENTS
    assert test["p"].item() == pytest.approx(stats.wilcoxon(student, baseline).pvalue)
    assert test["median_difference"].item() == pytest.approx(np.median(student - baseline))
    # the averaged tests share the Holm family of the seed-by-seed ones: 8 primary tests
    np.testing.assert_allclose(dice["p_holm"], holm(dice["p"]))
    per_structure = result[(result["metric"] == "dice") & (result["structure"] != "mean")]
    np.testing.assert_allclose(per_structure["p_holm"], holm(per_structure["p"]))


def test_findings_b_and_c_on_the_mean_over_seeds_and_the_worst_seed(tmp_path):
    from kdseg.statistics.seed_findings import seed_findings

    files = _write_all(tmp_path, (1, 2, 3))
    statistics = pd.read_csv(tmp_path / "out" / "statistics.csv")
    rows = {(r[0][:3], r[3]): r for r in seed_findings(statistics)}
    assert list(rows) == [("(b)", "mean"), ("(b)", "worst: 3"), ("(c)", "mean"),
                          ("(c)", "worst: 3")]  # fmt: skip
    # student - ensemble: +0.02, +0.02, -0.03 per seed; mean +0.003
    assert rows[("(b)", "mean")][7] == "yes"
    assert rows[("(b)", "worst: 3")][7] == "no: student lower"
    assert float(rows[("(b)", "worst: 3")][5]) == pytest.approx(-0.03, abs=0.003)
    # student - baseline: +0.03, +0.03, -0.02; every patient alike: Holm-significant
    assert rows[("(c)", "mean")][7] == "yes"
    assert rows[("(c)", "worst: 3")][7] == "no: baseline higher"
    assert rows[("(c)", "mean")][2] == BASELINE
    assert "Findings (b) and (c) over training seeds" in files["findings.html"]


def test_one_seed_gives_the_files_of_the_code_before_seeds(tmp_path):
    files = _write_all(tmp_path, (1,))
    assert "seeds" not in pd.read_csv(tmp_path / "out" / "statistics.csv")
    assert files == json.loads(PINNED.read_text())


if __name__ == "__main__":  # pin the files of the code on sys.path (see the docstring)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        PINNED.write_text(json.dumps(_write_all(Path(tmp), (1,)), indent=1, sort_keys=True) + "\n")
    sys.exit(0)
