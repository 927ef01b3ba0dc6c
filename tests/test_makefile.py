"""The Makefile's `make help`: every user-facing target has its line; `make` stays `setup`."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def test_help_lists_every_phony_target_and_how_to_list_rules():
    res = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    makefile = (REPO / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    listed = [line.split()[0] for line in res.stdout.splitlines() if line.startswith("  ")]
    assert set(phony) <= set(listed), res.stdout
    assert "snakemake --list-rules" in res.stdout


def test_plain_make_is_still_setup():
    res = subprocess.run(["make", "-n", "-p", "-f", "Makefile"], cwd=REPO, capture_output=True,
                         text=True)  # fmt: skip
    assert re.search(r"^\.DEFAULT_GOAL := setup$", res.stdout, re.M)
