"""A job's fixed cost in its own log: ``start-up`` (process start to the first line) and ``job
done`` (the process's whole life), to 0.01 s, as benchmarks/demo_stages.py reads them."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO

SRC = str(REPO / "src")
TICK = 0.02
"""The process start is kept in clock ticks (0.01 s) and logged to 0.01 s: a child may seem
to have begun up to that much before its parent started the clock."""


def run_python(code: str, check: bool = True) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``code`` in a fresh interpreter with this checkout's kdseg; the finished process and
    the wall seconds its parent saw."""
    start = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {SRC!r})\n{code}"],
        capture_output=True,
        text=True,
        check=check,
    )
    return res, time.perf_counter() - start


def test_process_seconds_counts_from_the_process_start():
    """At least the child's own sleep, at most what its parent waited for it."""
    res, parent_saw = run_python(
        "import time\n"
        "from kdseg.runtime.steps import process_seconds\n"
        "t = time.monotonic(); time.sleep(0.3); slept = time.monotonic() - t\n"
        "print(process_seconds(), slept)"
    )
    age, slept = map(float, res.stdout.split())
    assert slept <= age <= parent_saw + TICK, (age, slept, parent_saw)


def test_a_jobs_log_states_its_start_up_and_its_whole_life(tmp_path: Path):
    log = tmp_path / "job.log"
    _, parent_saw = run_python(
        "import time\n"
        "from kdseg.runtime.steps import run_step\n"
        "def work(seconds): time.sleep(seconds)\n"
        f"run_step({str(log)!r}, work, seconds=0.2)"
    )
    text = log.read_text()
    first = re.search(r"start-up ([\d.]+) s \(since the process began", text.splitlines()[0])
    last = re.search(r"job done ([\d.]+) s after its process began", text.splitlines()[-1])
    assert first and last, text
    start_up, whole = float(first.group(1)), float(last.group(1))
    assert 0 < start_up < start_up + 0.2 <= whole + TICK <= parent_saw + 2 * TICK, (
        start_up,
        whole,
        parent_saw,
    )


def test_a_failed_job_states_no_end(tmp_path: Path):
    """``job done`` only after success: a failure's log ends with its error."""
    log = tmp_path / "job.log"
    code = (
        "from kdseg.errors import KdsegError\n"
        "from kdseg.runtime.steps import run_step\n"
        "def fail(): raise KdsegError('x.nii.gz: not a NIfTI file')\n"
        f"run_step({str(log)!r}, fail)"
    )
    res, _ = run_python(code, check=False)
    assert res.returncode == 1
    lines = log.read_text().splitlines()
    assert "start-up" in lines[0] and lines[-1].endswith("x.nii.gz: not a NIfTI file"), lines
