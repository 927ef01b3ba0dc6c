# Two entry points: `make demo` runs the default study, `make test` runs the tests.
# Both create .venv when missing and install the pinned environment in ONE pip resolver run.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-kdseg
CORES ?= all
SNAKEMAKE_ARGS ?=
REPORT ?= results/demo/report.html
# test processes: the CLI tests spend much of their time waiting (job start-up, SLURM polling)
TEST_WORKERS ?= 2

.PHONY: setup demo test lint dryrun clean-venv

setup: $(STAMP)

$(STAMP): envs/requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -r envs/requirements.txt -e .
	touch $(STAMP)

demo: setup
	$(VENV)/bin/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)
	$(VENV)/bin/snakemake --cores 1 $(SNAKEMAKE_ARGS) --report $(REPORT)

test: setup
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

dryrun: setup
	$(VENV)/bin/snakemake --dry-run --cores 1

lint: setup
	$(VENV)/bin/ruff check src tests workflow benchmarks
	$(VENV)/bin/ruff format --check src tests workflow benchmarks
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(VENV)/bin/snakemake --lint --cores 1

clean-venv:
	rm -rf $(VENV)
