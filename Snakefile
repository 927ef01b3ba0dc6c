"""kdseg: knowledge distillation for medical image segmentation (Noothout et al. 2022).

Run the default study with `snakemake --cores all`; another study with `--configfile`.
"""


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"


rule all:
    input:
        all_targets(),
    default_target: True
