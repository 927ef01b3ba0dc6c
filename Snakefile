"""kdseg: knowledge distillation for medical image segmentation (Noothout et al. 2022).

Run the default study with `snakemake --cores all`; another study with `--configfile`.
"""

# The default study, unless a study file is given with --configfile (then that file alone is
# the config: Snakemake would otherwise merge it into the default study's datasets).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# the report's front page: the study as configured, and where its results are
report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/sources.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/ensemble.smk"
include: "rules/distill.smk"
include: "rules/doubling.smk"
include: "rules/evaluate.smk"
include: "rules/statistics.smk"


rule all:
    """The whole study: data, teachers, ensembles, students, baselines, tables, figures."""
    default_target: True
    input:
        all_targets(),
