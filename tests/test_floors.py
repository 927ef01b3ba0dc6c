"""The library's floors: no import circle (imports inside functions included), each subpackage
imports only lower floors, config imports nothing of the package but its errors, reporting and
inference import no training code, reading and checking a study imports neither torch, MONAI
nor Snakemake, and the torch-free declarations of what builders accept match the builders."""

from __future__ import annotations

import ast
import functools
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """kdseg modules a file imports anywhere (top level or inside functions), with the
    packages whose ``__init__`` such an import runs (not the file's own packages)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))  # fmt: skip
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                own_package = name == candidate or name.startswith(candidate + ".")
                if candidate in modules and not own_package:
                    found.add(candidate)
    return found


@functools.cache
def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    return {name: imports_of(path, set(files)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    pkg = tmp_path / "kdseg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from kdseg.b import f\n")
    (pkg / "b.py").write_text("def f():\n    from kdseg import a\n")
    global SRC
    saved, SRC = SRC, tmp_path
    try:
        files = {module_name(p): p for p in pkg.rglob("*.py")}
        graph = {n: imports_of(p, set(files)) for n, p in files.items()}
    finally:
        SRC = saved
    assert find_cycle(graph) in (["kdseg.a", "kdseg.b", "kdseg.a"],
                                 ["kdseg.b", "kdseg.a", "kdseg.b"])  # fmt: skip


def test_the_library_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


FLOORS = [
    {"kdseg", "errors"},
    {"config", "runtime"},
    {"data"},
    {"nets"},
    {"models", "evaluation"},
    {"ensemble", "inference"},
    {"train", "statistics"},
    {"distill", "report"},
]
"""The package's floors, from the bottom: each subpackage imports only those of lower floors
(and its own modules); docs/design.md draws the same."""

TRAINING = ("kdseg.train", "kdseg.distill.trainers")
BELOW_TRAINING = ["kdseg.runtime", "kdseg.models", "kdseg.evaluation", "kdseg.ensemble",
                  "kdseg.inference", "kdseg.distill.soft_labels", "kdseg.statistics",
                  "kdseg.report"]  # fmt: skip


def floor_of(module: str) -> int:
    package = module.split(".")[1] if "." in module else module
    return next(i for i, floor in enumerate(FLOORS) if package in floor)


def test_every_subpackage_has_a_floor_and_no_other_module_sits_at_the_root():
    graph = import_graph()
    for module in graph:
        floor_of(module)  # StopIteration: a package missing from FLOORS
    loose = {m for m in graph if m.count(".") == 1 and not (SRC / "kdseg" / m[6:]).is_dir()}
    assert loose == {"kdseg.errors"}


def test_no_import_runs_to_a_higher_floor_or_across_one():
    wrong = [f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
             if a.split(".")[:2] != b.split(".")[:2] and floor_of(b) >= floor_of(a)]  # fmt: skip
    assert not wrong, wrong


@pytest.mark.parametrize("module", BELOW_TRAINING)
def test_inference_ensembles_soft_labels_and_reporting_import_no_training_code(module):
    graph = import_graph()
    above = {m for start in graph if start == module or start.startswith(module + ".")
             for m in reaches(graph, start) if m.startswith(TRAINING)}  # fmt: skip
    assert not above, f"{module} imports training code: {sorted(above)}"


def test_config_imports_nothing_of_the_package_but_errors():
    graph = import_graph()
    reached = {m for start in graph if start.startswith("kdseg.config")
               for m in reaches(graph, start)}  # fmt: skip
    assert {m for m in reached if not m.startswith("kdseg.config")} <= {"kdseg.errors"}


@pytest.mark.parametrize("study", ["config/config.yaml", "config/paper.yaml",
                                   "config/kd-methods.yaml"])  # fmt: skip
def test_reading_and_validating_a_study_imports_no_torch_monai_or_snakemake(study):
    code = (
        "import json, sys\n"
        "import kdseg.config as c\n"
        f"config = c.read_study_file({str(REPO / study)!r})\n"
        "from kdseg.data.study_data import validate_study\n"
        "validate_study(config)\n"
        "for ds in config['datasets']:\n"
        "    c.paper_comparisons(c.dataset_view(config, ds))\n"
        "    c.compared_students(c.dataset_view(config, ds))\n"
        "print(json.dumps(sorted(m for m in ('torch', 'monai', 'snakemake')"
        " if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True)  # fmt: skip
    assert json.loads(out.stdout.splitlines()[-1]) == []


def _keywords(builder) -> set[str]:
    """Keyword arguments a builder takes, without those a ``functools.partial`` fixes."""
    fixed = set(builder.keywords) if isinstance(builder, functools.partial) else set()
    target = builder.func if isinstance(builder, functools.partial) else builder
    params = inspect.signature(target).parameters
    return set(params) - {"self", "in_channels", "out_channels", "params"} - fixed


def test_declared_network_arguments_are_the_constructors():
    from kdseg.config.specs import NETWORKS
    from kdseg.nets.registry import ARCHITECTURES

    assert set(NETWORKS) == set(ARCHITECTURES)
    for name, builder in ARCHITECTURES.items():
        fixed = set(builder.keywords) if isinstance(builder, functools.partial) else set()
        assert set(NETWORKS[name][1]) == _keywords(builder) - fixed, name


def test_declared_optimizer_and_schedule_arguments_are_torchs():
    import torch

    from kdseg.config.specs import OPTIMIZERS, SCHEDULES
    from kdseg.train.optim import make_schedule

    classes = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    assert set(OPTIMIZERS) == set(classes)
    for name, cls in classes.items():
        assert set(OPTIMIZERS[name]) == _keywords(cls), name
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    for name, (required, optional) in SCHEDULES.items():
        section = {"name": name, **{k: 2 for k in (*required, *optional)}}
        make_schedule(optimizer, section, 10)  # every declared key is one the builder reads


def test_monai_network_names_are_read_without_importing_monai():
    code = (
        "import sys\nfrom kdseg.config.specs import monai_network_names\n"
        "names = monai_network_names()\n"
        "print('SegResNet' in names, 'UNet' in names, 'monai' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.split() == ["True", "True", "False"]
