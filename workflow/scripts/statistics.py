"""Snakemake entry point: Wilcoxon/Holm statistics of the paper's comparisons and their
findings (HTML, for the report)."""

from kdseg.runtime.steps import run_job
from kdseg.statistics.findings import write_statistics

run_job(
    snakemake,
    write_statistics,
    metrics=list(snakemake.input.metrics),
    comparisons=snakemake.params.comparisons,
    out_csv=snakemake.output.csv,
    splits=snakemake.input.splits,
    unit=snakemake.params.unit,
    dataset=snakemake.wildcards.dataset,
    out_findings_html=snakemake.output.findings,
    training_table=snakemake.input.get("training") or None,
    members=dict(snakemake.params.members),
)
