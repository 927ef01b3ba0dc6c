"""What the report shows: HTML tables and findings, and the study figures' legends, colours
and degenerate cases (drawn into captured matplotlib figures, not only written)."""

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from matplotlib.colors import to_rgba
from matplotlib.ticker import NullFormatter

from kdseg.report.figures import study
from kdseg.report.study_table import write_study_table
from kdseg.report.teacher_table import write_teacher_table
from kdseg.report.training_table import write_training_table
from kdseg.runtime.html_table import write_html_tables
from kdseg.statistics.findings import findings, write_statistics

matplotlib.use("Agg")

STRUCTURES = ("heart", "aorta")


@pytest.fixture
def captured(monkeypatch):
    """The figures the plot functions would save, kept open instead."""
    figures = []
    monkeypatch.setattr(study, "_save", lambda fig, path: figures.append(fig))
    yield figures
    for fig in figures:
        matplotlib.pyplot.close(fig)


def _metrics(models, dice_of):
    rows = [{"model": m, "case": f"c{c}", "structure": s, "dice": dice_of(m, c, s),
             "iou": 0.5, "hd95": 3.0, "assd": 1.0, "accuracy": 0.99, "kappa": 0.8,
             "empty_rule": ""}
            for m in models for c in range(8) for s in STRUCTURES]  # fmt: skip
    return pd.DataFrame(rows)


def _study_files(tmp_path, models, dice_of):
    table = _metrics(models, dice_of)
    metrics, preds = [], []
    for k, model in enumerate(models):
        path = tmp_path / f"m{k}.csv"
        table[table["model"] == model].to_csv(path, index=False)
        pred = tmp_path / f"pred{k}"
        pred.mkdir()
        (pred / "inference.json").write_text(
            json.dumps({"parameters": 1000 * (k + 1), "mean_seconds_per_case": 0.1 * (k + 1)})
        )
        metrics.append(path)
        preds.append(pred)
    return metrics, preds


def test_html_table_escapes_cells_and_keeps_markdown_bold(tmp_path):
    out = tmp_path / "t.html"
    write_html_tables(out, "T <1>", [("", ["model", "settled"], [["a<b>", "**no**"]])], ["n & m"])
    page = out.read_text()
    assert "<td>a&lt;b&gt;</td>" in page and "<td><strong>no</strong></td>" in page
    assert "T &lt;1&gt;" in page and "n &amp; m" in page and page.count("<tr>") == 2


def test_study_table_and_findings_as_html(tmp_path):
    models = ["teachers/a/seed1", "teachers/b/seed1", "ensembles/e"]
    rng = np.random.default_rng(0)
    # the ensemble beats member a in every case, by a varying margin; b is a's equal
    dice = {m: 0.6 + 0.2 * (m == "ensembles/e") for m in models}
    metrics, preds = _study_files(tmp_path, models,
                                  lambda m, c, s: dice[m] + rng.uniform(0, 0.05))  # fmt: skip
    stats_csv, findings_html = tmp_path / "stats.csv", tmp_path / "findings.html"
    comparisons = [["ensemble e vs member", "ensembles/e", m] for m in models[:2]]
    # member b's validation curve still gains 5 points in its last quarter: not settled
    training = tmp_path / "training.csv"
    training.write_text(
        "dataset,model,iterations,last_quarter_gain,settled\n"
        "D,teachers/a/seed1,100,0.0,True\nD,teachers/b/seed1,100,0.05,False\n"
    )
    members = {"ensembles/e": models[:2]}
    stats = write_statistics(metrics, comparisons, stats_csv, dataset="D",
                             out_findings_html=findings_html, training_table=training,
                             members=members)  # fmt: skip
    rows = findings(stats)
    assert [r[6] for r in rows] == [f"ensembles/e higher than {m}" for m in models[:2]]
    assert all(r[7] == "aorta +, heart +" or r[7] == "heart +, aorta +" for r in rows)
    # both comparisons involve b: as a member of the ensemble, and as the member compared
    assert [r[8] for r in rows] == ["teachers/b/seed1", "teachers/b/seed1"]
    page = findings_html.read_text()
    assert page.count("<tr>") == 3 and "ensembles/e higher than teachers/b/seed1" in page
    assert "networks not settled" in page
    out_html = tmp_path / "study.html"
    table = write_study_table(models, metrics, preds, stats_csv, "D", tmp_path / "s.csv",
                              tmp_path / "s.md", tmp_path / "s.tex", out_html,
                              training_table=training, members=members)  # fmt: skip
    assert list(table["unsettled"]) == ["", "teachers/b/seed1", "teachers/b/seed1"]
    page = out_html.read_text()
    assert page.count("<tr>") == 1 + len(models)  # header + one row per model
    for model in ("teachers/a/seed1", "teachers/b/seed1§", "ensembles/e§"):
        assert f"<td>{model}</td>" in page
    assert "Dice mean" in page and "Holm-corrected" in page and "did not settle" in page
    # the Markdown shows the same cells
    md = (tmp_path / "s.md").read_text()
    assert md.count("| teachers/") == 2 and "±" in md and "| teachers/b/seed1§ |" in md
    # without a training table nothing is judged
    assert findings(write_statistics(metrics, comparisons, stats_csv))[0][8] == "not checked"


