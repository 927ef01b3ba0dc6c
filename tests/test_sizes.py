"""The package stays readable: no module of src/kdseg over 400 lines, no function over 80."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "kdseg"
MAX_LINES, MAX_FUNCTION = 400, 80
MODULES = sorted(PACKAGE.rglob("*.py"))


def long_functions(source: str, limit: int) -> list[tuple[str, int]]:
    """(name, lines) of every function or method of ``source`` longer than ``limit`` lines
    (decorators and docstring included)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = node.end_lineno - first + 1
            if length > limit:
                found.append((node.name, length))
    return found


def test_the_function_measure_finds_a_long_function():
    body = "\n".join(f"        x = {i}" for i in range(4))
    source = f"class A:\n    def f(self):\n{body}\n\ndef g():\n    pass\n"
    assert long_functions(source, 3) == [("f", 5)]
    assert long_functions(source, 5) == []


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_module_and_function_sizes(module):
    name = module.relative_to(PACKAGE).as_posix()
    source = module.read_text()
    lines = len(source.splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines (at most {MAX_LINES})"
    assert long_functions(source, MAX_FUNCTION) == [], name


def test_every_subpackage_is_measured():
    measured = {m.relative_to(PACKAGE).parts[0] for m in MODULES if m.parent != PACKAGE}
    assert {"config", "data", "train"} <= measured
