"""One study folder, one run at a time: a second run of the study from another working
directory, with the same absolute results_dir, is refused (issue 31, item 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from test_workflow import snakemake, tiny_config

from kdseg.errors import KdsegError
from kdseg.runtime.locks import hold_study, lock_path

HOLDER = "import sys; from kdseg.runtime.locks import hold_study; hold_study(sys.argv[1]); print('held', flush=True); sys.stdin.read()"  # noqa: E501


class Holder:
    """Another process (another run) holding the study folder until closed."""

    def __init__(self, folder: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": str(REPO / "src")},
        )
        assert self.proc.stdout.readline().strip() == "held"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def test_a_study_folder_held_by_another_process_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "results" / "study"
    holder = Holder(folder)
    try:
        with pytest.raises(KdsegError) as err:
            hold_study(folder)
    finally:
        holder.close()
    message = str(err.value)
    assert message.startswith(f"{folder}: another run of this study is using it")
    assert "\n" not in message
    assert not lock_path(f"{folder}.run").exists()  # the holder removed it on its way out
    assert hold_study(folder) and hold_study(folder)  # free again; held twice by one process


def test_a_second_run_from_another_working_directory_is_refused(tmp_path):
    """Before: run B deleted run A's outputs to re-create them (one absolute results_dir)."""
    results = tmp_path / "shared" / "results"
    config = {**tiny_config(), "results_dir": str(results)}
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    holder = Holder(results / "tiny")  # run A, busy in working directory a
    try:
        dry = snakemake(b, config, "--dry-run")
        run = snakemake(b, config)
    finally:
        holder.close()
    assert dry.returncode == 0, dry.stderr[-2000:]  # a dry run changes nothing: not refused
    assert run.returncode != 0
    assert f"{results / 'tiny'}: another run of this study is using it" in run.stderr
    assert not (results / "tiny").exists()  # no job ran, nothing written or deleted
