"""The curve rule: a run is settled when its last quarter gains < 1 mean Dice point."""

import pytest

from kdseg.evaluation.curve_rule import (
    SETTLED_GAIN,
    is_settled,
    last_quarter_gain,
    read_history,
    reference_iteration,
)


def _history(points, total=400, every=100):
    rows = []
    for it in range(1, total + 1):
        row = {"iteration": it, "loss": 1.0}
        if it % every == 0:
            row["validation_dice"] = points[it // every - 1]
        rows.append(row)
    return rows


def test_a_curve_still_rising_is_not_settled():
    history = _history([0.2, 0.4, 0.55, 0.60])  # +5 points over the last quarter
    assert last_quarter_gain(history) == pytest.approx(0.05)
    assert not is_settled(history)


def test_a_flat_or_falling_curve_is_settled():
    assert is_settled(_history([0.5, 0.7, 0.80, 0.805]))
    assert is_settled(_history([0.5, 0.7, 0.80, 0.78]))


def test_the_threshold_is_one_point_and_strict():
    assert SETTLED_GAIN == 0.01
    assert not is_settled(_history([0.5, 0.7, 0.75, 0.76]))  # exactly +1 point
    assert is_settled(_history([0.5, 0.7, 0.75, 0.7599]))


def test_the_reference_is_the_last_validation_at_or_before_three_quarters():
    # 8 validations of a 400-iteration run: the reference is iteration 300, not 250
    history = _history([0.1, 0.2, 0.3, 0.4, 0.5, 0.70, 0.72, 0.705], every=50)
    assert last_quarter_gain(history) == pytest.approx(0.005)


def test_runs_that_cannot_be_judged_are_not_settled():
    assert last_quarter_gain([]) is None
    no_validation = [{"iteration": i, "loss": 1.0} for i in range(1, 101)]
    assert last_quarter_gain(no_validation) is None and not is_settled(no_validation)
    only_at_the_end = _history([0.9], total=400, every=400)  # nothing at 3/4
    assert last_quarter_gain(only_at_the_end) is None
    not_at_the_end = _history([0.1, 0.2, 0.3], total=350, every=100)  # last check at 300
    assert last_quarter_gain(not_at_the_end) is None


def test_a_written_history_is_read_back(tmp_path):
    path = tmp_path / "training.csv"
    path.write_text(
        "iteration,loss,lr,validation_dice\n1,1.0,0.1,\n2,0.9,0.1,0.5\n3,0.8,0.1,\n4,0.7,0.1,0.6\n"
    )
    history = read_history(path)
    assert last_quarter_gain(history) == pytest.approx(0.1)


@pytest.mark.parametrize(("total", "every"), [(120, 20), (20, 6), (8, 3), (16, 4)])
def test_training_always_validates_at_the_reference_point(tmp_path, total, every):
    """120 iterations validated every 20 would compare the end with iteration 80 (the last
    third); the loop adds a validation at 90, so the rule judges exactly the last quarter."""
    from test_resume import RandomBatches, step_loss, tiny_net

    from kdseg.train.loop import TrainSettings, train

    settings = TrainSettings(iterations=total, batch_size=1, validate_every=every, log_every=total,
                             loader_workers=0, amp=False)  # fmt: skip
    result = train(tiny_net(), RandomBatches(), step_loss, settings, seed=1,
                   checkpoint=tmp_path / "ckpt.pt", validate=lambda net: {"validation_dice": 0.5},
                   name="tiny")  # fmt: skip
    validated = [int(r["iteration"]) for r in result.history if "validation_dice" in r]
    assert reference_iteration(total) == (3 * total) // 4 in validated
    assert validated == sorted({*range(every, total + 1, every), (3 * total) // 4, total})
