"""Which trained networks behind a model of the results are not settled by the curve rule.

A comparison counts only between networks trained to a settled validation curve
(:mod:`kdseg.evaluation.curve_rule`) that, where the study runs the budget-doubling check
(:mod:`kdseg.config.doubling`), also gained less than the rule's threshold when trained with
twice the iterations. The results tables and the findings read the dataset's table
of training curves (``tables/training_<dataset>.csv``, :mod:`kdseg.report.training_table`) and name,
for each model, the networks behind it that did not settle: the model itself, or an ensemble's
members. A model whose networks the table does not list (nothing trained in the study) is not
judged and names none. Torch-free.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from kdseg.config.folds import pooled_model
from kdseg.errors import KdsegError
from kdseg.evaluation.curve_rule import SETTLED_GAIN

SETTLED_MARK = "§"
"""Mark of a results row with a network that did not settle (an ensemble: one of its members)."""

NOT_SETTLED = (
    f"its mean validation Dice gained {100 * SETTLED_GAIN:g} Dice point or more over the last "
    "quarter of training, or when trained with twice the iterations (the doubling check, where "
    "the study runs it; tables/training_<dataset>.md)"
)
"""What a network that did not settle did, for the notes of the results tables."""


def read_settled(training_csv: str | Path) -> dict[str, bool]:
    """{model id: settled} from a training table CSV (columns ``model`` and ``settled``, and
    ``passes_doubling`` where the doubling check ran: a network that failed it is not
    settled; a cross-validated dataset's ``fold<k>/<model>`` rows also give ``<model>``,
    settled when every fold's network is)."""
    path = Path(training_csv)
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"model", "settled"} - set(reader.fieldnames or ())
        if missing:
            raise KdsegError(f"{path}: not a training table (no column {sorted(missing)[0]!r})")
        settled: dict[str, bool] = {}
        for row in reader:
            value = _true(row["settled"]) and not _false(row.get("passes_doubling"))
            settled[row["model"]] = value
            if (pooled := pooled_model(row["model"])) != row["model"]:
                # a cross-validated model stands for its folds' networks: settled if all are
                settled[pooled] = settled.get(pooled, True) and value
        return settled


def _true(cell: str | None) -> bool:
    return (cell or "").strip().lower() == "true"


def _false(cell: str | None) -> bool:
    return (cell or "").strip().lower() == "false"


def _status(network: str, settled: Mapping[str, bool]) -> bool | None:
    """The network's entry, or its nearest listed parent's (an online pair lists its two
    networks once, under the pair); None when the table does not list it."""
    parts = network.split("/")
    for end in range(len(parts), 0, -1):
        key = "/".join(parts[:end])
        if key in settled:
            return settled[key]
    return None


def unsettled_networks(
    model: str,
    settled: Mapping[str, bool],
    members: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """The networks behind ``model`` that did not settle: the model itself, or for an
    ensemble (a key of ``members``) each member that did not."""
    networks = (members or {}).get(model, [model])
    return [n for n in networks if _status(n, settled) is False]


def unsettled_in_comparison(
    model_a: str,
    model_b: str,
    settled: Mapping[str, bool],
    members: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """The networks behind either model of a comparison that did not settle (each once)."""
    both = unsettled_networks(model_a, settled, members) + unsettled_networks(
        model_b, settled, members
    )
    return list(dict.fromkeys(both))
