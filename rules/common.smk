"""Config validation and target helpers shared by every rule file."""

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from kdseg import config as kdcfg
from kdseg.errors import ConfigError

min_version("9.0")

try:
    validate(config, "../config/schema/config.schema.yaml")
except WorkflowError as err:
    raise WorkflowError(kdcfg.config_error_message(err)) from None
try:
    kdcfg.check_config(config)
except ConfigError as err:
    raise WorkflowError(f"invalid config: {err}") from None

STUDY = kdcfg.study_dir(config)
DATASETS = list(config["datasets"])
PHANTOM_DATASETS = [d for d in DATASETS if config["datasets"][d]["source"] == "phantom"]


wildcard_constraints:
    dataset="|".join(DATASETS),


def dataset_config(wildcards):
    """The config section of the job's dataset."""
    return config["datasets"][wildcards.dataset]


def raw_root(wildcards):
    """Folder of the job's raw dataset (nnU-Net v2 layout)."""
    return kdcfg.raw_root(config, wildcards.dataset)


def raw_inputs(wildcards):
    """Files (or the generated folder) of the job's raw dataset."""
    return kdcfg.raw_inputs(config, wildcards.dataset)


def all_targets():
    """What `rule all` asks for: extended by each stage of the study."""
    return data_targets()
