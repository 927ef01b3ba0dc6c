#!/usr/bin/env bash
# Snakemake runs this once in the new conda environment (--software-deployment-method conda):
# installs kdseg from the workflow that created the environment (its folder is exported by
# rules/common.smk as KDSEG_WORKFLOW_DIR), editable, so jobs import the workflow's own library.
set -euo pipefail
python -m pip install --no-deps --no-build-isolation -e "${KDSEG_WORKFLOW_DIR:?set by rules/common.smk}"