def test_findings_page_of_a_study_without_comparisons(tmp_path):
    metrics, _ = _study_files(tmp_path, ["teachers/a/seed1"], lambda m, c, s: 0.5)
    out = tmp_path / "findings.html"
    training = tmp_path / "training.csv"
    training.write_text("model,settled\nteachers/a/seed1,False\n")
    stats = write_statistics(metrics, [], tmp_path / "stats.csv", dataset="D",
                             out_findings_html=out, training_table=training)  # fmt: skip
    assert stats.empty and "unsettled" in stats.columns
    page = out.read_text()
    assert page.count("<tr>") == 1 and "No comparison" in page


def test_teacher_and_training_tables_as_html(tmp_path):
    models = ["teachers/a/seed1", "teachers/b/seed1"]
    metrics, preds = _study_files(tmp_path, models, lambda m, c, s: 0.7)
    out = tmp_path / "teachers.html"
    write_teacher_table(metrics, [p / "inference.json" for p in preds], "D", tmp_path / "t.csv",
                      tmp_path / "t.md", out)  # fmt: skip
    page = out.read_text()
    assert page.count("<tr>") == 3 and "<td>teachers/b/seed1</td>" in page
    histories = []
    for k, gain in enumerate((0.0, 0.2)):  # the second still gains 0.2 in its last quarter
        path = tmp_path / f"h{k}.csv"
        path.write_text("iteration,loss,validation_dice\n" + "".join(
            f"{i},1.0,{0.5 + gain * i / 100 if i >= 75 or gain == 0 else 0.5}\n"
            for i in (25, 50, 75, 100)
        ))  # fmt: skip
        histories.append(path)
    out = tmp_path / "training.html"
    write_training_table(models, histories, "D", tmp_path / "tr.csv", tmp_path / "tr.md", out)
    page = out.read_text()
    assert page.count("<tr>") == 3 and "<strong>no</strong>" in page  # the unsettled one


def test_model_styles_are_distinct_within_and_across_groups():
    models = ["ensembles/a", "ensembles/b", "students/kd/a/unet/seed1",
              "students/kd/b/unet/seed1", "baselines/unet-ce/seed1"]  # fmt: skip
    styles = study.model_styles(models)
    colours = [to_rgba(styles[m]["color"]) for m in models]
    assert len(set(colours)) == len(models)
    assert styles["ensembles/a"]["marker"] != styles["ensembles/b"]["marker"]
    baseline = styles["baselines/unet-ce/seed1"]["color"]
    assert to_rgba(baseline) == to_rgba(study.COLOURS["baselines"])


def test_calibration_plot_gives_every_model_its_colour_and_legend_entry(
    tmp_path, monkeypatch, captured
):
    models = ["ensembles/diverse", "ensembles/uniform", "students/kd/diverse/unet/seed1",
              "students/kd/uniform/unet/seed1", "baselines/unet-ce/seed1"]  # fmt: skip
    rng = np.random.default_rng(1)

    def probabilities(preprocessed, folder):
        p = rng.dirichlet(np.ones(3), size=(6, 6, 4)).transpose(3, 0, 1, 2)
        return [p], [rng.integers(0, 3, size=(6, 6, 4))]

    monkeypatch.setattr(study, "_test_probabilities", probabilities)
    eces = study.plot_calibration(tmp_path, {m: tmp_path for m in models}, tmp_path / "c.png",
                                  tmp_path / "c.json")  # fmt: skip
    assert set(eces) == set(models)
    (ax,) = captured[0].axes
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    for model in models:
        assert any(t.startswith(f"{model} (ECE ") for t in texts), model
    lines = {line.get_label().split(" (ECE")[0]: line for line in ax.get_lines()}
    colours = {to_rgba(lines[m].get_color()) for m in models}
    assert len(colours) == len(models)  # both ensembles and both students told apart


