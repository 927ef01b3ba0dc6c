"""The training package stays readable: no module over 400 lines, no function over 80."""

import ast
from pathlib import Path

import pytest

TRAIN = Path(__file__).resolve().parents[1] / "src" / "kdseg" / "train"
MAX_LINES, MAX_FUNCTION = 400, 80
MODULES = sorted(TRAIN.glob("*.py"))


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


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_and_function_sizes(module):
    source = module.read_text()
    lines = len(source.splitlines())
    assert lines <= MAX_LINES, f"{module.name}: {lines} lines (at most {MAX_LINES})"
    assert long_functions(source, MAX_FUNCTION) == [], module.name
