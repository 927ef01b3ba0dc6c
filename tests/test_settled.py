"""Which networks behind a results row did not settle (kdseg.evaluation.settled),
read from a training table as the training_table rule writes it."""

import pytest

from kdseg.errors import KdsegError
from kdseg.evaluation.settled import read_settled, unsettled_in_comparison, unsettled_networks
from kdseg.report.training_table import write_training_table


def _history(path, gain):
    """A 100-iteration history whose last quarter gains ``gain`` mean validation Dice."""
    rows = [(25, 0.5), (50, 0.6), (75, 0.7), (100, 0.7 + gain)]
    path.write_text("iteration,loss,validation_dice\n" + "".join(f"{i},1.0,{v}\n" for i, v in rows))
    return path


@pytest.fixture
def table(tmp_path):
    models = {"teachers/a/seed1": 0.0, "teachers/b/seed1": 0.05,
              "students/online/o/unet/seed1": 0.03, "baselines/unet-ce/seed1": 0.005}  # fmt: skip
    histories = [_history(tmp_path / f"h{k}.csv", g) for k, g in enumerate(models.values())]
    out = tmp_path / "training.csv"
    write_training_table(list(models), histories, "D", out, tmp_path / "t.md")
    return out


def test_read_settled_from_the_training_table(table):
    assert read_settled(table) == {"teachers/a/seed1": True, "teachers/b/seed1": False,
                                   "students/online/o/unet/seed1": False,
                                   "baselines/unet-ce/seed1": True}  # fmt: skip


def test_a_model_an_ensemble_a_pair_member_and_an_unlisted_model(table):
    settled = read_settled(table)
    members = {"ensembles/e": ["teachers/a/seed1", "teachers/b/seed1"]}
    assert unsettled_networks("teachers/a/seed1", settled, members) == []
    assert unsettled_networks("teachers/b/seed1", settled, members) == ["teachers/b/seed1"]
    assert unsettled_networks("ensembles/e", settled, members) == ["teachers/b/seed1"]
    # an online pair's networks are listed once, under the pair
    student = "students/online/o/unet/seed1/student"
    assert unsettled_networks(student, settled) == [student]
    assert unsettled_networks("teachers/never-trained/seed1", settled) == []
    assert unsettled_in_comparison("ensembles/e", "teachers/b/seed1", settled, members) == [
        "teachers/b/seed1"
    ]
    assert unsettled_in_comparison("baselines/unet-ce/seed1", "teachers/a/seed1", settled) == []


def test_a_file_that_is_not_a_training_table_is_named(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("model,dice\nteachers/a/seed1,0.5\n")
    with pytest.raises(KdsegError, match=r"metrics\.csv: not a training table .*settled"):
        read_settled(path)


def _doubled(path, final):
    """A 200-iteration history (the doubled run) ending at ``final`` mean validation Dice."""
    rows = [(50, 0.5), (100, 0.6), (150, final - 0.001), (200, final)]
    path.write_text("iteration,loss,validation_dice\n" + "".join(f"{i},1.0,{v}\n" for i, v in rows))
    return path


def test_the_doubling_check_beside_the_curve_rule(tmp_path):
    # a: settled, and doubling gains 0.005 (passes); b: settled, doubling gains 0.03 (fails);
    # c: not checked
    models = ["teachers/a/seed1", "teachers/b/seed1", "teachers/c/seed1"]
    histories = [_history(tmp_path / f"h{k}.csv", 0.0) for k in range(3)]
    doubled = {
        "teachers/a/seed1": _doubled(tmp_path / "da.csv", 0.705),
        "teachers/b/seed1": _doubled(tmp_path / "db.csv", 0.73),
    }
    out, md = tmp_path / "training.csv", tmp_path / "training.md"
    table = write_training_table(models, histories, "D", out, md, doubled=doubled).set_index(
        "model"
    )
    assert table.loc["teachers/a/seed1", "doubling_gain"] == pytest.approx(0.005)
    assert table.loc["teachers/b/seed1", "doubling_gain"] == pytest.approx(0.03)
    assert table.loc["teachers/a/seed1", "doubled_iterations"] == 200
    assert table.loc["teachers/a/seed1", "doubled_last_quarter_gain"] == pytest.approx(0.001)
    assert list(table["passes_doubling"].iloc[:2]) == [True, False]
    assert table["settled"].all()  # the curve rule alone passes all three
    # a network that failed the doubling check is not settled for the results' comparisons
    assert read_settled(out) == {"teachers/a/seed1": True, "teachers/b/seed1": False,
                                 "teachers/c/seed1": True}  # fmt: skip
    text = md.read_text()
    assert "doubling check: 2 networks trained again with twice the iterations, 1 gained" in text
    assert "1 of 3 settled and passed the doubling check" in text
    assert "| teachers/c/seed1 |" in text and "n/a" in text


def test_a_table_without_the_doubling_check_has_no_doubling_columns(table):
    import pandas as pd

    assert not {"doubling_gain", "passes_doubling"} & set(pd.read_csv(table).columns)