def test_boxplots_show_a_model_with_dice_zero_everywhere_and_a_group_legend(captured):
    models = ["teachers/a/seed1", "ensembles/e", "students/kd/e/unet/seed1",
              "baselines/unet-ce/seed1"]  # fmt: skip
    table = _metrics(models, lambda m, c, s: 0.0 if m.startswith("students") else 0.8)
    study.plot_dice_boxplots(table, "unused.png")
    fig = captured[0]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["teachers", "ensembles", "students", "baselines"]
    for ax in fig.axes:
        assert ax.get_xlim()[0] < 0  # a box at 0 is not cut by the frame
        row = models.index("students/kd/e/unet/seed1") + 1
        points = [c.get_offsets() for c in ax.collections
                  if c.get_label() == "students/kd/e/unet/seed1"]  # fmt: skip
        assert len(points) == 1 and len(points[0]) == 8
        assert np.all(points[0][:, 0] == 0) and np.all(np.abs(points[0][:, 1] - row) < 0.3)
        # its median line is drawn at 0, across its row
        medians = [line for line in ax.get_lines() if np.allclose(line.get_xdata(), 0)
                   and np.allclose(np.mean(line.get_ydata()), row)]  # fmt: skip
        assert medians, "the zero model's median line is drawn"


def test_footprint_names_models_in_a_legend_and_labels_log_ticks_plainly(captured):
    summary = pd.DataFrame({
        "model": ["teachers/a/seed1", "teachers/b/seed1", "ensembles/e",
                  "students/kd/e/unet/seed1", "baselines/unet-ce/seed1"],
        "mean_dice": [0.6, 0.62, 0.7, 0.68, 0.66],
        "seconds_per_case": [0.16, 0.2, 0.5, 0.21, 0.22],
        "parameters": [15_000, 350_000, 1_000_000, 350_000, 350_000],
    })  # fmt: skip
    study.plot_footprint(summary, "unused.png")
    fig = captured[0]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["teachers (2)", "ensembles/e", "students/kd/e/unet/seed1",
                      "baselines/unet-ce/seed1"]  # fmt: skip
    fig.canvas.draw()
    for ax in fig.axes:
        assert not [t for t in ax.texts]  # no labels next to points
        assert isinstance(ax.xaxis.get_minor_formatter(), NullFormatter)
        shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert shown and not any("10^" in s or "times" in s for s in shown), shown
    assert study._plain_number(20_000) == "20k" and study._plain_number(0.2) == "0.2"


def test_qualitative_panel_has_a_structure_legend(tmp_path, monkeypatch, captured):
    labels = {"background": 0, "heart": 1, "aorta": 2}
    manifest = {"dataset": {"labels": labels}, "cases": [{"case": "c0", "split": "test"}]}
    label = np.zeros((8, 8, 3), dtype=np.uint8)
    label[2:5, 2:5, 1], label[5:7, 5:7, 1] = 1, 2
    monkeypatch.setattr(study, "load_manifest", lambda p: manifest)
    image = np.random.default_rng(0).random((1, 8, 8, 3))
    monkeypatch.setattr(study, "open_case", lambda p, c: (image, label))
    folder = tmp_path / "ens"
    folder.mkdir()
    probs = np.eye(3)[label].transpose(3, 0, 1, 2).astype(np.float16)
    np.save(folder / "c0_probabilities.npy", probs)
    np.save(folder / "c0_std.npy", np.zeros(label.shape, np.float16))
    case = study.plot_qualitative(tmp_path, {"ensembles/e": folder}, "ensembles/e", "q.png")
    assert case == "c0"
    legend = [t.get_text() for t in captured[0].legends[0].get_texts()]
    assert legend == ["heart", "aorta"]


@pytest.mark.parametrize("study", ["config.yaml", "paper.yaml", "kd-methods.yaml"])
def test_report_front_page_is_valid_restructuredtext(study):
    """report/workflow.rst rendered as Snakemake renders it (Jinja with trim_blocks and
    lstrip_blocks) gives reStructuredText without a warning, planned settings included."""
    import io
    from types import SimpleNamespace

    import docutils.core
    import jinja2

    from kdseg import config as kdcfg

    config = kdcfg.load_config(REPO / "config" / study)
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    page = env.from_string((REPO / "report" / "workflow.rst").read_text()).render(
        snakemake=SimpleNamespace(config=config),
        categories=[SimpleNamespace(name=n) for n in ("Plans", "Data", "Training curves")],
    )
    # Snakemake appends a link target per category to the page
    targets = "".join(f"\n.. _{n}: #{n}" for n in ("Plans", "Data", "Training curves"))
    warnings = io.StringIO()
    docutils.core.publish_doctree(
        page + "\n" + targets, settings_overrides={"warning_stream": warnings}
    )
    assert warnings.getvalue() == "", warnings.getvalue()
    if study != "kd-methods.yaml":  # which sets its patches
        assert "planned per dataset (Plans)" in page
