# Two entry points: `make demo` runs the default study, `make test` runs the tests.
# Both create .venv when missing and install the pinned environment in ONE pip resolver run.
# `make help` lists the targets (a target's `## ` comment is its line there); plain `make`
# is `make setup`.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-kdseg
CORES ?= all
SNAKEMAKE_ARGS ?=
REPORT ?= results/demo/report.html
# test processes: the CLI tests spend much of their time waiting (job start-up, SLURM polling)
TEST_WORKERS ?= 2

.PHONY: setup demo test lint dryrun rules help clean-venv

setup: $(STAMP) ## create .venv and install the pinned environment (the default goal)

$(STAMP): envs/requirements.txt envs/requirements-dev.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -r envs/requirements-dev.txt -e .
	touch $(STAMP)

demo: setup ## run the default study (CORES=all, SNAKEMAKE_ARGS=...), then its HTML report
	$(VENV)/bin/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)
	$(VENV)/bin/snakemake --cores 1 $(SNAKEMAKE_ARGS) --report $(REPORT)

test: setup ## run the tests (TEST_WORKERS=2 processes, PYTEST_ARGS=...)
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

dryrun: setup ## show the jobs the default study would run, without running them
	$(VENV)/bin/snakemake --dry-run --cores 1

lint: setup ## ruff, snakefmt and snakemake --lint
	$(VENV)/bin/ruff check src tests workflow benchmarks
	$(VENV)/bin/ruff format --check src tests workflow benchmarks
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(VENV)/bin/snakemake --lint --cores 1

rules: setup ## list the workflow's rules (with their docstrings in parentheses)
	$(VENV)/bin/snakemake --list-rules

help: ## this list
	@echo "Targets (make TARGET; variables as VAR=value):"
	@awk -F ':.*## ' '/^[a-z][a-z-]*:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Workflow: .venv/bin/snakemake --list-rules (rules, docstrings in parentheses),"
	@echo "  --list-target-rules (rules without wildcards), --dry-run TARGET (what would run);"
	@echo "  on SLURM: KDSEG_SLURM_* variables, see profiles/slurm/config.yaml."

clean-venv: ## remove .venv
	rm -rf $(VENV)
