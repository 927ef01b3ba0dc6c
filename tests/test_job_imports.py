"""Jobs import only what they need: a job that handles data, metrics, tables or figures never
imports torch or MONAI (their import is most of a small job's start-up)."""

import ast
import subprocess
import sys

import pytest
from conftest import REPO

SCRIPTS = REPO / "workflow" / "scripts"
# jobs whose work needs a network: they may import torch
NETWORK_JOBS = {
    "predict.py", "soft_labels.py", "train_online.py",
    "train_student.py", "train_teacher.py",
}  # fmt: skip
LIGHT_JOBS = sorted(
    p.name
    for p in SCRIPTS.glob("*.py")
    if not p.name.startswith("_") and p.name not in NETWORK_JOBS
)


def kdseg_imports(script: str) -> list[str]:
    """The kdseg modules a job script imports."""
    tree = ast.parse((SCRIPTS / script).read_text())
    return [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
            and n.module and n.module.startswith("kdseg")]  # fmt: skip


def test_every_job_script_is_classified():
    assert set(LIGHT_JOBS) >= {"evaluate.py", "statistics.py", "study_table.py",
                               "training_table.py", "teacher_table.py"}  # fmt: skip
    assert all((SCRIPTS / s).exists() for s in NETWORK_JOBS)


@pytest.mark.parametrize("script", LIGHT_JOBS)
def test_light_jobs_do_not_import_torch_or_monai(script):
    modules = kdseg_imports(script)
    assert modules, script
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(REPO / 'src')!r})\n"
        + "".join(f"import {m}\n" for m in modules)
        + "heavy = sorted(m for m in ('torch', 'monai') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "", f"{script} imports {res.stdout.strip()} via {modules}"


# the jobs' start-up (issue 32): what each job never needs, though a module it imports may
@pytest.mark.parametrize(
    ("script", "unneeded"),
    [
        ("evaluate.py", ("torch", "monai", "pandas", "matplotlib")),
        ("predict.py", ("monai", "pandas", "matplotlib")),
    ],
)
def test_evaluate_and_predict_jobs_import_only_what_their_work_needs(script, unneeded):
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(REPO / 'src')!r})\n"
        + "".join(f"import {m}\n" for m in kdseg_imports(script))
        + f"print(','.join(sorted(m for m in {unneeded!r} if m in sys.modules)))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "", f"{script} imports {res.stdout.strip()}"
