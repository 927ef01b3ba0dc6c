"""Where every output of a study lives: each path pattern declared here once.

The rules ask a :class:`Layout` for their output, log and benchmark paths (with Snakemake
wildcards such as ``{dataset}`` left in place), the workflow for its targets, and a job for a
file it was not handed. A model's files live under its id (:mod:`kdseg.config.model_ids`):
``<study>/<dataset>/<model id>/{model.pt,training.csv,training.png,soft_labels}``, its test
predictions under ``<study>/<dataset>/predictions/<model id>`` and its metrics in
``<study>/<dataset>/metrics/<model id>.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass

DATASET = "{dataset}"
"""The dataset wildcard: the default of every ``dataset`` argument below."""


@dataclass(frozen=True)
class Layout:
    """The paths of one study folder (``<results_dir>/<study>``)."""

    study: str

    # --- a dataset's data ---------------------------------------------------------------
    def dataset(self, dataset: str = DATASET) -> str:
        """The dataset's folder."""
        return f"{self.study}/{dataset}"

    def data(self, name: str, dataset: str = DATASET) -> str:
        """A dataset-level file or folder: ``raw``, ``raw_report.json``, ``splits.json``,
        ``fingerprint.json``, ``plans.json``, ``preprocessed``."""
        return f"{self.dataset(dataset)}/{name}"

    def preprocessed(self, dataset: str = DATASET) -> str:
        return self.data("preprocessed", dataset)

    # --- a model's files ----------------------------------------------------------------
    def model(self, model: str, dataset: str = DATASET) -> str:
        """The folder of a trained model (its weights, history, curves, soft labels)."""
        return f"{self.dataset(dataset)}/{model}"

    def model_file(self, model: str, dataset: str = DATASET) -> str:
        return f"{self.model(model, dataset)}/model.pt"

    def history(self, model: str, dataset: str = DATASET) -> str:
        return f"{self.model(model, dataset)}/training.csv"

    def curves(self, model: str, dataset: str = DATASET) -> str:
        return f"{self.model(model, dataset)}/training.png"

    def soft_labels(self, model: str, dataset: str = DATASET) -> str:
        return f"{self.model(model, dataset)}/soft_labels"

    def predictions(self, model: str, dataset: str = DATASET) -> str:
        return f"{self.dataset(dataset)}/predictions/{model}"

    def metrics(self, model: str, dataset: str = DATASET) -> str:
        return f"{self.dataset(dataset)}/metrics/{model}.csv"

    def model_of(self, path: str, dataset: str) -> str:
        """The model id of a file in a model's folder (the inverse of :meth:`model`)."""
        folder = path.rsplit("/", 1)[0]
        return folder.removeprefix(self.dataset(dataset) + "/")

    # --- what a job leaves besides its outputs ------------------------------------------
    def log(self, step: str, key: str) -> str:
        """``<study>/logs/<step>/<key>.log`` (key: a dataset, or ``<dataset>/<model id>``)."""
        return f"{self.study}/logs/{step}/{key}.log"

    def benchmark(self, step: str, key: str) -> str:
        """``<study>/benchmarks/<step>/<key>.tsv``: Snakemake's time and memory of the job."""
        return f"{self.study}/benchmarks/{step}/{key}.tsv"

    # --- a dataset's summaries ----------------------------------------------------------
    def table(self, name: str, ext: str, dataset: str = DATASET) -> str:
        """``<study>/tables/<name>_<dataset>.<ext>``."""
        return f"{self.study}/tables/{name}_{dataset}.{ext}"

    def figure(self, name: str, dataset: str = DATASET, ext: str = "png") -> str:
        """``<study>/figures/<name>_<dataset>.<ext>``."""
        return f"{self.study}/figures/{name}_{dataset}.{ext}"
