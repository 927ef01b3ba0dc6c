"""Snakemake entry point: write a dataset's plan (made from its fingerprint by the workflow)."""

from kdseg.report.plan_table import write_plan
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    write_plan,
    plan=snakemake.params.plan,
    out_json=snakemake.output.plan,
    out_md=snakemake.output.markdown,
    out_html=snakemake.output.html,
)
